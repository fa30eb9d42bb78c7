"""The engine and the unit of work: every request's writes happen in one transaction."""

from __future__ import annotations

import collections
import contextvars
import fcntl
import ipaddress
import os
import sqlite3
import threading
import time
from collections.abc import Iterator
from contextlib import AbstractContextManager, contextmanager, nullcontext
from pathlib import Path
from typing import Any, BinaryIO

import psycopg
from sqlalchemy import Engine, Executable, create_engine, event
from sqlalchemy.engine import make_url
from sqlalchemy.exc import DisconnectionError, OperationalError
from sqlalchemy.orm import Session, sessionmaker
from sqlalchemy.pool import Pool

from storage.driver import Compiled, DriverConnection

SQLITE_BUSY_TIMEOUT_MS = 10_000
# Connections a pool keeps (POOL_SIZE) and may open beyond them under load (POOL_OVERFLOW). PostgreSQL's
# reads and writes have a pool each; SQLite has one.
POOL_SIZE = 10
POOL_OVERFLOW = 10
# A PostgreSQL connection back from a rest this long is asked whether it still works before it is used.
PING_AFTER_IDLE_SECONDS = 1.0
_WRITE = "gateway_write"
_IDLE_SINCE = "gateway_idle_since"


def configure_sqlite(dbapi_connection: Any) -> None:
    """Wait for locks instead of failing, enforce foreign keys, and use WAL so readers never block the
    writer. WAL is a property of the file: it is set once (by the migrations) and only checked here,
    because switching it needs a moment alone with the file, which two starting workers do not give."""
    cursor = dbapi_connection.cursor()
    cursor.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_MS}")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA synchronous=NORMAL")
    if cursor.execute("PRAGMA journal_mode").fetchone()[0] != "wal":
        cursor.execute("PRAGMA journal_mode=WAL")
    cursor.close()


def ensure_sqlite_directory(url: str) -> None:
    """SQLite creates the file on first use, but not the folders above it (var/ on a fresh clone)."""
    parsed = make_url(normalise_url(url))
    if parsed.get_backend_name() == "sqlite" and parsed.database and parsed.database != ":memory:":
        Path(parsed.database).parent.mkdir(parents=True, exist_ok=True)


def normalise_url(url: str) -> str:
    """postgresql:// means the psycopg 3 driver, the one we install."""
    if url.startswith("postgresql://"):
        return "postgresql+psycopg://" + url.removeprefix("postgresql://")
    return url


