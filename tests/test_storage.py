"""The database under the API: migrations match the models, concurrent writers neither fail nor
overwrite each other."""

from __future__ import annotations

import threading
from concurrent.futures import ProcessPoolExecutor, ThreadPoolExecutor
from pathlib import Path

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from connexion import FlaskApp
from sqlalchemy import create_engine, func, select
from starlette.testclient import TestClient

from domain import users
from domain.passwords import Passwords
from storage.db import Database, normalise_url
from storage.migrate import upgrade
from storage.models import Base, UserRow
from tests.conftest import FAST_HASHING, SignUp

WRITES_PER_WORKER = 200


def test_the_migrations_build_exactly_the_tables_the_models_describe(database_url: str) -> None:
    engine = create_engine(normalise_url(database_url))
    with engine.connect() as connection:
        differences = compare_metadata(MigrationContext.configure(connection), Base.metadata)
    engine.dispose()

    assert differences == []


def test_migrating_creates_the_sqlite_folder_on_a_fresh_checkout(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'var' / 'nested' / 'gateway.db'}"

    upgrade(url)

    assert (tmp_path / "var" / "nested" / "gateway.db").is_file()


def sign_up_many(database_url: str, worker: int) -> int:
    """One worker process: its own engine and connections, as a second server process would have."""
    db = Database(database_url)
    passwords = Passwords(
        time_cost=FAST_HASHING.time_cost, memory_kib=FAST_HASHING.memory_kib, parallelism=FAST_HASHING.parallelism
    )
    for n in range(WRITES_PER_WORKER):
        users.create(db, passwords, name=f"w{worker}", email=f"w{worker}-{n}@example.com", password="password123")
    db.dispose()
    return WRITES_PER_WORKER


def test_two_worker_processes_writing_at_once_both_succeed(database_url: str) -> None:
    with ProcessPoolExecutor(max_workers=2) as pool:
        written = sum(pool.map(sign_up_many, [database_url] * 2, [1, 2]))

    engine = create_engine(normalise_url(database_url))
    with engine.connect() as connection:
        stored = connection.scalar(select(func.count()).select_from(UserRow))
    engine.dispose()
    assert written == stored == 2 * WRITES_PER_WORKER


def test_concurrent_updates_with_the_same_if_match_let_exactly_one_win(app: FlaskApp, sign_up: SignUp) -> None:
    ada = sign_up()
    with TestClient(app) as client:
        created = client.post("/api/v1/posts", json={"title": "t", "body": "b"}, headers=ada.auth)
    url, etag = created.headers["Location"], created.headers["ETag"]
    writers = 6
    start = threading.Barrier(writers)

    def update(n: int) -> int:
        with TestClient(app) as client:
            start.wait()
            response = client.patch(url, json={"title": f"writer {n}"}, headers=ada.auth | {"If-Match": etag})
            status: int = response.status_code
            return status

    with ThreadPoolExecutor(max_workers=writers) as pool:
        statuses = sorted(pool.map(update, range(writers)))

    assert statuses == [200] + [412] * (writers - 1)
