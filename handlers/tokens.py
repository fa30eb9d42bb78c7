"""Operations tagged `tokens`."""

from __future__ import annotations

from typing import Any

from domain import tokens
from domain.errors import NotAuthenticated
from handlers.http import JSON, Response, actor, created_at, no_content, page, sent_credentials, services
from web.threads import brief_read, brief_write, password_work

DEFAULT_NAME = "token"
DEFAULT_LIFETIME_SECONDS = 3600
GRANT_TOKEN_NAME = "password grant"  # noqa: S105 - the label of tokens issued through the OAuth 2.0 form
NO_CREDENTIALS = "Send your email and password with HTTP Basic, or as an OAuth 2.0 password grant."


@password_work
def create_token(token_info: dict[str, Any], body: dict[str, Any] | bytes | None = None) -> Response:
    # Without a body (it is optional) Connexion hands over the spec's default undecoded.
    request = body if isinstance(body, dict) else {}
    gateway = services()
    if "grant_type" in request:
        # The form-encoded OAuth 2.0 password grant: the credentials are in the body.
        user = tokens.authenticate_password(gateway.db, gateway.passwords, request["username"], request["password"])
        owner, is_admin = user.id, user.is_admin
        name, scopes, lifetime = GRANT_TOKEN_NAME, request.get("scope", "").split(), DEFAULT_LIFETIME_SECONDS
    elif "sub" in token_info:
        # HTTP Basic, already checked by the security function.
        owner, is_admin = token_info["sub"], token_info["is_admin"]
        name = request.get("name", DEFAULT_NAME)
        scopes, lifetime = request.get("scopes"), request.get("expires_in", DEFAULT_LIFETIME_SECONDS)
    else:
        # Wrong Basic credentials reach here too (the operation's security is optional, for the grant).
        raise NotAuthenticated(tokens.BAD_CREDENTIALS if sent_credentials() else NO_CREDENTIALS)
    issued = tokens.issue(gateway.db, owner, is_admin=is_admin, name=name, scopes=scopes, expires_in=lifetime)
    # The secret must not linger in shared caches.
    return issued, 201, JSON | {"Location": created_at(issued), "Cache-Control": "no-store"}


@brief_read
def list_tokens(token_info: dict[str, Any], limit: int = 20, cursor: str | None = None) -> Response:
    return page(tokens.list_page(services().db, actor(token_info), limit=limit, cursor=cursor))


@brief_read
def get_token(token_id: str, token_info: dict[str, Any]) -> Response:
    return tokens.get(services().db, actor(token_info), token_id), 200, dict(JSON)


@brief_write
def delete_token(token_id: str, token_info: dict[str, Any]) -> Response:
    tokens.revoke(services().db, actor(token_info), token_id)
    return no_content()
