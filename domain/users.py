"""Accounts: sign-up, profiles, changes by their owner or an administrator."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from domain.access import Actor, require_owner_or_admin, sees_private_fields
from domain.errors import NotFound
from domain.paging import Page, PageQuery
from domain.passwords import Passwords
from domain.store import flush, new_id
from domain.timefmt import now, rfc3339
from domain.versions import Expected, tag_of
from storage.db import Database
from storage.driver import ReadRow
from storage.models import UserRow

EMAIL_TAKEN = "Another account already uses this email."
EDITABLE = ("name", "email", "password")
_USERS = UserRow.__table__
OLDEST_USERS = PageQuery(select(_USERS), _USERS.c.created_at, _USERS.c.id, newest_first=False)


def view(user: UserRow | ReadRow, viewer: Actor | None) -> dict[str, Any]:
    shown: dict[str, Any] = {
        "id": user.id,
        "name": user.name,
        "is_admin": user.is_admin,
        "created_at": rfc3339(user.created_at),
        "updated_at": rfc3339(user.updated_at),
    }
    if sees_private_fields(viewer, user.id):
        shown["email"] = user.email
    return shown


def email_key(email: str) -> str:
    return email.strip().lower()


def _load(session: Session, user_id: str) -> UserRow:
    user = session.get(UserRow, user_id)
    if user is None:
        raise NotFound("There is no user with this id.")
    return user


def create(
    db: Database, passwords: Passwords, *, name: str, email: str, password: str, is_admin: bool = False
) -> UserRow:
    password_hash = passwords.hash(password)
    moment = now()
    user = UserRow(
        id=new_id(),
        name=name,
        email=email,
        email_key=email_key(email),
        password_hash=password_hash,
        is_admin=is_admin,
        created_at=moment,
        updated_at=moment,
    )
    with db.write() as session:
        session.add(user)
        flush(session, conflict=EMAIL_TAKEN)
    return user


def sign_up(db: Database, passwords: Passwords, *, name: str, email: str, password: str) -> dict[str, Any]:
    user = create(db, passwords, name=name, email=email, password=password)
    # The new account's owner is the one reading this answer.
    return view(user, Actor(user.id, frozenset(), user.is_admin))


def get(db: Database, user_id: str, viewer: Actor | None) -> dict[str, Any]:
    with db.read() as session:
        return view(_load(session, user_id), viewer)


def list_page(db: Database, viewer: Actor | None, *, limit: int, cursor: str | None) -> Page[dict[str, Any]]:
    with db.read_rows() as connection:
        page = OLDEST_USERS.fetch(connection, limit=limit, cursor=cursor)
    return Page([view(user, viewer) for user in page.items], page.next_cursor)


def change(
    db: Database,
    passwords: Passwords,
    actor: Actor,
    user_id: str,
    changes: dict[str, str],
    expected: Expected | None,
) -> dict[str, Any]:
    """Applies `changes` (a subset of name, email, password): PUT and PATCH both land here."""
    password = changes.get("password")
    password_hash = passwords.hash(password) if password is not None else None
    with db.write() as session:
        user = _load(session, user_id)
        require_owner_or_admin(actor, user.id, "account")
        if expected is not None:
            expected.check(tag_of(view(user, actor)))
        changed = False
        for field in ("name", "email"):
            if field in changes and getattr(user, field) != changes[field]:
                setattr(user, field, changes[field])
                changed = True
        if "email" in changes:
            user.email_key = email_key(changes["email"])
        if password_hash is not None:
            user.password_hash = password_hash
            changed = True
        if changed:
            user.updated_at = now()
        flush(session, conflict=EMAIL_TAKEN)
        return view(user, actor)


def delete(db: Database, actor: Actor, user_id: str, expected: Expected | None) -> None:
    with db.write() as session:
        user = _load(session, user_id)
        require_owner_or_admin(actor, user.id, "account")
        if expected is not None:
            expected.check(tag_of(view(user, actor)))
        session.delete(user)
        flush(session, conflict="The account could not be deleted.")


def find_by_email(session: Session, email: str) -> UserRow | None:
    if "\x00" in email:
        return None  # no email has one (the schema forbids it), and PostgreSQL refuses to compare it
    return session.scalar(select(UserRow).where(UserRow.email_key == email_key(email)))


def make_admin(db: Database, passwords: Passwords, *, name: str, email: str, password: str) -> tuple[UserRow, bool]:
    """Creates an administrator, or promotes the existing account with this email. True if created."""
    with db.write() as session:
        existing = find_by_email(session, email)
        if existing is not None:
            existing.is_admin = True
            existing.updated_at = now()
            return existing, False
    return create(db, passwords, name=name, email=email, password=password, is_admin=True), True
