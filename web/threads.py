"""Blocking work (the database, Argon2) off the event loop, in two small pools of threads: one for the
requests' database work (handlers, token checks, idempotency records), one for password hashing. The
exceptions are brief database work (a row, a page, a token; a few rows written), which may cost less on the
event loop than the hop to a thread and back: `Placement` says where it runs. SQLite's brief writes run on
the loop in the file's turn, gathered while the turn was away (`Workers.run_brief_write`).

Small, because the threads share one interpreter lock. Each database call lets go of it and must win it
back; with a thread for every database connection (twenty), a dozen threads and the event loop took the
lock from one another on every call, and a read waited most of its time for it. With eight threads on
PostgreSQL, a read of a post went from 868 to 1,389 req/s and its p99 from 42 to 22 ms (3 rounds of 5 s;
four threads did as well, two worse: see the README). Work beyond the threads waits its turn in a queue.

Argon2 holds a thread for a third of a second and 64 MiB (domain.passwords): in the same pool, a burst of
sign-ins would hold every thread and stop every read behind it. It has a pool of its own
(`password_work`), which also bounds the memory sign-ins can take at once.

anyio's `to_thread.run_sync`, which Starlette and Connexion use, does more on every call than is needed
here (a capacity limiter, a cancel scope and a queue of its own): each hop to a thread cost half again
as much CPU as this one. The work sees the caller's context variables (the request id, the app's
services, Connexion's request), as with anyio. A cancelled caller does not stop work already running:
shutting the pool down waits for it, before the database is closed."""

from __future__ import annotations

import asyncio
import collections
import contextvars
import enum
import queue
import threading
import weakref
from collections.abc import Callable
from contextlib import AbstractContextManager
from typing import Any, Protocol, TypeVar

T = TypeVar("T")
F = TypeVar("F", bound=Callable[..., Any])
_BRIEF_READ = "gateway_brief_read"
_BRIEF_WRITE = "gateway_brief_write"
_HASHING = "gateway_password_work"


def brief_read(function: F) -> F:
    """Marks a handler whose blocking work is a few bounded reads of the database (a row, a page, a token):
    see `Workers.run_brief`."""
    setattr(function, _BRIEF_READ, True)
    return function


def is_brief_read(function: Callable[..., Any]) -> bool:
    return getattr(function, _BRIEF_READ, False) is True


def brief_write(function: F) -> F:
    """Marks a handler whose blocking work is a few bounded writes of the database (a row or two, in one
    transaction): see `Workers.run_brief_write`."""
    setattr(function, _BRIEF_WRITE, True)
    return function


def is_brief_write(function: Callable[..., Any]) -> bool:
    return getattr(function, _BRIEF_WRITE, False) is True


class WriteTurn(Protocol):
    """SQLite's turn to write (storage.db.WriterTurn): `with` waits for it, `take_if_free` never does, and
    writes within `holding` do not take it again."""

    def take_if_free(self) -> bool: ...
    def __enter__(self) -> None: ...
    def __exit__(self, *_exc: object) -> None: ...
    def holding(self) -> AbstractContextManager[None]: ...


class Placement(enum.Enum):
    """Where brief database work (`brief_read`, `brief_write`) runs: on the event loop, or in a worker thread.

    On the loop, a call saves the hop to a thread and back: two context switches, a handover of the
    interpreter lock each way, and under load the loop and the thread taking the lock from each other.
    Meanwhile the loop serves nothing else. That costs nothing where the call is this process's own work
    (SQLite), and nothing either where the cores are all taken anyway (a worker process for each core of
    the machine, PostgreSQL beside them): the hop then only adds work for cores with none to spare. With
    two workers on two cores, PostgreSQL on the same machine, against threads (4 rounds of 5 s): reads of a
    post 1,641 to 2,730 req/s (p99 27.2 to 13.3 ms), pages 1,403 to 1,754, creates 777 to 1,002, refused
    creates 1,552 to 2,510. Where a core is free, the hop pays: the loop serves other requests while
    PostgreSQL, on another core, answers (one worker on two cores: reads of a post 1,615 req/s with the hop,
    871 without)."""

    THREADS = "threads"  # PostgreSQL with a core to spare, or elsewhere on the network: every call hops
    SQLITE = "sqlite"  # reads on the loop while no thread has work; writes on the loop in the file's turn
    EVENT_LOOP = "event-loop"  # PostgreSQL with every core taken: brief reads and writes on the loop


def password_work(function: F) -> F:
    """Marks a handler that may hash or verify a password (Argon2): it runs in the pool kept for that."""
    setattr(function, _HASHING, True)
    return function


