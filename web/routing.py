"""Only operations of the spec reach Flask, by their own path. Connexion's router and Flask's disagree on a
few exotic paths (odd Unicode in a path segment): Flask would then run a handler outside Connexion's checks."""

from __future__ import annotations

from connexion.exceptions import ProblemException
from starlette.types import ASGIApp, Receive, Scope, Send


class OnlySpecOperations:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        routing = scope.get("extensions", {}).get("connexion_routing", {})
        if scope["type"] == "http" and (routing.get("operation_id") is None or _encodes_a_slash(scope)):
            raise ProblemException(status=404, title="Not Found", detail="There is no such resource.")
        await self.app(scope, receive, send)


def _encodes_a_slash(scope: Scope) -> bool:
    """The router matches the decoded path, so `/users%2F<id>` would reach getUser: a path that a proxy
    or a log reads as one resource must not be served as another."""
    return b"%2f" in scope.get("raw_path", b"").lower()


class NoTrailingSlash:
    """A path ending in `/` names no operation. Starlette's router would answer it with a 307 to the path
    without the slash, its Location built from the Host header the client sent. The docs pages (which
    do end in `/`) are served before this point."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and scope["path"].endswith("/"):
            raise ProblemException(status=404, title="Not Found", detail="There is no such resource.")
        await self.app(scope, receive, send)
