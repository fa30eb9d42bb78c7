"""The request body limit declared in the spec (info.x-gateway-limits.maxRequestBodyBytes), and the
headers that frame a body made exact for the validation downstream."""

from __future__ import annotations

import asyncio

from connexion.exceptions import BadRequestProblem, ProblemException, UnsupportedMediaTypeProblem
from starlette.types import ASGIApp, Message, Receive, Scope, Send


class PayloadTooLarge(ProblemException):
    def __init__(self, limit: int) -> None:
        super().__init__(
            status=413, title="Content Too Large", detail=f"The request body is larger than {limit} bytes."
        )


# Spaces and tabs only (RFC 9110's OWS): a CR, LF or NUL in the value is not trimmed into something valid.
WHITESPACE = " \t"


def canonical_content_type(value: bytes) -> bytes:
    """`type/subtype;charset=x` in lower case. Media types are case-insensitive (RFC 9110), but Connexion
    finds an operation's schema by a case-sensitive match: `Application/JSON` would skip validation and
    reach the handler unchecked. Parameters lose their spaces, so Connexion sees the charset too."""
    media_type, *parameters = value.decode("latin-1").split(";")
    canonical = [media_type.strip(WHITESPACE).lower()]
    for parameter in parameters:
        name, _, argument = parameter.strip(WHITESPACE).partition("=")
        name = name.strip(WHITESPACE).lower()
        if name == "charset":
            argument = argument.strip(WHITESPACE).strip('"').lower()
        canonical.append(f"{name}={argument}")
    return ";".join(canonical).encode("latin-1")


class BodyLimit:
    """Reads the body up front (it is small by contract) and refuses it past the limit, whether the
    client announced its length or streamed it in chunks. A body must say what it is: without a
    Content-Type it is refused (a guess would let the validator and the handler read it differently)."""

    def __init__(self, app: ASGIApp, max_bytes: int, max_seconds: float) -> None:
        self.app = app
        self.max_bytes = max_bytes
        self.max_seconds = max_seconds

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] in ("GET", "HEAD", "OPTIONS", "DELETE"):
            await self.app(scope, receive, send)
            return
        for name, value in scope["headers"]:
            if name == b"content-length" and value.isdigit() and int(value) > self.max_bytes:
                raise PayloadTooLarge(self.max_bytes)
        chunks: list[bytes] = []
        size = 0
        try:
            # A client that trickles its body (or stops sending it) is not waited for beyond the limit.
            async with asyncio.timeout(self.max_seconds):
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
        except TimeoutError:
            raise ProblemException(
                status=408,
                title="Request Timeout",
                detail=f"The request body did not arrive within {self.max_seconds:g} seconds.",
                headers={"Connection": "close"},
            ) from None
        body = b"".join(chunks)
        replayed = False
        content_types = [value for name, value in scope["headers"] if name == b"content-type"]
        if body and not content_types:
            raise UnsupportedMediaTypeProblem(detail="The request has a body but no Content-Type.")
        if len(content_types) > 1:
            raise BadRequestProblem(detail="The request has more than one Content-Type.")
        # Downstream validation trusts Content-Length, so a chunked upload gets an exact one.
        framing = (b"content-length", b"transfer-encoding", b"content-type")
        headers = [(k, v) for k, v in scope["headers"] if k not in framing]
        headers += [(b"content-type", canonical_content_type(value)) for value in content_types[:1]]
        scope = dict(scope, headers=[*headers, (b"content-length", str(len(body)).encode())])

        async def replay() -> Message:
            nonlocal replayed
            if replayed:
                return await receive()
            replayed = True
            return {"type": "http.request", "body": body, "more_body": False}

        await self.app(scope, replay, send)