def is_password_work(function: Callable[..., Any]) -> bool:
    return getattr(function, _HASHING, False) is True


def _settle(outcome: asyncio.Future[Any], result: Any, error: BaseException | None) -> None:
    if outcome.cancelled():  # the caller went away; the work is done all the same
        return
    if error is None:
        outcome.set_result(result)
    else:
        outcome.set_exception(error)


def _holding(turn: WriteTurn, function: Callable[..., T], args: tuple[Any, ...]) -> T:
    with turn.holding():
        return function(*args)


def _give_back_once_taken(turn: WriteTurn) -> Callable[[asyncio.Future[None]], None]:
    def give_back(waited: asyncio.Future[None]) -> None:
        if not waited.cancelled() and waited.exception() is None:
            turn.__exit__(None, None, None)

    return give_back


_Write = tuple[contextvars.Context, Callable[..., Any], tuple[Any, ...], asyncio.Future[Any]]


class _LoopWrites:
    """One event loop's brief writes of SQLite waiting for the turn, and whether a task is writing them."""

    def __init__(self) -> None:
        self.pending: collections.deque[_Write] = collections.deque()
        self.draining = False


class _Generation:
    """The threads started between two shutdowns, and the work waiting for them."""

    def __init__(self) -> None:
        self.threads: list[threading.Thread] = []
        self.idle: list[queue.SimpleQueue[Callable[[], None] | None]] = []  # the most recently idle last
        self.backlog: collections.deque[Callable[[], None]] = collections.deque()
        self.retired = False


