"""The threads that run blocking work: a shutdown (one server of the app stopping, as tests do while other
servers of the same app still serve) never strands work that was handed over. Brief reads of SQLite run on
the event loop while no thread has work, and only operations that change nothing are marked as such. Brief
writes of SQLite run on the loop in the file's turn, in the order they came, without the loop ever waiting
for another process. Every operation that hashes or verifies a password runs in the threads kept for
Argon2, away from the others."""

from __future__ import annotations

import asyncio
import importlib
import threading
import time
from collections.abc import Callable, Coroutine
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any, TypeVar

import pytest
from sqlalchemy.exc import OperationalError

from app import load_spec, placement_of_database_work
from settings import Settings
from storage.db import Database, ProcessTurn, WriterTurn
from web.resolver import handler_name
from web.threads import Placement, Workers, is_brief_read, is_brief_write, is_password_work

CALLERS = 4
CALLS_PER_CALLER = 300
T = TypeVar("T")


def on_a_loop_of_its_own(work: Coroutine[Any, Any, T]) -> T:
    """Runs `work` on an event loop in a thread of its own, as a server's loop runs."""
    with ThreadPoolExecutor(max_workers=1) as server:
        return server.submit(asyncio.run, work).result()


def test_work_handed_over_while_the_pool_shuts_down_still_runs() -> None:
    workers = Workers(size=3)
    stop = threading.Event()

    def caller(n: int) -> list[int]:
        async def calls() -> list[int]:
            # A stranded job would never finish: a deadline makes that a failure instead of a hang.
            return [await asyncio.wait_for(workers.run(pow, n, 2), timeout=10) for _ in range(CALLS_PER_CALLER)]

        return asyncio.run(calls())

    def shut_down_repeatedly() -> int:
        shutdowns = 0
        while not stop.is_set():
            workers.shutdown()
            shutdowns += 1
        return shutdowns

    with ThreadPoolExecutor(max_workers=CALLERS + 1) as pool:
        shutdowns = pool.submit(shut_down_repeatedly)
        results = list(pool.map(caller, range(CALLERS)))
        stop.set()

    assert results == [[n**2] * CALLS_PER_CALLER for n in range(CALLERS)]
    assert shutdowns.result() > 0
    workers.shutdown()


def test_no_more_threads_than_the_size_however_much_work_waits() -> None:
    workers = Workers(size=2)
    seen: set[str] = set()
    release = threading.Event()

    def blocking() -> None:
        seen.add(threading.current_thread().name)
        release.wait(timeout=10)

    async def many() -> None:
        pending = [asyncio.ensure_future(workers.run(blocking)) for _ in range(10)]
        await asyncio.sleep(0.2)
        running = len(seen)
        release.set()
        await asyncio.gather(*pending)
        assert running == 2

    with ThreadPoolExecutor(max_workers=1) as loop_thread:  # an event loop of its own, as a server has
        loop_thread.submit(asyncio.run, many()).result()
    assert len(seen) == 2
    workers.shutdown()


@pytest.mark.parametrize(
    ("placement", "read_on_loop", "write_on_loop"),
    [(Placement.SQLITE, True, True), (Placement.THREADS, False, False), (Placement.EVENT_LOOP, True, True)],
    ids=["sqlite", "postgresql-with-a-core-to-spare", "postgresql-with-every-core-taken"],
)
def test_brief_work_runs_on_the_event_loop_where_the_placement_says_and_other_work_never(
    placement: Placement, read_on_loop: bool, write_on_loop: bool
) -> None:
    workers = Workers(size=2, placement=placement, write_turn=WriterTurn())

    async def threads_of_brief_work_and_of_other_work() -> tuple[str, str, str, str]:
        loop_thread = threading.current_thread().name
        read = await workers.run_brief(lambda: threading.current_thread().name)
        write = await workers.run_brief_write(lambda: threading.current_thread().name)
        other = await workers.run(lambda: threading.current_thread().name)
        return loop_thread, read, write, other

    with ThreadPoolExecutor(max_workers=1) as server:  # an event loop of its own, as a server has
        loop_thread, read, write, other = server.submit(asyncio.run, threads_of_brief_work_and_of_other_work()).result()
    workers.shutdown()

    assert (read == loop_thread) is read_on_loop
    assert (write == loop_thread) is write_on_loop
    assert other != loop_thread


