"""Only operations of the spec reach Flask. Connexion's router and Flask's disagree on a few exotic
paths (odd Unicode in a path segment): Flask would then run a handler outside Connexion's checks."""

from __future__ import annotations

from connexion.exceptions import ProblemException
from starlette.types import ASGIApp, Receive, Scope, Send


class OnlySpecOperations:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        routing = scope.get("extensions", {}).get("connexion_routing", {})
        if scope["type"] == "http" and routing.get("operation_id") is None:
            raise ProblemException(status=404, title="Not Found", detail="There is no such resource.")
        await self.app(scope, receive, send)
