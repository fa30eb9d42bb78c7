"""Every request has an id: the client's `X-Request-ID` when it is sane, a new UUID otherwise. It is
returned on every answer (web.edge), put in every problem body (web.problems) and stamped on every log
line written while the request is served, so that a client's report leads to the server's lines."""

from __future__ import annotations

import logging
import random
import re
from contextvars import ContextVar, Token

from starlette.types import Scope

HEADER = b"x-request-id"
# Letters, digits and a little punctuation: nothing that could forge a log line or a header.
SANE = re.compile(rb"[A-Za-z0-9._:\-]{1,128}")

_current: ContextVar[str | None] = ContextVar("gateway_request_id", default=None)


def current() -> str | None:
    """The id of the request being served, None outside a request."""
    return _current.get()


def enter(request_id: str) -> Token[str | None]:
    """The request being served from now on (web.edge); `leave` with the token when it has been answered."""
    return _current.set(request_id)


def leave(token: Token[str | None]) -> None:
    _current.reset(token)


def new_request_id() -> str:
    """A random (version 4) UUID, as str(uuid.uuid4()) spells it, without building a UUID object.

    Its bits come from `random` (seeded from the system's entropy, and again in each forked worker), not
    from os.urandom as uuid4's do: an id names a request, it guards nothing (a client may choose its own).
    os.urandom lets go of the GIL for its system call, and the event loop, which makes the id, then waited
    for a worker thread to hand the GIL back, up to the interpreter's 5 ms switch interval: under load that
    wait was most of the loop's time."""
    raw = bytearray(random.getrandbits(128).to_bytes(16, "big"))
    raw[6] = raw[6] & 0x0F | 0x40  # version 4
    raw[8] = raw[8] & 0x3F | 0x80  # the RFC 9562 variant
    text = raw.hex()
    return f"{text[:8]}-{text[8:12]}-{text[12:16]}-{text[16:20]}-{text[20:]}"


def request_id_of(scope: Scope) -> str:
    headers: list[tuple[bytes, bytes]] = scope["headers"]
    sent = next((value for name, value in headers if name == HEADER), None)
    if sent is not None and SANE.fullmatch(sent):
        return sent.decode("ascii")
    return new_request_id()


class RequestIdFilter(logging.Filter):
    """Stamps each record written during a request with its id (`record.request_id`)."""

    def filter(self, record: logging.LogRecord) -> bool:
        request_id = _current.get()
        if request_id is not None:
            record.request_id = request_id
        return True
