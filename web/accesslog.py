"""One access line per request (logger `gateway.access`): method, path, operationId, status, duration,
principal and client address. Never the query string, a header or a body: no secret can reach it."""

from __future__ import annotations

import logging
import time
from collections.abc import Mapping
from typing import Any

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from web.resolver import handler_name

log = logging.getLogger("gateway.access")


def operation_ids(spec: Mapping[str, Any]) -> dict[str, str]:
    """Connexion's routing knows an operation by its handler's name; the log speaks the spec's operationId."""
    return {
        handler_name(operation): operation["operationId"]
        for path_item in spec["paths"].values()
        for method, operation in path_item.items()
        if method != "parameters"
    }


class AccessLog:
    def __init__(self, app: ASGIApp, *, spec: Mapping[str, Any]) -> None:
        self.app = app
        self.operation_ids = operation_ids(spec)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        # Routing and the security check record the operation and the authenticated user in these two
        # dicts. Connexion and our middlewares pass copies of the scope (and of its extensions) inward;
        # made here, the dicts themselves are shared by every copy.
        extensions: dict[str, Any] = dict(scope.get("extensions") or {})
        extensions.setdefault("connexion_routing", {})
        extensions.setdefault("connexion_context", {})
        scope = {**scope, "extensions": extensions}
        started = time.perf_counter()
        status = 500  # unless an answer starts: an error that escaped every handler

        async def send_and_note(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, send_and_note)
        finally:
            self._write(scope, extensions, status, (time.perf_counter() - started) * 1000)

    def _write(self, scope: Scope, extensions: Mapping[str, Any], status: int, duration_ms: float) -> None:
        routed = extensions.get("connexion_routing", {}).get("operation_id")
        operation_id = self.operation_ids.get(routed, routed) if routed else None
        principal = extensions.get("connexion_context", {}).get("user")
        client = (scope.get("client") or (None, 0))[0]
        fields = {
            "method": scope["method"],
            "path": scope["path"],
            "operation_id": operation_id,
            "status": status,
            "duration_ms": round(duration_ms, 1),
            "principal": str(principal) if principal is not None else None,
            "client": client,
        }
        log.info(
            "%s %s %s in %.1f ms (%s, principal %s, client %s)",
            fields["method"], fields["path"], status, duration_ms, operation_id or "-", fields["principal"] or "-",
            client or "-", extra=fields,
        )  # fmt: skip