class ProcessTurn:
    """The writers of several processes on one SQLite file (gunicorn's workers) take turns through two
    flock(2) locks on files beside it, one writer of each process at a time (WriterTurn lets only one in):
    the turn, held for the transaction, and the line, held by the one writer waiting next. A writer must
    stand in the line before it may wait for the turn, so the process that just wrote cannot take the turn
    again ahead of one already waiting: with SQLite's busy handler alone, which sleeps up to 100 ms between
    tries, two busy workers' creates ran slower than one's (p99 161 ms against 40). The kernel drops a
    process's locks when it exits; a turn is held for one transaction, whose own waits for the file are
    bounded by SQLite's busy timeout, so the line moves on. Each process opens the files itself: a file
    inherited across fork() shares its locks with the parent's."""

    def __init__(self, database: Path) -> None:
        self.paths = (database.with_name(f"{database.name}-line"), database.with_name(f"{database.name}-turn"))
        self._owner = 0  # the process that opened the files below; they close when this object goes
        self._files: tuple[BinaryIO, BinaryIO] | None = None

    def _opened(self) -> tuple[BinaryIO, BinaryIO]:
        if self._files is None or self._owner != os.getpid():
            line, turn = (path.open("ab") for path in self.paths)
            self._owner, self._files = os.getpid(), (line, turn)
        return self._files

    def __enter__(self) -> None:
        line, turn = self._opened()
        fcntl.flock(line, fcntl.LOCK_EX)
        try:
            fcntl.flock(turn, fcntl.LOCK_EX)
        finally:
            fcntl.flock(line, fcntl.LOCK_UN)

    def __exit__(self, *_exc: object) -> None:
        fcntl.flock(self._opened()[1], fcntl.LOCK_UN)

    def take_if_free(self) -> bool:
        """The turn, if no process has it and none stands in line for it; never waits."""
        line, turn = self._opened()
        try:
            fcntl.flock(line, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            return False  # a writer of another process waits: it goes first
        try:
            fcntl.flock(turn, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            return False
        finally:
            fcntl.flock(line, fcntl.LOCK_UN)
        return True


_HELD: contextvars.ContextVar[WriterTurn | None] = contextvars.ContextVar("gateway_write_turn_held", default=None)


class WriterTurn:
    """SQLite lets one transaction write at a time. Its busy handler makes a waiting writer sleep and try
    again, up to 100 ms a time, whether or not the lock was freed meanwhile: with a dozen threads of one
    process writing at once, that sleeping was most of a create's latency (p99 over half a second under
    load). The writers of one process take their turn here instead, in the order they came, each handed
    the turn the moment the one before is done, and then, on a file, the processes' turn (ProcessTurn);
    only other programs' writers meet SQLite's busy handler. A turn that does not come within the busy
    timeout fails as SQLite's own lock does (a 503).

    A writer in a thread takes the turn with `with`. The event loop never waits for it (web.threads): it
    takes the turn if it is free at once (`take_if_free`), or has a thread wait for it, then writes
    `holding` it, and gives it back with `__exit__`."""

    def __init__(self, processes: ProcessTurn | None = None) -> None:
        self._guard = threading.Lock()  # over the two fields below
        self._taken = False
        self._waiting: collections.deque[threading.Lock] = collections.deque()  # first come, first served
        self._processes = processes

    def __enter__(self) -> None:
        self._take_our_turn()
        try:
            if self._processes is not None:
                self._processes.__enter__()
        except BaseException:
            self._pass_on()
            raise

    def take_if_free(self) -> bool:
        """Both turns, if they are free at once: no writer of this process has the turn or waits for it, and no
        process has the file's or stands in line for it. Never waits; True if taken (`with` gives it back)."""
        with self._guard:
            if self._taken:
                return False
            self._taken = True
        if self._processes is not None and not self._processes.take_if_free():
            self._pass_on()
            return False
        return True

    @contextmanager
    def holding(self) -> Iterator[None]:
        """Writes of this context within the block hold the turn already: they do not take it again."""
        token = _HELD.set(self)
        try:
            yield
        finally:
            _HELD.reset(token)

    @property
    def held_here(self) -> bool:
        """Whether this context is within `holding`."""
        return _HELD.get() is self

    def _take_our_turn(self) -> None:
        with self._guard:
            if not self._taken:
                self._taken = True
                return
            turn = threading.Lock()
            turn.acquire()
            self._waiting.append(turn)
        if turn.acquire(timeout=SQLITE_BUSY_TIMEOUT_MS / 1000):
            return  # handed over by the writer before
        with self._guard:
            if turn not in self._waiting:
                return  # handed over just as the wait ran out: the turn is this writer's all the same
            self._waiting.remove(turn)
        raise OperationalError("BEGIN IMMEDIATE", None, sqlite3.OperationalError("database is locked"))

    @property
    def waiting(self) -> int:
        """Writers waiting for their turn now."""
        with self._guard:
            return len(self._waiting)

    def __exit__(self, *_exc: object) -> None:
        try:
            if self._processes is not None:
                self._processes.__exit__(None, None, None)
        finally:
            self._pass_on()

    def _pass_on(self) -> None:
        with self._guard:
            if self._waiting:
                self._waiting.popleft().release()  # the turn passes straight on: still taken
            else:
                self._taken = False


class Database:
    def __init__(self, url: str) -> None:
        self.url = make_url(normalise_url(url))
        self.is_sqlite = self.url.get_backend_name() == "sqlite"
        self.in_memory = self.is_sqlite and self.url.database in (None, "", ":memory:")
        # Several processes may share a SQLite file, never an in-memory database.
        shared_file = self.is_sqlite and not self.in_memory
        self._process_turn = ProcessTurn(Path(self.url.database or "")) if shared_file else None
        # The engine of writes, migrations and maintenance; on SQLite, of reads too.
        self.engine = self._sqlite_engine() if self.is_sqlite else self._postgresql_engine()
        # The most connections a pool opens at once: no more handlers should run at once.
        self.max_connections = POOL_SIZE + POOL_OVERFLOW
        # PostgreSQL's reads run without BEGIN and COMMIT: under its default isolation (read committed) each
        # statement sees its own snapshot inside a transaction too, so the pair bought nothing but two round
        # trips, each holding up the worker's event loop where reads run there (two workers, reads of a post
        # 1.06 times the rate). Their connections stay in the driver's autocommit in a pool of their own:
        # switched at every checkout and back at every return, on the writes' pool, the switch cost a read
        # a fifth of its CPU time (reads of a post 1.10 times the rate without it on two workers, 1.15 on one).
        # SQLite's read transaction is one snapshot for all its statements: kept.
        self._read_engine = self.engine if self.is_sqlite else self._postgresql_engine(autocommit=True)
        self._reads = sessionmaker(self._read_engine, expire_on_commit=False)
        self._compiled: dict[Executable, Compiled] = {}  # the brief statements, compiled (storage.driver)
        self._write_engine = self.engine.execution_options(**{_WRITE: True})
        self._writes = sessionmaker(self._write_engine, expire_on_commit=False)
        # SQLite's writers take turns; PostgreSQL's do not need to: each row has its own lock.
        self.writer_turn = WriterTurn(self._process_turn) if self.is_sqlite else None

    @property
    def on_this_machine(self) -> bool:
        """Whether the database's server runs beside this process: SQLite, or PostgreSQL over a Unix socket
        or a loopback address (its work then takes this machine's cores, not a round trip over a network)."""
        if self.is_sqlite:
            return True
        host = self.url.host or str(self.url.query.get("host") or "")
        if host in ("", "localhost") or host.startswith("/"):
            return True
        try:
            return ipaddress.ip_address(host).is_loopback
        except ValueError:  # a name other than localhost
            return False

    @property
    def writers_waiting(self) -> int:
        """SQLite writers of this process waiting for their turn now; PostgreSQL's never wait for one."""
        return self.writer_turn.waiting if self.writer_turn is not None else 0

    def _turn(self) -> AbstractContextManager[None]:
        """The writer's turn to take, unless there is none to take or this context holds it already."""
        turn = self.writer_turn
        return nullcontext() if turn is None or turn.held_here else turn

    @property
    def pools(self) -> tuple[Pool, ...]:
        """The pools this process's connections come from: one on SQLite, reads' and writes' on PostgreSQL."""
        engines = (self.engine,) if self._read_engine is self.engine else (self._read_engine, self.engine)
        return tuple(engine.pool for engine in engines)

    def _postgresql_engine(self, *, autocommit: bool = False) -> Engine:
        """One of two pools, reads' (`autocommit`) and writes', each as large as the one pool before: the
        threads that read (eight for requests, four for passwords, and the event loop) would otherwise open
        and close connections beyond a smaller pool's (half of POOL_SIZE each: gets 0.72 of the rate, one
        worker). A read's connection goes back without a ROLLBACK: in autocommit there is no transaction to
        end.

        Fails fast when the server is away (a 503 in seconds, not a hung request), and replaces the
        connections that died with it, so the service recovers by itself when it is back: a connection that
        rested in the pool for PING_AFTER_IDLE_SECONDS or more is pinged before use, and one that fails the
        ping is replaced by a new one (SQLAlchemy's own answer to a `DisconnectionError` raised at checkout).
        SQLAlchemy's `pool_pre_ping` pings at every checkout: a round trip to the server each time a
        connection is taken (a create takes two: its caller's token, its write), which cost creates a tenth
        of their rate on two workers. A
        server that restarts is away longer than the rest, so its old connections are pinged; one dropped
        while in steady use (a connection killed on the server) fails the request that meets it, and the
        pool's older connections are discarded with it (by SQLAlchemy, or by storage.driver for the brief
        statements it runs)."""
        engine = create_engine(
            self.url,
            pool_size=POOL_SIZE,
            max_overflow=POOL_OVERFLOW,
            pool_timeout=5,
            connect_args={"connect_timeout": 3},
            hide_parameters=True,  # a secret's hash or a password's hash never in an error's message
            **({"isolation_level": "AUTOCOMMIT", "pool_reset_on_return": None} if autocommit else {}),
        )

        @event.listens_for(engine, "checkin")
        def on_checkin(_dbapi_connection: Any, record: Any) -> None:
            record.info[_IDLE_SINCE] = time.monotonic()

        @event.listens_for(engine, "checkout")
        def on_checkout(dbapi_connection: Any, record: Any, _proxy: Any) -> None:
            idle_since = record.info.get(_IDLE_SINCE)
            if idle_since is None or time.monotonic() - idle_since < PING_AFTER_IDLE_SECONDS:
                return  # new, or back from a rest too short to worry about
            try:
                dbapi_connection.execute("SELECT 1")
                dbapi_connection.rollback()  # the ping began a transaction: the caller's begins clean
            except psycopg.Error as error:
                raise DisconnectionError("the connection did not answer a ping after a rest") from error

        return engine

    def _sqlite_engine(self) -> Engine:
        ensure_sqlite_directory(self.url.render_as_string(hide_password=False))
        pool = {} if self.in_memory else {"pool_size": POOL_SIZE, "max_overflow": POOL_OVERFLOW}
        engine = create_engine(
            self.url, connect_args={"timeout": SQLITE_BUSY_TIMEOUT_MS / 1000}, hide_parameters=True, **pool
        )

        @event.listens_for(engine, "connect")
        def on_connect(dbapi_connection: Any, _record: Any) -> None:
            # Let SQLAlchemy, not the driver, decide when a transaction begins (see on_begin).
            dbapi_connection.isolation_level = None
            configure_sqlite(dbapi_connection)

        @event.listens_for(engine, "begin")
        def on_begin(connection: Any) -> None:
            # A write takes the write lock up front: a deferred transaction that upgrades from
            # read to write fails at once with "database is locked" instead of waiting its turn.
            immediate = connection.get_execution_options().get(_WRITE, False)
            connection.exec_driver_sql("BEGIN IMMEDIATE" if immediate else "BEGIN")

        return engine

    @contextmanager
    def write(self) -> Iterator[Session]:
        """One transaction: committed when the block ends, rolled back entirely if it raises."""
        with self._turn(), self._writes() as session, session.begin():
            yield session

    @contextmanager
    def read(self) -> Iterator[Session]:
        """Reads: on SQLite one transaction, one snapshot; on PostgreSQL each statement on its own."""
        with self._reads() as session, session.begin():
            yield session

    def write_statement(self, statement: Executable, parameters: dict[str, Any]) -> None:
        """One statement that changes rows, as a transaction of its own, on a plain connection (no ORM
        objects): all of it is written, or nothing. On PostgreSQL in the reads' pool, in autocommit, on the
        driver's own connection (storage.driver): one round trip, where BEGIN, the statement and COMMIT took
        three, each holding up the worker's event loop where brief writes run there (two workers, creates
        1.12 times the rate, p99 21.9 to 17.2 ms). On SQLite in the writers' turn and a write transaction,
        as `write`. Statements that belong together go through `write`, in one transaction."""
        if self.is_sqlite:
            with self._turn(), self._write_engine.connect() as connection, connection.begin():
                connection.execute(statement, parameters)
        else:
            with self._driver_connection() as driver:
                driver.execute(statement, parameters)

    @contextmanager
    def read_rows(self) -> Iterator[DriverConnection]:
        """For queries that need no ORM objects, on the driver's own connection (storage.driver): each
        statement on its own, as PostgreSQL's reads are anyway (read committed); on SQLite one statement is
        one snapshot. The brief reads run one statement each; reads whose statements must agree go through
        `read` (on SQLite one transaction)."""
        with self._driver_connection() as driver:
            yield driver

    @contextmanager
    def _driver_connection(self) -> Iterator[DriverConnection]:
        connection = DriverConnection(self._read_engine, self._compiled)
        try:
            yield connection
        finally:
            connection.close()

    def dispose(self) -> None:
        self.engine.dispose()
        if self._read_engine is not self.engine:
            self._read_engine.dispose()