class Workers:
    """At most `size` threads, started as work comes and none is idle. Work goes to the thread that
    became idle last, as anyio does: the few threads a steady load needs stay warm, instead of every
    thread of the pool taking turns. When all are busy, work waits in a queue for the first to finish.

    `shutdown` retires the threads of the moment, after the work already handed to them. Work that comes
    later, from another server of the same app (tests start several), gets threads of its own: a shutdown
    never leaves work waiting for a thread that has gone."""

    def __init__(
        self,
        size: int,
        *,
        placement: Placement = Placement.THREADS,
        write_turn: WriteTurn | None = None,
        name: str = "gateway-worker",
    ) -> None:
        self.size = size
        self.name = name
        self.placement = placement
        # SQLite's brief writes run on the loop, in turn (`_write_in_turn`); a thread of their own waits for
        # the turn. Each event loop (tests start servers of one app on several) has its own queue.
        self._write_turn = write_turn if placement is Placement.SQLITE else None
        self._turn_waiter = Workers(1, name=f"{name}-turn") if self._write_turn is not None else None
        self._loop_writes: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, _LoopWrites] = (
            weakref.WeakKeyDictionary()
        )
        self._drainers: set[asyncio.Task[None]] = set()  # the loop keeps only weak references to tasks
        self._lock = threading.Lock()  # guards the generations' lists and the count below
        self._generation = _Generation()
        self._unfinished = 0  # work handed over and not yet done, whether running or waiting for a thread

    async def run(self, function: Callable[..., T], *args: Any) -> T:
        """function(*args) in a worker thread, awaited."""
        loop = asyncio.get_running_loop()
        outcome: asyncio.Future[T] = loop.create_future()
        context = contextvars.copy_context()

        def work() -> None:
            result: Any = None
            error: BaseException | None = None
            try:
                result = context.run(function, *args)
            except BaseException as caught:  # handed to the caller, whatever it is
                error = caught
            with self._lock:
                self._unfinished -= 1  # before the caller hears of it: its next brief read may be inline
            loop.call_soon_threadsafe(_settle, outcome, result, error)

        with self._lock:
            self._unfinished += 1
            generation = self._generation
            if generation.idle:
                generation.idle.pop().put(work)
            elif len(generation.threads) < self.size:
                thread = threading.Thread(
                    target=self._serve,
                    args=(generation, work),
                    name=f"{self.name}-{len(generation.threads)}",
                    daemon=True,
                )
                generation.threads.append(thread)
                thread.start()
            else:
                generation.backlog.append(work)
        return await outcome

    async def run_brief(self, function: Callable[..., T], *args: Any) -> T:
        """function(*args), a brief read of the database (`brief_read`): on the event loop or in a worker
        thread, as the placement says (`Placement`).

        On SQLite, on the loop only while no worker thread has work. A SQLite read of a row or a page is this
        process's own work, a fraction of a millisecond, and never waits for a writer (WAL). While a thread
        works (a sign-up's write, say), the hop pays: SQLite lets go of the interpreter lock in every call, the
        thread takes it, and the loop must wait to get it back, so the read goes to a thread like the rest
        (creates under load, whose token is such a read: 586 against 536 req/s, a tenth less CPU per request,
        when creates were written in threads)."""
        placement = self.placement
        if placement is Placement.EVENT_LOOP or (placement is Placement.SQLITE and self._unfinished == 0):
            return function(*args)
        return await self.run(function, *args)

    async def run_brief_write(self, function: Callable[..., T], *args: Any) -> T:
        """function(*args), a few bounded writes (`brief_write`): on the event loop where the placement puts
        brief work there for reads and writes alike (`Placement.EVENT_LOOP`); on SQLite, on the loop too, in
        this process's turn to write (`_write_in_turn`); in a worker thread otherwise."""
        if self.placement is Placement.EVENT_LOOP:
            return function(*args)
        if self._write_turn is not None:
            return await self._write_in_turn(self._write_turn, function, *args)
        return await self.run(function, *args)

    async def _write_in_turn(self, turn: WriteTurn, function: Callable[..., T], *args: Any) -> T:
        """A SQLite write of a row or two is this process's own work, a fraction of a millisecond, and one
        transaction writes the file at a time. In a thread, the thread and the loop took the interpreter lock
        from each other while the file's turn was held: with two workers a write held it 585 µs, against 230
        with one, and the other worker's writes waited the longer. So the loop's writes queue here, in the
        order they came, and once the turn is this process's a task writes every one queued, one after
        another, each in its own transaction, and gives the turn back: the hand-over between processes is
        paid once for all of them. The loop never waits for another process: when the turn is not free at
        once, a thread waits for it while the loop serves other requests. A write whose caller has gone is
        written all the same, as in a thread."""
        loop = asyncio.get_running_loop()
        writes = self._loop_writes.get(loop)
        if writes is None:
            writes = self._loop_writes.setdefault(loop, _LoopWrites())
        outcome: asyncio.Future[T] = loop.create_future()
        writes.pending.append((contextvars.copy_context(), function, args, outcome))
        if not writes.draining:
            writes.draining = True
            self._drainers.add(task := loop.create_task(self._write_queued(turn, writes)))
            task.add_done_callback(self._drainers.discard)
        return await outcome

    async def _write_queued(self, turn: WriteTurn, writes: _LoopWrites) -> None:
        try:
            while writes.pending:
                if not turn.take_if_free():
                    try:
                        await self._wait_for(turn)
                    except Exception as error:  # it did not come within the busy timeout: a 503 for each
                        while writes.pending:
                            _settle(writes.pending.popleft()[3], None, error)
                        return
                try:
                    for _ in range(len(writes.pending)):
                        context, function, args, outcome = writes.pending.popleft()
                        try:
                            result = context.run(_holding, turn, function, args)
                        except BaseException as caught:  # handed to the caller, whatever it is
                            _settle(outcome, None, caught)
                        else:
                            _settle(outcome, result, None)
                finally:
                    turn.__exit__(None, None, None)
        finally:
            writes.draining = False

    async def _wait_for(self, turn: WriteTurn) -> None:
        """The turn, waited for in a thread of its own. Cancelled meanwhile (the loop closing), the thread
        goes on waiting and gives the turn back once it has it."""
        assert self._turn_waiter is not None  # there is one wherever there is a turn
        waiting = asyncio.ensure_future(self._turn_waiter.run(turn.__enter__))
        try:
            await asyncio.shield(waiting)
        except asyncio.CancelledError:
            waiting.add_done_callback(_give_back_once_taken(turn))
            raise

    @property
    def unfinished(self) -> int:
        """Work handed to the threads and not yet done."""
        return self._unfinished

    def _serve(self, generation: _Generation, job: Callable[[], None]) -> None:
        inbox: queue.SimpleQueue[Callable[[], None] | None] = queue.SimpleQueue()
        while True:
            job()
            with self._lock:
                if generation.backlog:
                    job = generation.backlog.popleft()
                    continue
                if generation.retired:
                    return
                generation.idle.append(inbox)
            next_job = inbox.get()
            if next_job is None:
                return
            job = next_job

    def shutdown(self) -> None:
        """Waits for the work under way and waiting (the app's shutdown, before the database closes)."""
        if self._turn_waiter is not None:
            self._turn_waiter.shutdown()
        with self._lock:
            generation, self._generation = self._generation, _Generation()
            generation.retired = True
            for inbox in generation.idle:
                inbox.put(None)
            generation.idle.clear()
        for thread in generation.threads:
            thread.join()
