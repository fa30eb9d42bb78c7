"""Liveness and readiness, and what clients get while the database is away: a quick 503 problem with
Retry-After, nothing half done, and the service back by itself when the database returns."""

from __future__ import annotations

import contextlib
import socket
import sqlite3
import threading
import time
from collections.abc import Iterator
from dataclasses import replace

import pytest
from alembic import command
from sqlalchemy.engine import make_url
from starlette.testclient import TestClient

from app import create_app
from settings import Settings
from storage.migrate import alembic_config, head_revision
from tests.conftest import POSTGRES_URL
from tests.servers import free_port

NEW_USER = {"name": "Ada", "email": "ada@example.com", "password": "correct horse battery"}


def test_liveness_needs_no_token(client: TestClient) -> None:
    response = client.get("/api/v1/healthz")

    assert response.status_code == 200
    assert response.json() == {"status": "alive"}


def test_ready_when_the_database_is_at_this_builds_migration(client: TestClient) -> None:
    response = client.get("/api/v1/readyz")

    assert response.status_code == 200
    assert response.json() == {"status": "ready", "migration": head_revision()}


def test_not_ready_when_a_migration_is_missing(client: TestClient, database_url: str) -> None:
    command.downgrade(alembic_config(database_url), "-1")
    try:
        response = client.get("/api/v1/readyz")
    finally:
        command.upgrade(alembic_config(database_url), "head")  # PostgreSQL's database outlives the test

    assert response.status_code == 503
    assert response.headers["Content-Type"] == "application/problem+json"
    assert head_revision() in response.json()["detail"]
    assert response.headers["Retry-After"] == "5"


class Outage:
    """A TCP relay between the service and PostgreSQL that can drop every connection and refuse new
    ones, as a database host that went away does, and come back on the same port."""

    def __init__(self, upstream: tuple[str, int]) -> None:
        self.upstream = upstream
        self.port = free_port()
        self.connections: list[socket.socket] = []
        self.listener: socket.socket | None = None

    def start(self) -> None:
        listener = socket.create_server(("127.0.0.1", self.port), reuse_port=False)
        self.listener = listener
        threading.Thread(target=self._accept, args=(listener,), daemon=True).start()

    def stop(self) -> None:
        assert self.listener is not None
        # shutdown() wakes the thread blocked in accept(); close() alone would leave it accepting.
        with contextlib.suppress(OSError):
            self.listener.shutdown(socket.SHUT_RDWR)
        self.listener.close()
        for connection in self.connections:
            with contextlib.suppress(OSError):
                connection.shutdown(socket.SHUT_RDWR)
            connection.close()
        self.connections.clear()

    def _accept(self, listener: socket.socket) -> None:
        while True:
            try:
                client, _ = listener.accept()
            except OSError:
                return
            server = socket.create_connection(self.upstream)
            self.connections += [client, server]
            for source, target in ((client, server), (server, client)):
                threading.Thread(target=self._pump, args=(source, target), daemon=True).start()

    @staticmethod
    def _pump(source: socket.socket, target: socket.socket) -> None:
        try:
            while data := source.recv(65536):
                target.sendall(data)
        except OSError:
            pass


@pytest.fixture
def outage(database_url: str) -> Iterator[Outage]:
    url = make_url(database_url)
    relay = Outage((url.host or "127.0.0.1", url.port or 5432))
    relay.start()
    yield relay
    if relay.listener is not None:
        relay.listener.close()


@pytest.mark.skipif(not POSTGRES_URL, reason="the PostgreSQL pass; SQLite's case is the locked file below")
def test_postgresql_away_gives_quick_503s_and_the_service_recovers_by_itself(
    settings: Settings, database_url: str, outage: Outage
) -> None:
    through_relay = make_url(database_url).set(port=outage.port).render_as_string(hide_password=False)
    app = create_app(replace(settings, database_url=through_relay))
    with app.test_client() as client:
        assert client.get("/api/v1/users").status_code == 200

        outage.stop()
        started = time.monotonic()
        listing = client.get("/api/v1/users")
        signing_up = client.post("/api/v1/users", json=NEW_USER)
        readiness = client.get("/api/v1/readyz")
        waited = time.monotonic() - started

        assert [listing.status_code, signing_up.status_code, readiness.status_code] == [503, 503, 503]
        assert listing.headers["Content-Type"] == "application/problem+json"
        assert listing.headers["Retry-After"] == "5"
        assert "Traceback" not in listing.text
        assert "SELECT" not in listing.text
        assert waited < 30  # fails fast (3 s connect timeout), never hangs on a host that is gone

        outage.start()
        assert client.get("/api/v1/readyz").status_code == 200
        assert client.get("/api/v1/users").json()["items"] == []  # the refused sign-up left nothing
        assert client.post("/api/v1/users", json=NEW_USER).status_code == 201


@pytest.mark.skipif(bool(POSTGRES_URL), reason="the SQLite pass; PostgreSQL's case is the relay above")
def test_sqlite_locked_past_the_busy_timeout_gives_503_and_nothing_half_done(
    client: TestClient, database_url: str
) -> None:
    holder = sqlite3.connect(make_url(database_url).database or "", isolation_level=None)
    holder.execute("BEGIN EXCLUSIVE")  # another process holding the write lock and never letting go

    refused = client.post("/api/v1/users", json=NEW_USER)
    holder.execute("ROLLBACK")
    holder.close()

    assert refused.status_code == 503
    assert refused.headers["Retry-After"] == "5"
    assert client.get("/api/v1/users").json()["items"] == []
    assert client.post("/api/v1/users", json=NEW_USER).status_code == 201
