"""The threads that run blocking work: a shutdown (one server of the app stopping, as tests do while other
servers of the same app still serve) never strands work that was handed over."""

from __future__ import annotations

import asyncio
import threading
from concurrent.futures import ThreadPoolExecutor

from web.threads import Workers

CALLERS = 4
CALLS_PER_CALLER = 300


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
