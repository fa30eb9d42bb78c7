"""The database under the API: migrations match the models, concurrent writers neither fail nor
overwrite each other (PATCH, PUT and DELETE racing on one version: exactly one wins), PostgreSQL
connections that died in the pool are replaced, and PostgreSQL's reads hold no transaction open."""

from __future__ import annotations

import fcntl
import multiprocessing
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ProcessPoolExecutor, ThreadPoolExecutor
from datetime import UTC, datetime
from pathlib import Path

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from connexion import AsyncApp
from httpx import Response
from sqlalchemy import create_engine, func, insert, select, text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import DBAPIError, IntegrityError, OperationalError
from starlette.testclient import TestClient

from domain import users
from domain.passwords import Passwords
from storage.db import Database, ProcessTurn, WriterTurn, normalise_url
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


def stored_users(database_url: str) -> list[str]:
    """The emails stored, as another connection (another process) sees them."""
    engine = create_engine(normalise_url(database_url))
    with engine.connect() as connection:
        emails = list(connection.scalars(select(UserRow.email).order_by(UserRow.email)))
    engine.dispose()
    return emails


def test_a_statement_written_on_its_own_is_committed_and_a_refused_one_leaves_nothing(database_url: str) -> None:
    """`write_statement` (a post's create): on PostgreSQL one statement in autocommit, no BEGIN or COMMIT."""
    db = Database(database_url)
    moment = datetime.now(UTC)
    row = {
        "id": "00000000-0000-4000-8000-000000000001", "name": "One", "email": "one@example.com", "email_key": "one",
        "password_hash": "not a hash", "is_admin": False, "created_at": moment, "updated_at": moment, "version": 1,
    }  # fmt: skip
    insert_user = insert(UserRow)

    db.write_statement(insert_user, row)
    with pytest.raises(IntegrityError):  # the same id again
        db.write_statement(insert_user, {**row, "email": "two@example.com", "email_key": "two"})
    db.write_statement(
        insert_user,
        {**row, "id": "00000000-0000-4000-8000-000000000003", "email": "three@example.com", "email_key": "3"},
    )
    db.dispose()

    assert stored_users(database_url) == ["one@example.com", "three@example.com"]


def a_user_row(moment: datetime) -> dict[str, object]:
    return {
        "id": "00000000-0000-4000-8000-000000000009", "name": "Nine", "email": "nine@example.com",
        "email_key": "nine", "password_hash": "not a hash", "is_admin": False, "created_at": moment,
        "updated_at": moment, "version": 1,
    }  # fmt: skip


def test_a_brief_read_gives_rows_whose_columns_are_attributes_and_whose_times_are_utc(database_url: str) -> None:
    """On PostgreSQL a brief read runs on the driver's own connection (storage.driver): the columns' types
    still turn the stored naive UTC into aware times, as SQLAlchemy's rows on SQLite do."""
    db = Database(database_url)
    written = datetime(2026, 3, 29, 1, 30, 15, 123456, tzinfo=UTC)
    db.write_statement(insert(UserRow), a_user_row(written))
    by_id = select(UserRow.id, UserRow.email, UserRow.created_at).where(UserRow.id == a_user_row(written)["id"])

    with db.read_rows() as connection:
        row = connection.execute(by_id).first()
        missing = connection.execute(select(UserRow.id).where(UserRow.email == "nobody@example.com")).first()
        everyone = connection.execute(select(UserRow.email)).all()
    db.dispose()

    assert row is not None
    assert (row.email, row.created_at, row.created_at.tzinfo) == ("nine@example.com", written, UTC)
    assert missing is None
    assert [user.email for user in everyone] == ["nine@example.com"]


def test_a_read_that_fails_while_its_rows_are_read_fails_as_sqlalchemys_error(database_url: str) -> None:
    """SQLite runs a statement as its rows are read, so its errors can come after the statement started:
    they too are SQLAlchemy's errors, which the web layer knows (a locked file is a 503, not a 500)."""
    db = Database(database_url)
    overflows_on_its_second_row = text(
        "SELECT abs(n) FROM (SELECT CAST(1 AS BIGINT) AS n UNION ALL SELECT CAST(-9223372036854775808 AS BIGINT)) AS v"
    )

    with pytest.raises(DBAPIError), db.read_rows() as connection:
        connection.execute(overflows_on_its_second_row).all()
    db.dispose()


def test_a_refused_statement_names_no_value_it_was_given(database_url: str) -> None:
    """A secret's hash or a password's hash must not reach a log through a database error's message."""
    db = Database(database_url)
    row = a_user_row(datetime.now(UTC))
    db.write_statement(insert(UserRow), row)

    with pytest.raises(IntegrityError) as refused:
        db.write_statement(insert(UserRow), {**row, "password_hash": "a-value-that-must-stay-secret"})
    db.dispose()

    assert "a-value-that-must-stay-secret" not in str(refused.value)


def fast_passwords() -> Passwords:
    return Passwords(
        time_cost=FAST_HASHING.time_cost, memory_kib=FAST_HASHING.memory_kib, parallelism=FAST_HASHING.parallelism
    )


