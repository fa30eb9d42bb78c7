"""Every request has an id: the client's `X-Request-ID` when it is sane, a new UUID otherwise. It is
returned on every answer, put in every problem body (web.problems) and stamped on every log line
written while the request is served, so that a client's report leads to the server's lines."""

from __future__ import annotations

import logging
import re
import uuid
from contextvars import ContextVar

from starlette.types import ASGIApp, Message, Receive, Scope, Send

HEADER = b"x-request-id"
# Letters, digits and a little punctuation: nothing that could forge a log line or a header.
SANE = re.compile(rb"[A-Za-z0-9._:\-]{1,128}")

_current: ContextVar[str | None] = ContextVar("gateway_request_id", default=None)


def current() -> str | None:
    """The id of the request being served, None outside a request."""
    return _current.get()


def request_id_of(scope: Scope) -> str:
    headers: list[tuple[bytes, bytes]] = scope["headers"]
    sent = next((value for name, value in headers if name == HEADER), None)
    if sent is not None and SANE.fullmatch(sent):
        return sent.decode("ascii")
    return str(uuid.uuid4())


class RequestIdFilter(logging.Filter):
    """Stamps each record written during a request with its id (`record.request_id`)."""

    def filter(self, record: logging.LogRecord) -> bool:
        request_id = _current.get()
        if request_id is not None:
            record.request_id = request_id
        return True


class RequestId:
    """Outermost middleware: every answer, problems included, leaves with the request's id."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        request_id = request_id_of(scope)
        encoded = request_id.encode("ascii")

        async def send_with_id(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = [(name, value) for name, value in message.get("headers", []) if name.lower() != HEADER]
                message = {**message, "headers": [*headers, (HEADER, encoded)]}
            await send(message)

        token = _current.set(request_id)
        try:
            await self.app(scope, receive, send_with_id)
        finally:
            _current.reset(token)
