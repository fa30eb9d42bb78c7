"""Bearer tokens: issued for a password, shown once, stored as hashes, revocable at once."""

from __future__ import annotations

import hashlib
import secrets
from datetime import timedelta
from typing import Any

from sqlalchemy import bindparam, delete, select

from domain import users
from domain.access import ADMIN_ONLY_SCOPES, DEFAULT_SCOPES, Actor
from domain.errors import Forbidden, NotAuthenticated, NotFound
from domain.paging import Page, PageQuery
from domain.passwords import Passwords
from domain.store import flush, new_id
from domain.timefmt import now, rfc3339
from storage.db import Database
from storage.driver import ReadRow
from storage.models import TokenRow, UserRow

SECRET_PREFIX = "gw_"  # noqa: S105 - a public marker that lets secret scanners spot leaked tokens
BAD_CREDENTIALS = "The email or password is wrong."
# Every authenticated request runs this query: built once, with the secret's hash bound per call.
_TOKENS, _USERS = TokenRow.__table__, UserRow.__table__
CALLER_BY_SECRET_HASH = (
    select(_TOKENS.c.scopes, _TOKENS.c.expires_at, _USERS.c.id, _USERS.c.is_admin)
    .join_from(_TOKENS, _USERS, _USERS.c.id == _TOKENS.c.user_id)
    .where(_TOKENS.c.secret_hash == bindparam("secret_hash"))
)
NEWEST_TOKENS_OF_USER = PageQuery(
    select(_TOKENS).where(_TOKENS.c.user_id == bindparam("user_id")),
    _TOKENS.c.created_at,
    _TOKENS.c.id,
    newest_first=True,
)


def hash_secret(secret: str) -> str:
    # The secret carries 256 random bits, so a fast hash is enough: no one can guess its preimage.
    return hashlib.sha256(secret.encode("utf-8", "surrogateescape")).hexdigest()


def view(token: TokenRow | ReadRow) -> dict[str, Any]:
    return {
        "id": token.id,
        "name": token.name,
        "scopes": token.scopes.split(),
        "created_at": rfc3339(token.created_at),
        "expires_at": rfc3339(token.expires_at),
    }


def authenticate_password(db: Database, passwords: Passwords, email: str, password: str) -> UserRow:
    """The account for these credentials. Unknown email and wrong password fail alike, in similar time."""
    with db.read() as session:
        user = users.find_by_email(session, email)
    if not passwords.verify(user.password_hash if user else None, password) or user is None:
        raise NotAuthenticated(BAD_CREDENTIALS)
    if passwords.needs_rehash(user.password_hash):
        upgraded = passwords.hash(password)  # before the transaction: Argon2 takes a while
        with db.write() as session:
            row = session.get(UserRow, user.id)
            if row is not None and row.password_hash == user.password_hash:
                row.password_hash = upgraded
    return user


def issue(
    db: Database, user_id: str, *, is_admin: bool, name: str, scopes: list[str] | None, expires_in: int
) -> dict[str, Any]:
    granted = list(scopes) if scopes else list(DEFAULT_SCOPES)
    refused = sorted(set(granted) & ADMIN_ONLY_SCOPES) if not is_admin else []
    if refused:
        raise Forbidden(f"Only administrators may hold a token with {', '.join(refused)}.")
    secret = SECRET_PREFIX + secrets.token_urlsafe(32)
    moment = now()
    token = TokenRow(
        id=new_id(),
        user_id=user_id,
        name=name,
        secret_hash=hash_secret(secret),
        scopes=" ".join(granted),
        created_at=moment,
        expires_at=moment + timedelta(seconds=expires_in),
    )
    with db.write() as session:
        session.add(token)
        flush(session, conflict="The token could not be saved.")
    return view(token) | {
        "access_token": secret,
        "token_type": "Bearer",
        "expires_in": expires_in,
        "scope": token.scopes,
    }


def actor_for(db: Database, secret: str) -> Actor | None:
    """The caller a bearer secret stands for, or None if it is unknown, expired or revoked."""
    if not secret.startswith(SECRET_PREFIX) or len(secret) > 128:
        return None
    with db.read_rows() as connection:
        found = connection.execute(CALLER_BY_SECRET_HASH, {"secret_hash": hash_secret(secret)}).first()
    if found is None or found.expires_at <= now():
        return None
    scopes = frozenset(found.scopes.split())
    if not found.is_admin:
        # An account no longer an administrator loses these at once, whatever its tokens were granted.
        scopes -= ADMIN_ONLY_SCOPES
    return Actor(found.id, scopes, found.is_admin)


def list_page(db: Database, actor: Actor, *, limit: int, cursor: str | None) -> Page[dict[str, Any]]:
    with db.read_rows() as connection:
        page = NEWEST_TOKENS_OF_USER.fetch(connection, limit=limit, cursor=cursor, params={"user_id": actor.user_id})
    return Page([view(token) for token in page.items], page.next_cursor)


def get(db: Database, actor: Actor, token_id: str) -> dict[str, Any]:
    with db.read() as session:
        token = session.get(TokenRow, token_id)
        # Another user's token is "not found": its existence is none of the caller's business,
        # unless the caller acts as an administrator (who may look into and revoke any token).
        if token is None or (token.user_id != actor.user_id and not actor.acts_as_admin):
            raise NotFound("You have no token with this id.")
        return view(token)


def revoke(db: Database, actor: Actor, token_id: str) -> None:
    with db.write() as session:
        revocable = delete(TokenRow).where(TokenRow.id == token_id)
        if not actor.acts_as_admin:
            revocable = revocable.where(TokenRow.user_id == actor.user_id)
        result = session.execute(revocable)
        if result.rowcount == 0:  # type: ignore[attr-defined]
            raise NotFound("You have no token with this id.")
