"""Fixtures: an app built per test from create_app(settings) over a fresh, migrated database.

The suite runs on SQLite by default and on PostgreSQL when TEST_DATABASE_URL names one (make test
does both). If that PostgreSQL cannot be reached the suite fails: it never skips."""

from __future__ import annotations

import base64
import os
import shutil
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from connexion import AsyncApp
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url
from starlette.testclient import TestClient

from app import create_app
from settings import PasswordHashing, Settings
from storage.db import normalise_url
from storage.migrate import upgrade

# Argon2id still, at the smallest cost it accepts: the suite signs up hundreds of users.
FAST_HASHING = PasswordHashing(time_cost=1, memory_kib=64, parallelism=1)
TABLES = ("tokens", "posts", "users", "log_level_minutes", "log_index_positions", "rate_counters", "idempotency_keys")
POSTGRES_URL = os.environ.get("TEST_DATABASE_URL")


def _recreate_postgres_database(url: str) -> None:
    target = make_url(normalise_url(url))
    maintenance = create_engine(target.set(database="postgres"), isolation_level="AUTOCOMMIT")
    with maintenance.connect() as connection:
        connection.execute(text(f'DROP DATABASE IF EXISTS "{target.database}" WITH (FORCE)'))
        connection.execute(text(f'CREATE DATABASE "{target.database}"'))
    maintenance.dispose()


def empty_database(tmp_path: Path) -> str:
    """An empty, migrated database for a server process: a SQLite file in `tmp_path`, or the suite's
    PostgreSQL database made anew."""
    if POSTGRES_URL:
        _recreate_postgres_database(POSTGRES_URL)
        url = POSTGRES_URL
    else:
        url = f"sqlite:///{tmp_path / 'gateway.db'}"
    upgrade(url)
    return url


@pytest.fixture(scope="session")
def migrated_template(tmp_path_factory: pytest.TempPathFactory) -> str:
    """Migrated once per session: a SQLite file to copy, or the PostgreSQL database itself."""
    if POSTGRES_URL:
        _recreate_postgres_database(POSTGRES_URL)
        upgrade(POSTGRES_URL)
        return POSTGRES_URL
    template = tmp_path_factory.mktemp("template") / "gateway.db"
    upgrade(f"sqlite:///{template}")
    return str(template)


@pytest.fixture
def database_url(migrated_template: str, tmp_path: Path) -> Iterator[str]:
    if POSTGRES_URL:
        engine = create_engine(normalise_url(POSTGRES_URL))
        with engine.begin() as connection:
            connection.execute(text(f"TRUNCATE {', '.join(TABLES)} CASCADE"))
        engine.dispose()
        yield POSTGRES_URL
    else:
        target = tmp_path / "gateway.db"
        shutil.copyfile(migrated_template, target)
        yield f"sqlite:///{target}"


@pytest.fixture
def settings(database_url: str) -> Settings:
    # Rate limits are off for the suite, which signs up hundreds of users from one address;
    # tests/test_rate_limits.py turns them on.
    # On PostgreSQL, TEST_DATABASE_WORK may put its brief work on the event loop (web.threads.Placement), as
    # a worker for every core does in production; `make test` runs the requests' tests that way too.
    return Settings(
        database_url=database_url,
        password_hashing=FAST_HASHING,
        validate_responses=True,
        rate_limits=False,
        database_work=os.environ.get("TEST_DATABASE_WORK", "auto") if POSTGRES_URL else "auto",
    )


@pytest.fixture
def app(settings: Settings) -> AsyncApp:
    return create_app(settings)


@pytest.fixture
def client(app: AsyncApp) -> Iterator[TestClient]:
    with app.test_client() as test_client:
        yield test_client


def basic(email: str, password: str) -> dict[str, str]:
    credentials = base64.b64encode(f"{email}:{password}".encode()).decode()
    return {"Authorization": f"Basic {credentials}"}


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


@dataclass
class Account:
    """A signed-up user, with a bearer token and the headers that send it."""

    id: str
    email: str
    password: str
    token: str

    @property
    def auth(self) -> dict[str, str]:
        return bearer(self.token)


SignUp = Callable[..., Account]


@pytest.fixture
def sign_up(client: TestClient) -> SignUp:
    """Signs up a user through the API and gets them a token: the path every client takes."""
    counter = iter(range(1_000_000))

    def make(name: str = "Ada", scopes: list[str] | None = None, **overrides: Any) -> Account:
        email = overrides.pop("email", f"user{next(counter)}@example.com")
        password = overrides.pop("password", "correct horse battery")
        created = client.post("/api/v1/users", json={"name": name, "email": email, "password": password})
        assert created.status_code == 201, created.text
        body = {"scopes": scopes} if scopes else {}
        issued = client.post("/api/v1/tokens", json=body, headers=basic(email, password))
        assert issued.status_code == 201, issued.text
        return Account(created.json()["id"], email, password, issued.json()["access_token"])

    return make


@pytest.fixture
def make_admin(client: TestClient, database_url: str, monkeypatch: pytest.MonkeyPatch) -> SignUp:
    """Creates an administrator with the documented command, then gets an admin token through the API."""
    import manage

    def make(email: str = "root@example.com", password: str = "admin password 1") -> Account:
        monkeypatch.setenv("DATABASE_URL", database_url)
        monkeypatch.setenv("GATEWAY_ADMIN_PASSWORD", password)
        assert manage.main(["create-admin", "--email", email, "--name", "Root"]) == 0
        scopes = ["admin", "users:write", "posts:write", "logs:read"]
        issued = client.post("/api/v1/tokens", json={"scopes": scopes}, headers=basic(email, password))
        assert issued.status_code == 201, issued.text
        me = client.get("/api/v1/me", headers=bearer(issued.json()["access_token"]))
        return Account(me.json()["id"], email, password, issued.json()["access_token"])

    return make