@pytest.mark.parametrize(
    ("url", "told", "workers", "placement"),
    [
        ("sqlite:///gateway.db", None, 2, Placement.SQLITE),
        ("postgresql://127.0.0.1/gateway", None, 1, Placement.THREADS),  # a core to spare: the hop pays
        ("postgresql://localhost/gateway", None, 2, Placement.EVENT_LOOP),  # a worker on every core
        ("postgresql:///gateway?host=/run/postgresql", None, 2, Placement.EVENT_LOOP),  # a Unix socket
        ("postgresql://db.internal/gateway", None, 4, Placement.THREADS),  # a round trip of the network
        ("postgresql://localhost/gateway", "threads", 2, Placement.THREADS),
        ("postgresql://db.internal/gateway", "event-loop", 1, Placement.EVENT_LOOP),
    ],
)
def test_postgresql_work_goes_on_the_event_loop_once_workers_take_every_core_of_the_machine_it_runs_on(
    url: str, told: str | None, workers: int, placement: Placement
) -> None:
    env = {"DATABASE_URL": url, "WEB_CONCURRENCY": str(workers)} | ({"GATEWAY_DATABASE_WORK": told} if told else {})
    db = Database(url)
    try:
        assert placement_of_database_work(Settings.from_env(env), db, cores=2) is placement
    finally:
        db.dispose()


def test_a_brief_read_goes_to_a_thread_while_a_thread_has_work_and_comes_back_to_the_loop_after() -> None:
    workers = Workers(size=2, placement=Placement.SQLITE)
    writing = threading.Event()
    release = threading.Event()

    def a_write() -> None:
        writing.set()
        release.wait(timeout=10)

    async def threads_of_brief_reads() -> tuple[str, str, str]:
        loop_thread = threading.current_thread().name
        write = asyncio.ensure_future(workers.run(a_write))
        await asyncio.to_thread(writing.wait, 10)
        during = await workers.run_brief(lambda: threading.current_thread().name)
        release.set()
        await write
        after = await workers.run_brief(lambda: threading.current_thread().name)
        return loop_thread, during, after

    with ThreadPoolExecutor(max_workers=1) as server:  # an event loop of its own, as a server has
        loop_thread, during, after = server.submit(asyncio.run, threads_of_brief_reads()).result()
    workers.shutdown()

    assert during != loop_thread
    assert after == loop_thread
    assert workers.unfinished == 0


def operations_marked(is_marked: Callable[[Callable[..., Any]], bool]) -> set[str]:
    """The spec's operations, as "METHOD /path", whose handler carries the mark."""
    marked = set()
    for path, methods in load_spec()["paths"].items():
        for method, operation in methods.items():
            module, _, name = handler_name(operation).rpartition(".")
            if is_marked(getattr(importlib.import_module(module), name)):
                marked.add(f"{method.upper()} {path}")
    return marked


def test_only_operations_that_change_nothing_are_marked_as_brief_reads() -> None:
    marked = operations_marked(is_brief_read)
    for operation in marked:
        assert operation.startswith("GET "), f"{operation} changes things: it is no read"
    # The reads of a row or a page, and nothing that reads files, hashes passwords or waits on anything else.
    assert marked == {
        "GET /posts", "GET /posts/{post_id}", "GET /users", "GET /users/{user_id}", "GET /me", "GET /tokens",
        "GET /tokens/{token_id}",
    }  # fmt: skip


def test_only_writes_of_a_row_or_two_are_marked_as_brief_writes() -> None:
    marked = operations_marked(is_brief_write)
    # A post written or deleted, a token revoked: one transaction of a row or two. Not a user deleted (all
    # their posts and tokens go with them), not a sign-in (a password hash), not a read.
    assert marked == {
        "POST /posts", "PUT /posts/{post_id}", "PATCH /posts/{post_id}", "DELETE /posts/{post_id}",
        "DELETE /tokens/{token_id}",
    }  # fmt: skip
    assert not marked & operations_marked(is_brief_read)
    assert not marked & operations_marked(is_password_work)


def test_every_operation_that_hashes_or_verifies_a_password_runs_in_the_threads_kept_for_it() -> None:
    marked = operations_marked(is_password_work)
    # Signing in (the password grant), signing up, and changing a user, whose body may carry a new password.
    # HTTP Basic's check (handlers.security) hashes in those threads too.
    assert marked == {"POST /tokens", "POST /users", "PUT /users/{user_id}", "PATCH /users/{user_id}"}


def test_work_in_one_pool_never_waits_for_a_full_other_pool() -> None:
    requests, hashing = Workers(size=1), Workers(size=1, name="gateway-hashing")
    release = threading.Event()

    async def a_read_while_every_hashing_thread_is_busy() -> str:
        busy = asyncio.ensure_future(hashing.run(release.wait, 10))
        try:
            return await asyncio.wait_for(requests.run(lambda: threading.current_thread().name), timeout=5)
        finally:
            release.set()
            await busy

    with ThreadPoolExecutor(max_workers=1) as server:  # an event loop of its own, as a server has
        name = server.submit(asyncio.run, a_read_while_every_hashing_thread_is_busy()).result()
    requests.shutdown()
    hashing.shutdown()
    assert name.startswith("gateway-worker")


