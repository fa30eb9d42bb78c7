"""One access line per request (logger `gateway.access`): method, path, operationId, status, duration,
principal and client address. Never the query string, a header or a body: no secret can reach it."""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any

from starlette.types import Scope

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


def write(scope: Scope, operation_id: str | None, status: int, duration_ms: float, principal: Any) -> None:
    """The request's access line (web.edge writes it when the request has been answered)."""
    if not log.isEnabledFor(logging.INFO):
        return
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
