"""An operation the spec deprecates answers with Deprecation (RFC 9745), Sunset (RFC 8594) and a Link to
what replaces it. No operation is deprecated today, so the app here runs over a copy of the spec in which
getPost is."""

from __future__ import annotations

import asyncio
import datetime as dt
import uuid
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import httpx
import pytest
from connexion import AsyncApp
from starlette.testclient import TestClient

import app as gateway
from settings import Settings
from tests.conftest import SignUp
from web.deprecation import deprecation_headers

DEPRECATED_AT = "@1768435200"  # 2026-01-15T00:00:00Z
SUNSET = "Thu, 31 Dec 2026 10:00:00 GMT"  # 2026-12-31T12:00:00+02:00
LINK = '<https://example.com/changelog#getPost>; rel="deprecation"'


def deprecate(spec: dict[str, Any], path: str, method: str, **marks: object) -> dict[str, Any]:
    spec["paths"][path][method].update({"deprecated": True, **marks})
    return spec


@pytest.fixture
def app(settings: Settings, monkeypatch: pytest.MonkeyPatch) -> AsyncApp:
    spec = deprecate(
        gateway.load_spec(), "/posts/{post_id}", "get",
        **{"x-deprecated-at": "2026-01-15", "x-sunset": "2026-12-31T12:00:00+02:00",
           "x-deprecation-link": "https://example.com/changelog#getPost"},
    )  # fmt: skip
    monkeypatch.setattr(gateway, "load_spec", lambda: spec)
    return gateway.create_app(settings)


def write_post(client: TestClient, sign_up: SignUp) -> str:
    created = client.post("/api/v1/posts", json={"title": "Hello", "body": "..."}, headers=sign_up().auth)
    assert created.status_code == 201, created.text
    return str(created.json()["id"])


def test_a_deprecated_operation_says_so_and_when_it_goes(client: TestClient, sign_up: SignUp) -> None:
    post_id = write_post(client, sign_up)

    response = client.get(f"/api/v1/posts/{post_id}")

    assert response.status_code == 200
    assert response.headers["Deprecation"] == DEPRECATED_AT
    assert response.headers["Sunset"] == SUNSET
    assert response.headers["Link"] == LINK


@pytest.mark.parametrize(
    ("method", "path", "status"),
    [
        ("HEAD", "/api/v1/posts/{post_id}", 200),
        ("GET", f"/api/v1/posts/{uuid.uuid4()}", 404),
        ("GET", "/api/v1/posts/not-a-uuid", 400),
    ],
)
def test_every_answer_of_the_operation_carries_them(
    client: TestClient, sign_up: SignUp, method: str, path: str, status: int
) -> None:
    post_id = write_post(client, sign_up)

    response = client.request(method, path.format(post_id=post_id))

    assert response.status_code == status
    assert (response.headers.get("Deprecation"), response.headers.get("Sunset")) == (DEPRECATED_AT, SUNSET)


def test_other_operations_do_not(client: TestClient, sign_up: SignUp) -> None:
    post_id = write_post(client, sign_up)

    for response in [
        client.get("/api/v1/posts"),
        client.patch(f"/api/v1/posts/{post_id}", json={"title": "Hi"}),
        client.get("/api/v1/nowhere"),
    ]:
        assert "Deprecation" not in response.headers, response.request.url
        assert "Sunset" not in response.headers
        assert "Link" not in response.headers


def test_a_server_that_sends_no_scope_extensions_gets_them_too(app: AsyncApp) -> None:
    """Starlette's test client sends scope["extensions"]; uvicorn and httpx do not."""

    async def get() -> httpx.Response:
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://gateway") as client:
            return await client.get(f"/api/v1/posts/{uuid.uuid4()}")

    # A thread of its own: the browser tests' Playwright keeps an event loop running in this one.
    with ThreadPoolExecutor(max_workers=1) as thread:
        response = thread.submit(asyncio.run, get()).result()

    assert response.status_code == 404
    assert response.headers["Deprecation"] == DEPRECATED_AT


def test_dates_may_be_dates_or_date_times_as_yaml_reads_them() -> None:
    spec = deprecate(
        gateway.load_spec(), "/users", "get",
        **{"x-deprecated-at": dt.date(2026, 1, 15), "x-sunset": dt.datetime(2026, 12, 31, 10, tzinfo=dt.UTC)},
    )  # fmt: skip

    headers = dict(deprecation_headers(spec)["handlers.users.list_users"])

    assert headers == {b"deprecation": DEPRECATED_AT.encode(), b"sunset": SUNSET.encode()}


@pytest.mark.parametrize(
    ("marks", "complaint"),
    [
        ({"x-deprecated-at": "2026-01-15"}, "needs x-deprecated-at and x-sunset"),
        ({"x-sunset": "2026-12-31"}, "needs x-deprecated-at and x-sunset"),
        ({"x-deprecated-at": "2026-01-15", "x-sunset": "soon"}, "needs x-deprecated-at and x-sunset"),
        ({"x-deprecated-at": "2026-01-15", "x-sunset": "2026-01-01"}, "must come after"),
    ],
)
def test_a_deprecation_without_its_dates_stops_the_start(marks: dict[str, object], complaint: str) -> None:
    spec = deprecate(gateway.load_spec(), "/users", "get", **marks)

    with pytest.raises(ValueError, match=complaint) as raised:
        deprecation_headers(spec)
    assert "listUsers" in str(raised.value)
