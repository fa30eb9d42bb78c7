"""CORS (Starlette's CORSMiddleware) for requests that carry an Origin header, the only ones it changes.

An answer to any other request differs from Starlette's only in one header, `Vary: Origin` (it tells a
cache that a browser's request, with an Origin, may get another answer), and web.edge adds it in its one
pass over the answer's headers. Starlette's middleware would wrap the request's headers, and the answer's,
in objects of their own on every request to add it."""

from __future__ import annotations

from starlette.middleware.cors import CORSMiddleware
from starlette.types import Receive, Scope, Send

ORIGIN = b"origin"
VARY = b"vary"


def has_origin(headers: list[tuple[bytes, bytes]]) -> bool:
    return any(name == ORIGIN for name, _ in headers)


class CrossOrigin(CORSMiddleware):
    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and not has_origin(scope["headers"]):
            await self.app(scope, receive, send)
            return
        await super().__call__(scope, receive, send)


def vary_on_origin(varies: list[bytes]) -> tuple[bytes, bytes]:
    """The one Vary header of an answer whose own Vary headers were `varies`, with Origin added as Starlette
    adds it (every value joined in one header)."""
    return VARY, b", ".join([*varies, b"Origin"])
