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
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
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
    def __init__(self, size: int) -> None:
        self.size = size
        self._executor: ThreadPoolExecutor | None = None  # started by the first work, again after a shutdown

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

        if self._executor is None:  # only the event loop's thread comes here: no two threads start one
            self._executor = ThreadPoolExecutor(max_workers=self.size, thread_name_prefix="gateway-worker")
        self._executor.submit(work)
        return await outcome

    def shutdown(self) -> None:
        """Waits for the work under way (the app's shutdown, before the database closes)."""
        executor, self._executor = self._executor, None
        if executor is not None:
            executor.shutdown(wait=True)
