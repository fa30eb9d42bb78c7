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
    """At most `size` threads, started as work comes and none is idle, taking work from one queue."""

    def __init__(self, size: int) -> None:
        self.size = size
        self._jobs: queue.SimpleQueue[Callable[[], None] | None] = queue.SimpleQueue()
        self._threads: list[threading.Thread] = []
        self._idle = 0
        self._lock = threading.Lock()  # guards _idle, which the threads change

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
            wanted = self._idle == 0 and len(self._threads) < self.size
            if not wanted:
                self._idle -= 1  # this work will take an idle thread: the next will not count on it
        if wanted:
            # Only the event loop's thread starts threads, so there is never one too many.
            thread = threading.Thread(target=self._serve, name=f"gateway-worker-{len(self._threads)}", daemon=True)
            self._threads.append(thread)
            thread.start()
        self._jobs.put(work)
        return await outcome

    def _serve(self) -> None:
        while True:
            job = self._jobs.get()
            if job is None:
                return
            job()
            with self._lock:
                self._idle += 1

    def shutdown(self) -> None:
        """Waits for the work under way (the app's shutdown, before the database closes)."""
        threads, self._threads = self._threads, []
        for _ in threads:
            self._jobs.put(None)
        for thread in threads:
            thread.join()
        self._idle = 0