def sign_up_many(database_url: str, worker: int) -> int:
    """One worker process: its own engine and connections, as a second server process would have."""
    db = Database(database_url)
    passwords = fast_passwords()
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


# Writers that all send the ETag they read, at the same moment.
RACES = {
    "PATCH": ["PATCH"] * 6,
    "PUT": ["PUT"] * 6,
    "DELETE": ["DELETE"] * 6,
    "PATCH, PUT and DELETE": ["PATCH", "PUT", "DELETE"] * 2,
}


@pytest.mark.parametrize("methods", RACES.values(), ids=RACES.keys())
def test_concurrent_writes_with_the_same_if_match_let_exactly_one_win(
    app: AsyncApp, sign_up: SignUp, methods: list[str]
) -> None:
    ada = sign_up()
    with TestClient(app) as client:
        created = client.post("/api/v1/posts", json={"title": "t", "body": "b"}, headers=ada.auth)
    url, etag = created.headers["Location"], created.headers["ETag"]
    start = threading.Barrier(len(methods))

    def write(n: int) -> Response:
        body = {"title": f"writer {n}", "body": f"written by writer {n}"} if methods[n] != "DELETE" else None
        with TestClient(app) as client:
            start.wait()
            answer: Response = client.request(methods[n], url, json=body, headers=ada.auth | {"If-Match": etag})
            return answer

    with ThreadPoolExecutor(max_workers=len(methods)) as pool:
        answers = list(pool.map(write, range(len(methods))))

    winners = [answer for answer in answers if answer.status_code < 300]
    losers = sorted(answer.status_code for answer in answers if answer.status_code >= 300)
    with TestClient(app) as client:
        final = client.get(url)
    assert len(winners) == 1, [answer.status_code for answer in answers]
    if winners[0].request.method == "DELETE":
        assert winners[0].status_code == 204
        assert final.status_code == 404
        # A write that reads the post after the deletion finds nothing (404 comes before preconditions,
        # RFC 9110 13.2.1); one that read it before fails its precondition (412).
        assert set(losers) <= {404, 412}
    else:
        assert winners[0].status_code == 200
        assert losers == [412] * (len(methods) - 1)
        assert final.json() == winners[0].json()
        assert final.headers["ETag"] == winners[0].headers["ETag"]


