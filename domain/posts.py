"""Posts: written by their author, changed only by the author or an administrator."""

from __future__ import annotations

from typing import Any

from sqlalchemy import bindparam, select
from sqlalchemy.orm import Session

from domain.access import Actor, require_owner_or_admin
from domain.errors import NotFound
from domain.paging import Page, PageQuery
from domain.store import flush, insert, new_id
from domain.timefmt import now, rfc3339
from domain.versions import Expected, tag_of
from storage.db import Database
from storage.driver import ReadRow
from storage.models import PostRow

NO_SUCH_POST = "There is no post with this id."
# The reads every client makes, built once (see domain.paging.PageQuery) and run on plain connections.
_POSTS = PostRow.__table__
POST_BY_ID = select(_POSTS).where(_POSTS.c.id == bindparam("post_id"))
NEWEST_POSTS = PageQuery(select(_POSTS), _POSTS.c.created_at, _POSTS.c.id, newest_first=True)
NEWEST_POSTS_BY_AUTHOR = PageQuery(
    select(_POSTS).where(_POSTS.c.author_id == bindparam("author_id")),
    _POSTS.c.created_at,
    _POSTS.c.id,
    newest_first=True,
)


def view(post: PostRow | ReadRow) -> dict[str, Any]:
    return {
        "id": post.id,
        "author_id": post.author_id,
        "title": post.title,
        "body": post.body,
        "created_at": rfc3339(post.created_at),
        "updated_at": rfc3339(post.updated_at),
    }


def _load(session: Session, post_id: str) -> PostRow:
    post = session.get(PostRow, post_id)
    if post is None:
        raise NotFound(NO_SUCH_POST)
    return post


def create(db: Database, actor: Actor, *, title: str, body: str) -> dict[str, Any]:
    moment = now()
    post = PostRow(
        id=new_id(), author_id=actor.user_id, title=title, body=body, created_at=moment, updated_at=moment, version=1
    )
    insert(db, post, conflict="The post could not be saved.", missing="The author's account no longer exists.")
    return view(post)


def get(db: Database, post_id: str) -> dict[str, Any]:
    with db.read_rows() as connection:
        post = connection.execute(POST_BY_ID, {"post_id": post_id}).first()
        if post is None:
            raise NotFound(NO_SUCH_POST)
        return view(post)


def list_page(db: Database, *, author_id: str | None, limit: int, cursor: str | None) -> Page[dict[str, Any]]:
    with db.read_rows() as connection:
        if author_id is None:
            page = NEWEST_POSTS.fetch(connection, limit=limit, cursor=cursor)
        else:
            page = NEWEST_POSTS_BY_AUTHOR.fetch(connection, limit=limit, cursor=cursor, params={"author_id": author_id})
    return Page([view(post) for post in page.items], page.next_cursor)


def change(
    db: Database, actor: Actor, post_id: str, changes: dict[str, str], expected: Expected | None
) -> dict[str, Any]:
    """Applies `changes` (a subset of title and body): PUT and PATCH both land here."""
    with db.write() as session:
        post = _load(session, post_id)
        require_owner_or_admin(actor, post.author_id, "post")
        if expected is not None:
            expected.check(tag_of(view(post)))
        changed = False
        for field in ("title", "body"):
            if field in changes and getattr(post, field) != changes[field]:
                setattr(post, field, changes[field])
                changed = True
        if changed:
            post.updated_at = now()
        flush(session, conflict="The post could not be saved.")
        return view(post)


def delete(db: Database, actor: Actor, post_id: str, expected: Expected | None) -> None:
    with db.write() as session:
        post = _load(session, post_id)
        require_owner_or_admin(actor, post.author_id, "post")
        if expected is not None:
            expected.check(tag_of(view(post)))
        session.delete(post)
        flush(session, conflict="The post could not be deleted.")
