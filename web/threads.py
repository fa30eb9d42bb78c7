"""Blocking work (the database, Argon2) off the event loop: handlers, token and password checks and
idempotency records run in a pool of threads no larger than the database's pool, so that a burst waits
for a thread instead of timing out waiting for a connection.

anyio's `to_thread.run_sync`, which Starlette and Connexion use, does more on every call than is needed
here (a capacity limiter, a cancel scope and a queue of its own): each hop to a thread cost half again
as much CPU as this one. The work sees the caller's context variables (the request id, the app's
services, Connexion's request), as with anyio. A cancelled caller does not stop work already running:
shutting the pool down waits for it, before the database is closed."""

from __future__ import annotations

import asyncio
import contextvars
import queue
import threading
from collections.abc import Callable
from typing import Any, TypeVar

T = TypeVar("T")


def _settle(outcome: asyncio.Future[Any], result: Any, error: BaseException | None) -> None:
    if outcome.cancelled():  # the caller went away; the work is done all the same
        return
    if error is None:
        outcome.set_result(result)
    else:
        outcome.set_exception(error)


class Workers:
    """At most `size` threads, started as work comes and none is idle, taking work from one queue.

    `shutdown` retires the threads of the moment, after the work already queued for them. Work that comes
    later, from another server of the same app (tests start several), gets threads of its own: a shutdown
    never leaves work in a queue that no thread will read."""

    def __init__(self, size: int) -> None:
        self.size = size
        self._lock = threading.Lock()  # a generation of threads: its queue, its idle count, its threads
        self._jobs: queue.SimpleQueue[Callable[[], None] | None] = queue.SimpleQueue()
        self._idle = threading.Semaphore(0)  # released by a thread each time it finishes a job
        self._threads: list[threading.Thread] = []

    async def run(self, function: Callable[..., T], *args: Any) -> T:
        """function(*args) in a worker thread, awaited."""
        loop = asyncio.get_running_loop()
        outcome: asyncio.Future[T] = loop.create_future()
        context = contextvars.copy_context()

        def work() -> None:
            try:
                result = context.run(function, *args)
            except BaseException as error:  # handed to the caller, whatever it is
                loop.call_soon_threadsafe(_settle, outcome, None, error)
            else:
                loop.call_soon_threadsafe(_settle, outcome, result, None)

        with self._lock:
            self._jobs.put(work)
            # As concurrent.futures does: an idle thread takes it, else a new one while there is room, else
            # it waits for the first thread to finish.
            if not self._idle.acquire(blocking=False) and len(self._threads) < self.size:
                thread = threading.Thread(
                    target=_serve,
                    args=(self._jobs, self._idle),
                    name=f"gateway-worker-{len(self._threads)}",
                    daemon=True,
                )
                self._threads.append(thread)
                thread.start()
        return await outcome

    def shutdown(self) -> None:
        """Waits for the work under way and queued (the app's shutdown, before the database closes)."""
        with self._lock:
            threads, jobs = self._threads, self._jobs
            self._threads, self._jobs, self._idle = [], queue.SimpleQueue(), threading.Semaphore(0)
            for _ in threads:
                jobs.put(None)  # after every job of this generation
        for thread in threads:
            thread.join()


def _serve(jobs: queue.SimpleQueue[Callable[[], None] | None], idle: threading.Semaphore) -> None:
    while (job := jobs.get()) is not None:
        job()
        idle.release()
