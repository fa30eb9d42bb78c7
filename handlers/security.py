"""The security functions the spec names (x-basicInfoFunc, x-tokenInfoFunc). Connexion calls them on
its event loop, so Argon2 runs in the threads kept for it, and the token's lookup where web.threads puts
a brief read."""

from __future__ import annotations

from typing import Any

from domain import tokens
from domain.errors import NotAuthenticated
from web.services import current


async def check_password(username: str, password: str) -> dict[str, Any] | None:
    gateway = current()
    try:
        # Connexion decodes Basic credentials as Latin-1; clients send UTF-8 (RFC 7617 charset).
        username = username.encode("latin-1").decode("utf-8")
        password = password.encode("latin-1").decode("utf-8")
    except UnicodeError:
        return None
    if not username:
        # No account has an empty email. Swagger UI's "Authorize" sends `Basic :` (no OAuth client) with
        # its password grant, whose credentials are in the form: no Argon2 work for that.
        return None
    try:
        user = await gateway.hashing.run(
            tokens.authenticate_password, gateway.db, gateway.passwords, username, password
        )
    except NotAuthenticated:
        return None
    return {"sub": user.id, "is_admin": user.is_admin}


async def check_token(token: str) -> dict[str, Any] | None:
    gateway = current()
    caller = await gateway.workers.run_brief(tokens.actor_for, gateway.db, token)
    if caller is None:
        return None
    return {"sub": caller.user_id, "scopes": sorted(caller.scopes), "is_admin": caller.is_admin}
