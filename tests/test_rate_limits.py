"""Rate limits, as the spec declares them: counted per client address and per token in a store that
every worker shares (the database, or Redis), answered with 429, Retry-After and RateLimit headers."""

from __future__ import annotations

import os
import uuid
from collections.abc import Callable, Iterator
from dataclasses import replace
from typing import Any

import pytest
import redis
import yaml
from connexion import AsyncApp
from starlette.testclient import TestClient

from app import create_app
from settings import Settings
from tests.conftest import basic, bearer
from tests.servers import ROOT

LIMITS = yaml.safe_load((ROOT / "spec" / "openapi.yaml").read_text(encoding="utf-8"))["info"]["x-gateway-limits"]
CREDENTIALS = LIMITS["rateLimits"]["credentials"]["requests"]
REDIS_URL = os.environ.get("TEST_REDIS_URL", "redis://127.0.0.1:6379/15")

Clients = Callable[..., TestClient]


@pytest.fixture(params=["database", "redis"])
def store(request: pytest.FixtureRequest) -> Iterator[str]:
    if request.param == "database":
        yield "database"
        return
    # The suite's own Redis database, emptied before and after: a leftover count would fail a test.
    connection = redis.Redis.from_url(REDIS_URL)
    connection.flushdb()
    yield REDIS_URL
    connection.flushdb()
    connection.close()


@pytest.fixture
def limited(settings: Settings, store: str) -> Iterator[Clients]:
    """Clients of two app instances (as two workers) over one database and one rate-limit store."""
    limited_settings = replace(settings, rate_limits=True, rate_limit_store=store)
    workers: list[AsyncApp] = [create_app(limited_settings), create_app(limited_settings)]
    opened: list[TestClient] = []

    def client(address: str = "198.51.100.7", worker: int = 0) -> TestClient:
        test_client: TestClient = workers[worker].test_client(client=(address, 40000))
        test_client.__enter__()
        opened.append(test_client)
        return test_client

    yield client
    for test_client in opened:
        test_client.__exit__(None, None, None)


def sign_up(client: TestClient, **overrides: Any) -> Any:
    body = {"name": "Ada", "email": f"ada-{uuid.uuid4().hex[:8]}@example.com", "password": "correct horse battery"}
    return client.post("/api/v1/users", json=body | overrides)


def test_every_response_says_which_limits_apply(limited: Clients) -> None:
    response = limited().get("/api/v1/users")

    assert response.status_code == 200
    assert response.headers["RateLimit-Policy"] == '"address";q=1200;w=60'
    assert response.headers["RateLimit"].startswith('"address";r=1199;t=')


def test_password_operations_have_a_stricter_limit_per_address(limited: Clients) -> None:
    client = limited()
    for _ in range(CREDENTIALS):
        assert sign_up(client).status_code == 201

    refused = sign_up(client)

    assert refused.status_code == 429
    assert refused.headers["Content-Type"] == "application/problem+json"
    assert 0 < int(refused.headers["Retry-After"]) <= 60
    assert refused.headers["RateLimit"].startswith('"credentials";r=0;t=')
    assert "credentials" in refused.json()["detail"]
    # Reading is not a password operation: still allowed.
    assert client.get("/api/v1/users").status_code == 200


def test_guessing_passwords_is_stopped_before_any_password_is_checked(limited: Clients) -> None:
    client = limited()
    account = {"email": "victim@example.com", "password": "the real password"}
    assert sign_up(client, **account).status_code == 201

    answers = [
        client.post("/api/v1/tokens", headers=basic(account["email"], f"guess {n}")).status_code
        for n in range(CREDENTIALS)
    ]
    right_password_too_late = client.post("/api/v1/tokens", headers=basic(account["email"], account["password"]))

    assert answers == [401] * (CREDENTIALS - 1) + [429]
    assert right_password_too_late.status_code == 429


def test_the_count_is_shared_by_all_workers(limited: Clients) -> None:
    first, second = limited(worker=0), limited(worker=1)

    statuses = [sign_up(first if n % 2 else second).status_code for n in range(CREDENTIALS + 1)]

    assert statuses == [201] * CREDENTIALS + [429]


def test_each_address_has_its_own_count(limited: Clients) -> None:
    busy, other = limited("198.51.100.7"), limited("203.0.113.9")
    for _ in range(CREDENTIALS):
        sign_up(busy)

    assert sign_up(busy).status_code == 429
    assert sign_up(other).status_code == 201


def test_requests_with_a_token_also_count_per_token(limited: Clients) -> None:
    client = limited()
    created = sign_up(client, email="writer@example.com")
    assert created.status_code == 201
    token = client.post("/api/v1/tokens", headers=basic("writer@example.com", "correct horse battery")).json()

    response = client.get("/api/v1/me", headers=bearer(token["access_token"]))

    assert response.status_code == 200
    assert response.headers["RateLimit-Policy"] == '"address";q=1200;w=60, "token";q=600;w=60'
    # The secret never reaches the store: the key is a digest of it.
    assert token["access_token"] not in response.headers["RateLimit"]
