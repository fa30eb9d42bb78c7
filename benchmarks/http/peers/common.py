"""What both peers share: the limits of the spec's schemas (written out by hand, as a peer without the spec
would; the driver checks them against spec/openapi.yaml before a run), the database named by DATABASE_URL,
and the bearer-token lookup Gateway itself does (domain.tokens.actor_for: SHA-256 of the secret, looked
up in the tokens table joined with users)."""

from __future__ import annotations

import os

from domain import tokens
from domain.access import POSTS_WRITE, Actor
from storage.db import Database

API = "/api/v1"
# components.schemas.Title and Body (PostCreate), components.parameters.Limit and Cursor, schemas.Id.
TITLE_MIN_LENGTH = 1
TITLE_MAX_LENGTH = 200
TITLE_PATTERN = r"^[^\u0000-\u001f\u007f]*$"  # no control characters (spelled as in the spec)
BODY_MAX_LENGTH = 10000
BODY_PATTERN = r"^[^\u0000]*$"  # no NUL
POST_FIELDS = ("title", "body")
LIMIT_MIN = 1
LIMIT_MAX = 100
LIMIT_DEFAULT = 20
CURSOR_MAX_LENGTH = 256
CURSOR_PATTERN = r"^[A-Za-z0-9_-]+$"
ID_PATTERN = r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$"
# info.x-gateway-limits.maxRequestBodyBytes
MAX_BODY_BYTES = 65536
# What a token needs to write a post (the spec's `bearerToken: ['posts:write']` on createPost).
WRITE_SCOPE = POSTS_WRITE


def database() -> Database:
    """The database the driver prepared, named the way Gateway is told (DATABASE_URL)."""
    url = os.environ.get("DATABASE_URL")
    if not url:
        raise RuntimeError("DATABASE_URL is not set: the benchmark driver names the database to serve")
    return Database(url)


def bearer_secret(authorization: str | None) -> str | None:
    """The secret of an `Authorization: Bearer <secret>` header (scheme case-insensitive, RFC 9110)."""
    scheme, _, secret = (authorization or "").partition(" ")
    secret = secret.strip()
    return secret if scheme.lower() == "bearer" and secret else None


def caller(db: Database, secret: str) -> Actor | None:
    """The same lookup Gateway's security function makes for every bearer token."""
    return tokens.actor_for(db, secret)
