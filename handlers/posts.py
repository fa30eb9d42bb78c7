"""Operations tagged `posts`."""

from __future__ import annotations

from typing import Any

from connexion.lifecycle import ConnexionResponse

from domain import posts
from handlers.http import Response, actor, created_at, expected, no_content, one, page, read_one, services
from web.threads import brief_read, brief_write


@brief_read
def list_posts(author_id: str | None = None, limit: int = 20, cursor: str | None = None) -> Response:
    return page(posts.list_page(services().db, author_id=author_id, limit=limit, cursor=cursor))


@brief_write
def create_post(body: dict[str, Any], token_info: dict[str, Any]) -> Response:
    post = posts.create(services().db, actor(token_info), title=body["title"], body=body["body"])
    return one(post, 201, location=created_at(post))


@brief_read
def get_post(post_id: str) -> Response | ConnexionResponse:
    return read_one(posts.get(services().db, post_id))


@brief_write
def replace_post(post_id: str, body: dict[str, Any], token_info: dict[str, Any]) -> Response:
    return one(posts.change(services().db, actor(token_info), post_id, body, expected()))


@brief_write
def update_post(post_id: str, body: dict[str, Any], token_info: dict[str, Any]) -> Response:
    return one(posts.change(services().db, actor(token_info), post_id, body, expected()))


@brief_write
def delete_post(post_id: str, token_info: dict[str, Any]) -> Response:
    posts.delete(services().db, actor(token_info), post_id, expected())
    return no_content()
