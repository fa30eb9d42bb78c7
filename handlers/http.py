"""What every handler needs from HTTP: the caller, conditional headers and the answer's shape."""

from __future__ import annotations

import re
from typing import Any

from connexion.context import scope
from connexion.lifecycle import ConnexionResponse

from domain.access import Actor
from domain.errors import InvalidInput
from domain.paging import Page
from domain.tokens import actor_for
from domain.versions import Expected, tag_of
from web.services import Services, current

JSON = {"Content-Type": "application/json"}
Response = tuple[Any, int, dict[str, str]]
# No header value may hold these (RFC 9110); a CR/LF in one is an attempt to smuggle another header.
_CONTROL = re.compile(r"[\x00-\x08\x0a-\x1f\x7f]")


def services() -> Services:
    return current()


def actor(token_info: dict[str, Any]) -> Actor:
    return Actor(token_info["sub"], frozenset(token_info["scopes"]), token_info["is_admin"])


def header(name: str) -> str | None:
    """A request header's first value, as Starlette's Headers.get reads it, from the request's scope: no
    request object is built for it (ASGI servers send header names in lower case)."""
    wanted = name.lower().encode("latin-1")
    headers: list[tuple[bytes, bytes]] = scope["headers"]
    for key, value in headers:
        if key == wanted:
            return value.decode("latin-1")
    return None


def sent_credentials() -> bool:
    return header("Authorization") is not None


def optional_actor() -> Actor | None:
    """The caller of a public operation, if it sent a valid bearer token (it sees more when it does)."""
    scheme, _, secret = (header("Authorization") or "").partition(" ")
    if scheme.lower() != "bearer" or not secret:
        return None
    return actor_for(services().db, secret.strip())


def etag(representation: dict[str, Any]) -> str:
    return f'"{tag_of(representation)}"'


def _conditional(name: str) -> str | None:
    """A conditional header, refused rather than guessed at when it holds control characters."""
    value = header(name)
    if value is not None and _CONTROL.search(value):
        raise InvalidInput(f"The {name} header holds control characters.")
    return value


def _entity_tags(header: str) -> list[str]:
    return [part.strip() for part in header.split(",") if part.strip()]


def expected() -> Expected | None:
    """The If-Match header as a precondition: strong comparison, so weak tags never match."""
    value = _conditional("If-Match")
    if value is None:
        return None
    tags = _entity_tags(value)
    if tags == ["*"]:
        return Expected(any_tag=True)
    return Expected(frozenset(tag[1:-1] for tag in tags if len(tag) >= 2 and tag[0] == tag[-1] == '"'))


def not_modified(representation: dict[str, Any]) -> bool:
    """If-None-Match with weak comparison, as RFC 9110 asks for GET."""
    value = _conditional("If-None-Match")
    if value is None:
        return False
    current_tag = etag(representation)
    return any(tag in ("*", current_tag, "W/" + current_tag) for tag in _entity_tags(value))


def one(representation: dict[str, Any], status: int = 200, *, location: str | None = None) -> Response:
    headers = JSON | {"ETag": etag(representation)}
    if location is not None:
        headers["Location"] = location
    return representation, status, headers


def read_one(representation: dict[str, Any]) -> Response | ConnexionResponse:
    if not_modified(representation):
        # A ready response: 304 has no body, so it has no content type to pick among the spec's.
        return ConnexionResponse(status_code=304, headers={"ETag": etag(representation)})
    return one(representation)


def page(result: Page[dict[str, Any]]) -> Response:
    return {"items": result.items, "next_cursor": result.next_cursor}, 200, dict(JSON)


def created_at(representation: dict[str, Any]) -> str:
    """The Location of a resource created by POST to the current collection path: the path the request's
    route matched, read from its scope (no request object is built for it)."""
    path: str = scope["path"]
    return f"{path.rstrip('/')}/{representation['id']}"


def no_content() -> Response:
    return None, 204, {}
