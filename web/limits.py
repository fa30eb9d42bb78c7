"""The request body limit declared in the spec (info.x-gateway-limits.maxRequestBodyBytes)."""

from __future__ import annotations

from connexion.exceptions import ProblemException
from starlette.types import ASGIApp, Message, Receive, Scope, Send


class PayloadTooLarge(ProblemException):
    def __init__(self, limit: int) -> None:
        super().__init__(
            status=413, title="Content Too Large", detail=f"The request body is larger than {limit} bytes."
        )


class BodyLimit:
    """Reads the body up front (it is small by contract) and refuses it past the limit, whether the
    client announced its length or streamed it in chunks."""

    def __init__(self, app: ASGIApp, max_bytes: int) -> None:
        self.app = app
        self.max_bytes = max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] in ("GET", "HEAD", "OPTIONS", "DELETE"):
            await self.app(scope, receive, send)
            return
        for name, value in scope["headers"]:
            if name == b"content-length" and value.isdigit() and int(value) > self.max_bytes:
                raise PayloadTooLarge(self.max_bytes)
        chunks: list[bytes] = []
        size = 0
        while True:
            message = await receive()
            if message["type"] != "http.request":
                break
            chunk = message.get("body", b"")
            size += len(chunk)
            if size > self.max_bytes:
                raise PayloadTooLarge(self.max_bytes)
            chunks.append(chunk)
            if not message.get("more_body", False):
                break
        body = b"".join(chunks)
        replayed = False
        # Downstream validation trusts Content-Length, so a chunked upload gets an exact one.
        headers = [(k, v) for k, v in scope["headers"] if k not in (b"content-length", b"transfer-encoding")]
        scope = dict(scope, headers=[*headers, (b"content-length", str(len(body)).encode())])

        async def replay() -> Message:
            nonlocal replayed
            if replayed:
                return await receive()
            replayed = True
            return {"type": "http.request", "body": body, "more_body": False}

        await self.app(scope, replay, send)
