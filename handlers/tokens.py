"""Operations tagged `tokens`."""

from __future__ import annotations

from typing import Any

from domain import tokens
from handlers.http import JSON, Response, actor, created_at, no_content, page, services

DEFAULT_NAME = "token"
DEFAULT_LIFETIME_SECONDS = 3600


def create_token(token_info: dict[str, Any], body: dict[str, Any] | bytes | None = None) -> Response:
    # Without a body (it is optional) Connexion hands over the spec's default undecoded.
    request = body if isinstance(body, dict) else {}
    issued = tokens.issue(
        services().db,
        token_info["sub"],
        is_admin=token_info["is_admin"],
        name=request.get("name", DEFAULT_NAME),
        scopes=request.get("scopes"),
        expires_in=request.get("expires_in", DEFAULT_LIFETIME_SECONDS),
    )
    # The secret must not linger in shared caches.
    return issued, 201, JSON | {"Location": created_at(issued), "Cache-Control": "no-store"}


def list_tokens(token_info: dict[str, Any], limit: int = 20, cursor: str | None = None) -> Response:
    return page(tokens.list_page(services().db, actor(token_info), limit=limit, cursor=cursor))


def get_token(token_id: str, token_info: dict[str, Any]) -> Response:
    return tokens.get(services().db, actor(token_info), token_id), 200, dict(JSON)


def delete_token(token_id: str, token_info: dict[str, Any]) -> Response:
    tokens.revoke(services().db, actor(token_info), token_id)
    return no_content()
