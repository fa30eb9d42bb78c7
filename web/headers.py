"""Security headers on every response (OWASP's REST and HTTP headers cheat sheets): no MIME sniffing,
no framing, no referrer, a Content-Security-Policy that lets an API answer load nothing at all, and no
storing of answers to authenticated requests. HSTS in production, where TLS is in front."""

from __future__ import annotations

from starlette.types import ASGIApp, Message, Receive, Scope, Send

ALWAYS = [
    (b"x-content-type-options", b"nosniff"),
    (b"x-frame-options", b"DENY"),
    (b"referrer-policy", b"no-referrer"),
]
# An API answer is data, never a page: it may load nothing and be framed by no one.
API_POLICY = (b"content-security-policy", b"default-src 'none'; frame-ancestors 'none'")
# The rendered docs (Swagger UI, Redoc) are pages with their own scripts and styles, from this server only.
DOCS_POLICY = (
    b"content-security-policy",
    b"default-src 'self'; script-src 'self' 'unsafe-inline'; style-src 'self' 'unsafe-inline'; "
    b"img-src 'self' data:; worker-src 'self' blob:; frame-ancestors 'none'",
)
HSTS = (b"strict-transport-security", b"max-age=31536000; includeSubDomains")
NO_STORE = (b"cache-control", b"no-store")


class SecurityHeaders:
    def __init__(self, app: ASGIApp, *, hsts: bool) -> None:
        self.app = app
        self.hsts = hsts

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        request_headers: list[tuple[bytes, bytes]] = scope["headers"]
        authenticated = any(name == b"authorization" for name, _ in request_headers)

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers: list[tuple[bytes, bytes]] = list(message.get("headers", []))
                names = {name.lower() for name, _ in headers}
                content_type = next((value for name, value in headers if name.lower() == b"content-type"), b"")
                added = [header for header in ALWAYS if header[0] not in names]
                if b"content-security-policy" not in names:
                    added.append(DOCS_POLICY if content_type.startswith(b"text/html") else API_POLICY)
                if authenticated and b"cache-control" not in names:
                    added.append(NO_STORE)
                if self.hsts:
                    added.append(HSTS)
                message = {**message, "headers": headers + added}
            await send(message)

        await self.app(scope, receive, send_with_headers)
