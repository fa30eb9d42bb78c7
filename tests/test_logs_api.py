"""The log analyzer over HTTP: a monitoring token reads logs and nothing else."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import pytest
from connexion import AsyncApp
from starlette.testclient import TestClient

from app import create_app
from loganalysis.sources import parse_sources
from settings import Settings
from tests.conftest import Account, SignUp, basic, bearer

LOGS = Path(__file__).resolve().parent / "data" / "logs"


@pytest.fixture
def app(settings: Settings) -> AsyncApp:
    sources = f"system={LOGS / 'Linux_2k.log'},sshd={LOGS / 'OpenSSH_2k.log'},httpd={LOGS / 'Apache_2k.log'}"
    return create_app(replace(settings, log_sources=parse_sources(sources)))


@pytest.fixture
def monitor(client: TestClient, make_admin: SignUp) -> dict[str, str]:
    """A token that can read logs and nothing else, as a monitoring tool would hold."""
    admin: Account = make_admin()
    issued = client.post(
        "/api/v1/tokens",
        json={"name": "prometheus", "scopes": ["logs:read"]},
        headers=basic(admin.email, admin.password),
    )
    assert issued.status_code == 201
    return bearer(issued.json()["access_token"])


def test_sources_are_listed_with_size_and_format(client: TestClient, monitor: dict[str, str]) -> None:
    response = client.get("/api/v1/logs/sources", headers=monitor)

    assert response.status_code == 200
    listed = {source["name"]: source for source in response.json()}
    assert listed["httpd"]["format"] == "apache"
    assert listed["system"]["format"] == "syslog"
    assert listed["sshd"]["size"] == (LOGS / "OpenSSH_2k.log").stat().st_size
    assert "path" not in listed["sshd"]


def test_entries_are_paged_newest_first(client: TestClient, monitor: dict[str, str]) -> None:
    first = client.get("/api/v1/logs/httpd/entries", params={"limit": 2}, headers=monitor).json()
    second = client.get(
        "/api/v1/logs/httpd/entries", params={"limit": 2, "cursor": first["next_cursor"]}, headers=monitor
    ).json()

    stamps = [item["timestamp"] for item in first["items"] + second["items"]]
    assert stamps == sorted(stamps, reverse=True)
    assert first["items"][0]["message"] == "mod_jk child workerEnv in error state 6"


def test_recent_errors_come_from_every_source_by_level(client: TestClient, monitor: dict[str, str]) -> None:
    response = client.get("/api/v1/logs/errors", params={"limit": 1000}, headers=monitor)

    items = response.json()["items"]
    assert response.status_code == 200
    assert {item["source"] for item in items} == {"sshd", "httpd"}
    assert all(item["level"] in ("error", "critical", "alert", "emergency") for item in items)


def test_stats_count_levels_per_bucket(client: TestClient, monitor: dict[str, str]) -> None:
    response = client.get("/api/v1/logs/httpd/stats", params={"interval": "1d"}, headers=monitor)

    body = response.json()
    assert response.status_code == 200
    assert sum(bucket["counts"].get("error", 0) for bucket in body["buckets"]) == 595
    assert sum(bucket["total"] for bucket in body["buckets"]) == 2000


def test_bad_log_queries_are_400s(client: TestClient, monitor: dict[str, str]) -> None:
    cases = [
        ("/api/v1/logs/httpd/entries", {"min_level": "loud"}),
        ("/api/v1/logs/httpd/entries", {"since": "yesterday"}),
        ("/api/v1/logs/httpd/entries", {"since": "2024-02-30T00:00:00Z"}),
        ("/api/v1/logs/httpd/entries", {"cursor": "bm90IGEgY3Vyc29y"}),
        ("/api/v1/logs/httpd/entries", {"since": "2024-01-02T00:00:00Z", "until": "2024-01-01T00:00:00Z"}),
        ("/api/v1/logs/httpd/entries", {"limit": 1001}),
        ("/api/v1/logs/httpd/stats", {"interval": "2h"}),
        ("/api/v1/logs/errors", {"cursor": "e30x"}),
    ]
    for path, params in cases:
        response = client.get(path, params=params, headers=monitor)
        assert response.status_code == 400, (path, params, response.text)
        assert response.headers["Content-Type"] == "application/problem+json"


def test_no_request_reaches_a_file_that_is_not_configured(client: TestClient, monitor: dict[str, str]) -> None:
    for name in ("passwd", "..", "%2e%2e%2fetc%2fpasswd", "system.log", "SYSTEM"):
        response = client.get(f"/api/v1/logs/{name}/entries", headers=monitor)
        assert response.status_code in (400, 404), name


def test_logs_need_the_logs_read_scope(client: TestClient, sign_up: SignUp, monitor: dict[str, str]) -> None:
    writer = sign_up()

    assert client.get("/api/v1/logs/sources").status_code == 401
    assert client.get("/api/v1/logs/sources", headers=writer.auth).status_code == 403
    assert client.get("/api/v1/logs/errors", headers=writer.auth).status_code == 403


def test_a_monitoring_token_can_do_nothing_else(client: TestClient, monitor: dict[str, str]) -> None:
    me = client.get("/api/v1/me", headers=monitor).json()

    assert client.post("/api/v1/posts", json={"title": "x", "body": "y"}, headers=monitor).status_code == 403
    assert client.patch(f"/api/v1/users/{me['id']}", json={"name": "x"}, headers=monitor).status_code == 403