def test_a_sqlite_write_waits_for_another_process_s_turn_while_the_loop_serves_and_then_runs_on_the_loop(
    tmp_path: Path,
) -> None:
    database = tmp_path / "gateway.db"
    workers = Workers(size=2, placement=Placement.SQLITE, write_turn=WriterTurn(ProcessTurn(database)))
    other_process = ProcessTurn(database)  # files of its own: flock(2) sets it apart as another process's
    other_process.__enter__()
    written: list[str] = []

    async def a_write_while_another_process_writes() -> tuple[str, str, list[str]]:
        loop_thread = threading.current_thread().name
        write = asyncio.ensure_future(workers.run_brief_write(lambda: written.append(threading.current_thread().name)))
        await asyncio.sleep(0.2)
        read = await asyncio.wait_for(workers.run_brief(lambda: threading.current_thread().name), timeout=5)
        before = list(written)
        other_process.__exit__()
        await asyncio.wait_for(write, timeout=10)
        return loop_thread, read, before

    loop_thread, read, before = on_a_loop_of_its_own(a_write_while_another_process_writes())
    workers.shutdown()

    assert read == loop_thread  # answered on the loop while the write waited
    assert before == []  # the write waited for the other process
    assert written == [loop_thread]


def test_sqlite_writes_gathered_while_the_turn_was_away_are_written_in_the_order_they_came_each_on_its_own(
    tmp_path: Path,
) -> None:
    database = tmp_path / "gateway.db"
    workers = Workers(size=2, placement=Placement.SQLITE, write_turn=WriterTurn(ProcessTurn(database)))
    other_process = ProcessTurn(database)
    other_process.__enter__()
    written: list[int] = []

    def write(number: int) -> int:
        if number == 2:
            raise ValueError("this one fails alone")
        written.append(number)
        return number

    async def writes_queued_behind_another_process() -> list[int | str]:
        queued = [asyncio.ensure_future(workers.run_brief_write(write, number)) for number in range(5)]
        await asyncio.sleep(0.2)
        other_process.__exit__()
        outcomes = await asyncio.wait_for(asyncio.gather(*queued, return_exceptions=True), timeout=10)
        return [outcome if isinstance(outcome, int) else str(outcome) for outcome in outcomes]

    outcomes = on_a_loop_of_its_own(writes_queued_behind_another_process())
    workers.shutdown()

    assert written == [0, 1, 3, 4]
    assert outcomes == [0, 1, "this one fails alone", 3, 4]
    assert other_process.take_if_free()  # the turn was given back
    other_process.__exit__()


class AWriterInAThread:
    """A writer in a worker thread (a sign-up, say) that takes the turn and holds it until `finish`."""

    def __init__(self, turn: WriterTurn, last: Callable[[], None] = lambda: None) -> None:
        self.turn, self.last = turn, last
        self.writing, self.done = threading.Event(), threading.Event()

    def write(self) -> None:
        with self.turn:
            self.writing.set()
            self.done.wait(timeout=10)
            self.last()

    async def start(self) -> asyncio.Future[None]:
        thread = asyncio.ensure_future(asyncio.to_thread(self.write))
        await asyncio.to_thread(self.writing.wait, 10)
        return thread


def test_a_sqlite_write_of_the_loop_waits_for_a_writer_of_a_thread_that_has_the_turn(tmp_path: Path) -> None:
    turn = WriterTurn(ProcessTurn(tmp_path / "gateway.db"))
    workers = Workers(size=2, placement=Placement.SQLITE, write_turn=turn)
    order: list[str] = []
    sign_up = AWriterInAThread(turn, last=lambda: order.append("the thread's write"))

    async def a_brief_write_behind_it() -> None:
        thread = await sign_up.start()
        write = asyncio.ensure_future(workers.run_brief_write(order.append, "the loop's write"))
        await asyncio.sleep(0.1)
        sign_up.done.set()
        await asyncio.wait_for(asyncio.gather(thread, write), timeout=10)

    on_a_loop_of_its_own(a_brief_write_behind_it())
    workers.shutdown()

    assert order == ["the thread's write", "the loop's write"]


def test_sqlite_writes_whose_turn_never_comes_fail_as_a_locked_file_does_after_the_busy_timeout(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("storage.db.SQLITE_BUSY_TIMEOUT_MS", 200)
    turn = WriterTurn(ProcessTurn(tmp_path / "gateway.db"))
    workers = Workers(size=2, placement=Placement.SQLITE, write_turn=turn)
    written: list[int] = []
    long_write = AWriterInAThread(turn)

    async def writes_behind_it() -> tuple[list[BaseException | None], float]:
        thread = await long_write.start()
        started = time.monotonic()
        queued = [asyncio.ensure_future(workers.run_brief_write(written.append, number)) for number in range(3)]
        outcomes = await asyncio.wait_for(asyncio.gather(*queued, return_exceptions=True), timeout=10)
        waited = time.monotonic() - started
        long_write.done.set()
        await thread
        return [outcome if isinstance(outcome, BaseException) else None for outcome in outcomes], waited

    errors, waited = on_a_loop_of_its_own(writes_behind_it())
    workers.shutdown()

    assert written == []
    assert all(isinstance(error, OperationalError) and "database is locked" in str(error) for error in errors)
    assert 0.2 <= waited < 5
    assert turn.take_if_free()  # nothing was left holding it
    turn.__exit__()
