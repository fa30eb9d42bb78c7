"""Every answer carries X-Request-ID: the client's own when it is sane, a new UUID otherwise; problem
bodies quote it, and the log lines written while serving the request carry it."""

from __future__ import annotations

import logging
import uuid
from dataclasses import replace

import pytest
from starlette.testclient import TestClient

from app import create_app
from settings import Settings
from tests.conftest import SignUp, bearer
from web.logconfig import prepare
from web.requestid import request_id_of


def is_uuid(value: str) -> bool:
    try:
        return str(uuid.UUID(value)) == value
    except ValueError:
        return False


@pytest.mark.parametrize(
    "sent", ["a", "abc-123", "7f3c2a.worker_1:42", pytest.param("A" * 128, id="128 chars"), str(uuid.uuid4())]
)
def test_a_sane_id_is_echoed(client: TestClient, sent: str) -> None:
    response = client.get("/api/v1/users", headers={"X-Request-ID": sent})

    assert response.status_code == 200
    assert response.headers["X-Request-ID"] == sent


@pytest.mark.parametrize(
    "sent",
    [
        pytest.param("A" * 129, id="129 chars"),
        "",
        "two words",
        "tab\there",
        "<script>",
        "id/with/slashes",
        "caf\u00e9",
        pytest.param("x" * 10_000, id="10000 chars"),
    ],
)
def test_an_insane_id_is_replaced_by_a_uuid(client: TestClient, sent: str) -> None:
    response = client.get("/api/v1/users", headers={"X-Request-ID": sent.encode("utf-8")})

    assert is_uuid(response.headers["X-Request-ID"])


@pytest.mark.parametrize("sent", [b"abc\r\nSet-Cookie: x=1", b"abc\nforged log line", b"abc\r"])
def test_an_id_with_line_breaks_is_replaced(sent: bytes) -> None:
    # httpx refuses to send CR or LF in a header; a server's ASGI scope could hold them all the same.
    assert is_uuid(request_id_of({"type": "http", "headers": [(b"x-request-id", sent)]}))


def test_without_an_id_each_request_gets_a_new_one(client: TestClient) -> None:
    first = client.get("/api/v1/users").headers["X-Request-ID"]
    second = client.get("/api/v1/users").headers["X-Request-ID"]

    assert is_uuid(first)
    assert is_uuid(second)
    assert first != second


@pytest.mark.parametrize(
    ("method", "path", "headers", "status"),
    [
        ("GET", "/api/v1/users", {}, 200),
        ("GET", "/api/v1/nowhere", {}, 404),
        ("GET", "/api/v1/users/not-a-uuid", {}, 400),
        ("GET", "/api/v1/me", {}, 401),
        ("GET", "/api/v1/me", bearer("not-a-token"), 401),
        ("DELETE", "/api/v1/users", {}, 405),
        ("GET", "/api/v1/healthz", {}, 200),
    ],
)
def test_every_answer_has_the_id_and_problems_quote_it(
    client: TestClient, method: str, path: str, headers: dict[str, str], status: int
) -> None:
    response = client.request(method, path, headers=headers)

    assert response.status_code == status, response.text
    request_id = response.headers["X-Request-ID"]
    assert is_uuid(request_id)
    if status >= 400:
        assert response.headers["Content-Type"] == "application/problem+json"
        assert response.json()["request_id"] == request_id


def test_a_problem_quotes_the_clients_own_id(client: TestClient) -> None:
    response = client.get("/api/v1/nowhere", headers={"X-Request-ID": "support-ticket-42"})

    assert response.status_code == 404
    assert response.json()["request_id"] == "support-ticket-42"


def test_a_429_has_the_id(settings: Settings) -> None:
    app = create_app(replace(settings, rate_limits=True))
    with app.test_client(client=("198.51.100.9", 40000)) as client:
        answers = [client.post("/api/v1/tokens", json={}, headers={"X-Request-ID": f"try-{n}"}) for n in range(12)]

    refused = answers[-1]
    assert refused.status_code == 429
    assert refused.headers["X-Request-ID"] == "try-11"
    assert refused.json()["request_id"] == "try-11"


def test_a_browser_may_send_and_read_the_id(settings: Settings) -> None:
    origin = "https://app.example.com"
    app = create_app(replace(settings, cors_origins=(origin,)))
    with app.test_client() as client:
        preflight = client.options(
            "/api/v1/users",
            headers={
                "Origin": origin,
                "Access-Control-Request-Method": "GET",
                "Access-Control-Request-Headers": "X-Request-ID",
            },
        )
        response = client.get("/api/v1/users", headers={"Origin": origin})

    assert preflight.status_code == 200
    # Answered by the CORS middleware itself: the id is outermost, so even this answer carries one.
    assert is_uuid(preflight.headers["X-Request-ID"])
    assert "x-request-id" in preflight.headers["Access-Control-Allow-Headers"].lower()
    assert "x-request-id" in response.headers["Access-Control-Expose-Headers"].lower()


def test_log_records_of_a_request_carry_its_id(
    client: TestClient, sign_up: SignUp, caplog: pytest.LogCaptureFixture
) -> None:
    ada = sign_up()
    prepare(caplog.handler, "text")
    caplog.set_level(logging.DEBUG)

    client.get("/api/v1/me", headers={**ada.auth, "X-Request-ID": "req-one"})
    client.get("/api/v1/nowhere", headers={"X-Request-ID": "req-two"})

    first = [record for record in caplog.records if getattr(record, "request_id", None) == "req-one"]
    second = [record for record in caplog.records if getattr(record, "request_id", None) == "req-two"]
    assert {record.name for record in first} >= {"gateway.access"}
    assert {record.name for record in second} >= {"gateway.access"}
    # Lines written inside the handler's thread (the security check, the database) carry it too.
    assert len(first) > 1
    assert "[req-one]" in caplog.text