def test_a_sqlite_write_waiting_past_the_busy_timeout_for_its_turn_fails_as_a_locked_file_does(
    database_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    db = Database(database_url)
    if not db.is_sqlite:
        pytest.skip("PostgreSQL writers do not take turns: each row has its own lock")
    monkeypatch.setattr("storage.db.SQLITE_BUSY_TIMEOUT_MS", 200)
    writing, done = threading.Event(), threading.Event()

    def long_write() -> None:
        with db.write():
            writing.set()
            done.wait(timeout=10)

    holder = threading.Thread(target=long_write)
    holder.start()
    writing.wait(timeout=10)
    started = time.monotonic()
    with pytest.raises(OperationalError, match="database is locked"), db.write():
        pass
    waited = time.monotonic() - started
    done.set()
    holder.join()

    assert 0.2 <= waited < 5
    users.create(db, fast_passwords(), name="After", email="after@example.com", password="password123")  # a free turn
    db.dispose()


def test_sqlite_writers_of_one_process_get_their_turn_in_the_order_they_came(database_url: str) -> None:
    db = Database(database_url)
    if not db.is_sqlite:
        pytest.skip("PostgreSQL writers do not take turns: each row has its own lock")
    writing, done = threading.Event(), threading.Event()
    turns: list[int] = []

    def long_write() -> None:
        with db.write():
            writing.set()
            done.wait(timeout=10)

    def write(number: int) -> None:
        with db.write():
            turns.append(number)

    holder = threading.Thread(target=long_write)
    holder.start()
    writing.wait(timeout=10)
    writers = []
    for number in range(8):
        writer = threading.Thread(target=write, args=(number,))
        writer.start()
        writers.append(writer)
        deadline = time.monotonic() + 10
        while db.writers_waiting <= number and time.monotonic() < deadline:  # queued before the next comes
            time.sleep(0.001)
    done.set()
    for thread in (holder, *writers):
        thread.join(timeout=10)

    assert turns == list(range(8))
    db.dispose()


def write_turn(database_url: str, writer: str) -> None:
    """A write from another process: its own engine, connections and place in the processes' line."""
    db = Database(database_url)
    with db.write() as session:
        session.execute(text("INSERT INTO turns (writer) VALUES (:writer)"), {"writer": writer})
    db.dispose()


def someone_in_line(line: Path) -> bool:
    with line.open("a") as probe:
        try:
            fcntl.flock(probe, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            return True
        fcntl.flock(probe, fcntl.LOCK_UN)
        return False


def test_a_sqlite_writer_of_another_process_waiting_for_the_turn_goes_before_this_process_writes_again(
    database_url: str,
) -> None:
    db = Database(database_url)
    if not db.is_sqlite:
        pytest.skip("PostgreSQL writers do not take turns: each row has its own lock")
    with db.write() as session:
        session.execute(text("CREATE TABLE turns (writer TEXT)"))  # rows keep the order they were written in
    database_file = Path(make_url(database_url).database or "")
    line = database_file.with_name(f"{database_file.name}-line")

    # A process of its own (spawned): one forked in mid-transaction would believe it held SQLite's lock.
    with ProcessPoolExecutor(max_workers=1, mp_context=multiprocessing.get_context("spawn")) as other_process:
        with db.write() as session:
            session.execute(text("INSERT INTO turns (writer) VALUES ('this process')"))
            waiting = other_process.submit(write_turn, database_url, "the other process")
            deadline = time.monotonic() + 30
            while not someone_in_line(line) and time.monotonic() < deadline:
                time.sleep(0.005)
            assert someone_in_line(line), "the other process's writer never stood in line"
        with db.write() as session:  # at once, while the other process is still waking up
            session.execute(text("INSERT INTO turns (writer) VALUES ('this process, again')"))
        waiting.result(timeout=30)

    with db.read() as session:
        turns = session.scalars(text("SELECT writer FROM turns ORDER BY rowid")).all()
    assert turns == ["this process", "the other process", "this process, again"]
    db.dispose()


def test_the_sqlite_turn_taken_without_waiting_is_refused_while_another_process_has_it_or_stands_in_line(
    tmp_path: Path,
) -> None:
    database = tmp_path / "gateway.db"
    this_process = WriterTurn(ProcessTurn(database))
    other_process = ProcessTurn(database)  # files of its own: flock(2) sets it apart as another process's
    line = database.with_name(f"{database.name}-line")

    with other_process:
        assert not this_process.take_if_free()
    with line.open("a") as standing_in_line:
        fcntl.flock(standing_in_line, fcntl.LOCK_EX)
        assert not this_process.take_if_free()  # the process waiting goes first
    assert this_process.take_if_free()
    assert not other_process.take_if_free()
    this_process.__exit__()
    assert other_process.take_if_free()
    other_process.__exit__()


def backend_of_the_pooled_connection(db: Database, use: str = "read_rows") -> int:
    """The server process behind the connection a read (`read_rows`) or a write (`write`) is given."""
    with getattr(db, use)() as connection:
        return int(connection.execute(text("SELECT pg_backend_pid()")).scalar_one())


def kill_backend(database_url: str, pid: int) -> None:
    """What a server restart or an administrator does to a connection resting in the pool."""
    engine = create_engine(normalise_url(database_url))
    with engine.begin() as connection:
        connection.execute(text("SELECT pg_terminate_backend(:pid)"), {"pid": pid})
    engine.dispose()


@pytest.fixture
def postgresql_db(database_url: str) -> Iterator[Database]:
    db = Database(database_url)
    if db.is_sqlite:
        pytest.skip("SQLite has no server whose connections can die")
    yield db
    db.dispose()


@pytest.mark.parametrize("use", ["read_rows", "write"])  # reads and writes have pools of their own
def test_a_postgresql_connection_that_died_while_resting_in_the_pool_is_replaced_before_a_request_uses_it(
    postgresql_db: Database, database_url: str, monkeypatch: pytest.MonkeyPatch, use: str
) -> None:
    monkeypatch.setattr("storage.db.PING_AFTER_IDLE_SECONDS", 0.05)
    dead = backend_of_the_pooled_connection(postgresql_db, use)
    kill_backend(database_url, dead)
    time.sleep(0.1)  # a rest longer than the one after which a connection is pinged

    assert backend_of_the_pooled_connection(postgresql_db, use) != dead  # answered, on a new connection


def test_a_postgresql_connection_killed_in_steady_use_fails_the_one_request_that_meets_it(
    postgresql_db: Database, database_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("storage.db.PING_AFTER_IDLE_SECONDS", 3600)  # never resting long enough to be pinged
    dead = backend_of_the_pooled_connection(postgresql_db)
    kill_backend(database_url, dead)

    with pytest.raises(OperationalError):
        backend_of_the_pooled_connection(postgresql_db)
    assert backend_of_the_pooled_connection(postgresql_db) != dead  # the pool has let the dead connection go


@pytest.mark.parametrize("read", ["read", "read_rows"])
def test_a_postgresql_read_leaves_no_transaction_open_on_the_server(
    postgresql_db: Database, database_url: str, read: str
) -> None:
    """What the server's monitor shows while a request reads: the connection idle between statements, not
    idle in a transaction (each read statement is its own, as PostgreSQL's read committed makes it anyway)."""
    observer = create_engine(normalise_url(database_url))
    with getattr(postgresql_db, read)() as reading, observer.connect() as watching:
        pid = reading.execute(text("SELECT pg_backend_pid()")).scalar_one()
        activity = text("SELECT state FROM pg_stat_activity WHERE pid = :pid")
        state = watching.execute(activity, {"pid": pid}).scalar_one()
    observer.dispose()

    assert state == "idle"
