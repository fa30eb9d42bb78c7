"""Idempotency-Key on the POST operations whose spec declares it (draft-ietf-httpapi-idempotency-key-header):
the first request with a key runs and its answer is kept for 24 hours; a retry with the same key and the
same request gets that answer again (`Idempotent-Replayed: true`) instead of creating a duplicate; the
same key with a different request is refused with 422, and while the first still runs, with 409.

Keys belong to the caller (the authenticated user, else the client address) and to the operation."""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from typing import Any

from connexion.exceptions import ProblemException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from storage import idempotency
from storage.db import Database
from web import services as serving
from web.resolver import handler_name

HEADER = b"idempotency-key"
MAX_KEY_LENGTH = 255
REPLAYED_HEADERS = {"content-type", "location", "etag", "cache-control"}


def operations_with_keys(spec: Mapping[str, Any]) -> set[str]:
    return {
        handler_name(operation)
        for path_item in spec["paths"].values()
        for method, operation in path_item.items()
        if method != "parameters"
        and any(parameter.get("$ref", "").endswith("/IdempotencyKey") for parameter in operation.get("parameters", []))
    }


def _header(scope: Scope, wanted: bytes) -> bytes | None:
    headers: list[tuple[bytes, bytes]] = scope["headers"]
    return next((value for name, value in headers if name == wanted), None)


class Idempotency:
    def __init__(self, app: ASGIApp, *, spec: Mapping[str, Any], db: Database) -> None:
        self.app = app
        self.db = db
        self.operations = operations_with_keys(spec)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        extensions = scope.get("extensions", {})
        operation = extensions.get("connexion_routing", {}).get("operation_id")
        given = _header(scope, HEADER) if scope["type"] == "http" else None
        if operation not in self.operations or given is None or not 0 < len(given) <= MAX_KEY_LENGTH:
            await self.app(scope, receive, send)  # a malformed key is refused by request validation
            return

        body = b""
        while True:
            message = await receive()
            body += message.get("body", b"")
            if not message.get("more_body", False):
                break
        caller = extensions.get("connexion_context", {}).get("user") or (scope.get("client") or ("?", 0))[0]
        key = hashlib.sha256(b"\0".join([str(caller).encode(), operation.encode(), given])).hexdigest()
        request = hashlib.sha256(
            b"\0".join([scope["query_string"], _header(scope, b"content-type") or b"", body])
        ).hexdigest()

        outcome = await serving.current().workers.run_brief_write(idempotency.claim, self.db, key, request)
        if isinstance(outcome, idempotency.Stored):
            await self._replay(outcome, request, send)
            return

        sent = False

        async def replay_body() -> Message:
            nonlocal sent
            if sent:
                return await receive()  # after the body: wait for the client to go away
            sent = True
            return {"type": "http.request", "body": body, "more_body": False}

        status = 0
        headers: list[tuple[str, str]] = []
        chunks: list[bytes] = []

        async def keep(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                headers.extend(
                    (name.decode("latin-1"), value.decode("latin-1"))
                    for name, value in message.get("headers", [])
                    if name.decode("latin-1").lower() in REPLAYED_HEADERS
                )
            elif message["type"] == "http.response.body":
                chunks.append(message.get("body", b""))
            await send(message)

        try:
            await self.app(scope, replay_body, keep)
        except BaseException:
            await serving.current().workers.run_brief_write(idempotency.release, self.db, key)
            raise
        if 200 <= status < 300:
            answer = b"".join(chunks).decode("utf-8", "replace")
            await serving.current().workers.run_brief_write(idempotency.complete, self.db, key, status, headers, answer)
        else:
            await serving.current().workers.run_brief_write(idempotency.release, self.db, key)

    @staticmethod
    async def _replay(stored: idempotency.Stored, request: str, send: Send) -> None:
        if stored.request_digest != request:
            raise ProblemException(
                status=422,
                title="Unprocessable Content",
                detail="This Idempotency-Key was already used with a different request.",
            )
        if stored.status is None:
            raise ProblemException(
                status=409,
                title="Conflict",
                detail="A request with this Idempotency-Key is still being processed; retry in a moment.",
            )
        headers = [(name.encode("latin-1"), value.encode("latin-1")) for name, value in stored.headers]
        body = stored.body.encode("utf-8")
        headers += [(b"idempotent-replayed", b"true"), (b"content-length", str(len(body)).encode())]
        await send({"type": "http.response.start", "status": stored.status, "headers": headers})
        await send({"type": "http.response.body", "body": body})
