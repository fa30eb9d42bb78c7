"""Blocking work (the database, Argon2) off the event loop, in two small pools of threads: one for the
requests' database work (handlers, token checks, idempotency records), one for password hashing. The
exceptions are brief database work (a row, a page, a token; a few rows written), which may cost less on the
event loop than the hop to a thread and back: `Placement` says where it runs.

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
from collections.abc import Callable
from typing import Any, TypeVar

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
    SQLITE = "sqlite"  # reads on the loop while no thread has work (`Workers.run_brief`), writes in a thread
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

    def __init__(self, size: int, *, placement: Placement = Placement.THREADS, name: str = "gateway-worker") -> None:
        self.size = size
        self.name = name
        self.placement = placement
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
        works (a write, say), the hop pays: SQLite lets go of the interpreter lock in every call, the thread
        takes it, and the loop must wait to get it back, so the read goes to a thread like the rest (creates
        under load, whose token is such a read: 586 against 536 req/s, a tenth less CPU per request)."""
        placement = self.placement
        if placement is Placement.EVENT_LOOP or (placement is Placement.SQLITE and self._unfinished == 0):
            return function(*args)
        return await self.run(function, *args)

    async def run_brief_write(self, function: Callable[..., T], *args: Any) -> T:
        """function(*args), a few bounded writes (`brief_write`): on the event loop where the placement puts
        brief work there for reads and writes alike (`Placement.EVENT_LOOP`), in a worker thread otherwise. A
        write of SQLite may wait for another process's write to finish: never on the loop."""
        if self.placement is Placement.EVENT_LOOP:
            return function(*args)
        return await self.run(function, *args)

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
        with self._lock:
            generation, self._generation = self._generation, _Generation()
            generation.retired = True
            for inbox in generation.idle:
                inbox.put(None)
            generation.idle.clear()
        for thread in generation.threads:
            thread.join()
