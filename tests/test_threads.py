"""The threads that run blocking work: a shutdown (one server of the app stopping, as tests do while other
servers of the same app still serve) never strands work that was handed over. Brief reads of SQLite run on
the event loop while no thread has work, and only operations that change nothing are marked as such."""

from __future__ import annotations

import asyncio
import importlib
import threading
from concurrent.futures import ThreadPoolExecutor

import pytest

from app import load_spec
from web.resolver import handler_name
from web.threads import Workers, is_brief_read

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


@pytest.mark.parametrize("inline", [True, False], ids=["sqlite", "postgresql"])
def test_a_brief_read_runs_on_the_event_loop_only_where_the_database_is_in_process(inline: bool) -> None:
    workers = Workers(size=2, brief_reads_inline=inline)

    async def threads_of_a_brief_read_and_of_other_work() -> tuple[str, str, str]:
        loop_thread = threading.current_thread().name
        brief = await workers.run_brief(lambda: threading.current_thread().name)
        other = await workers.run(lambda: threading.current_thread().name)
        return loop_thread, brief, other

    with ThreadPoolExecutor(max_workers=1) as server:  # an event loop of its own, as a server has
        loop_thread, brief, other = server.submit(asyncio.run, threads_of_a_brief_read_and_of_other_work()).result()
    workers.shutdown()

    assert (brief == loop_thread) is inline
    assert other != loop_thread


def test_a_brief_read_goes_to_a_thread_while_a_thread_has_work_and_comes_back_to_the_loop_after() -> None:
    workers = Workers(size=2, brief_reads_inline=True)
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


def test_only_operations_that_change_nothing_are_marked_as_brief_reads() -> None:
    marked = set()
    for path, methods in load_spec()["paths"].items():
        for method, operation in methods.items():
            module, _, name = handler_name(operation).rpartition(".")
            if is_brief_read(getattr(importlib.import_module(module), name)):
                marked.add(f"{method.upper()} {path}")
                assert method == "get", f"{method.upper()} {path} changes things: it may not run on the event loop"
    # The reads of a row or a page, and nothing that reads files, hashes passwords or waits on anything else.
    assert marked == {
        "GET /posts", "GET /posts/{post_id}", "GET /users", "GET /users/{user_id}", "GET /me", "GET /tokens",
        "GET /tokens/{token_id}",
    }  # fmt: skip
