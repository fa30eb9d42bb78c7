"""Security headers on every response (OWASP's REST and HTTP headers cheat sheets): no MIME sniffing,
no framing, no referrer, a Content-Security-Policy that lets an API answer load nothing at all, and no
storing of answers to authenticated requests. HSTS in production, where TLS is in front. Added by
web.edge."""

from __future__ import annotations

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


def security_headers(
    present: set[bytes], content_type: bytes, *, authenticated: bool, hsts: bool
) -> list[tuple[bytes, bytes]]:
    """The headers to add to an answer that already has the headers named in `present` (lower case)."""
    added = [header for header in ALWAYS if header[0] not in present]
    if b"content-security-policy" not in present:
        added.append(DOCS_POLICY if content_type.startswith(b"text/html") else API_POLICY)
    if authenticated and b"cache-control" not in present:
        added.append(NO_STORE)
    if hsts:
        added.append(HSTS)
    return added
