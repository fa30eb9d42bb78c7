"""Requests that reach the app in one pass of the event loop start with the client answered longest ago
first (web.fairness), whatever order the kernel listed their sockets in; none waits for a later pass."""

from __future__ import annotations

import asyncio
from collections.abc import Coroutine
from concurrent.futures import ThreadPoolExecutor
from typing import Any, TypeVar

from web.fairness import Client, RoundRobin

ALICE: Client = ("192.0.2.1", 50001)
BOB: Client = ("192.0.2.2", 50002)
CAROL: Client = ("192.0.2.3", 50003)
NEWCOMER: Client = ("192.0.2.4", 50004)
T = TypeVar("T")


def in_a_worker_thread(coroutine: Coroutine[Any, Any, T]) -> T:
    """The coroutine in an event loop of a thread of its own, as a server's worker runs one (the test
    process's main thread may hold a loop already)."""
    with ThreadPoolExecutor(max_workers=1) as thread:
        return thread.submit(asyncio.run, coroutine).result()


async def one_pass(robin: RoundRobin, arriving: list[Client]) -> list[Client]:
    """Requests of these clients reach the app together, in this order (the kernel's); returns the order in
    which they start."""
    started: list[Client] = []

    async def request(client: Client) -> None:
        await robin.turn(client)
        started.append(client)

    await asyncio.gather(*(request(client) for client in arriving))
    return started


def test_requests_that_arrive_together_start_with_the_client_answered_longest_ago_and_a_new_one_first() -> None:
    robin = RoundRobin()

    async def scenario() -> list[Client]:
        robin.answered(ALICE, 1.0)
        robin.answered(BOB, 2.0)
        robin.answered(CAROL, 3.0)
        return await one_pass(robin, [CAROL, NEWCOMER, BOB, ALICE])

    assert in_a_worker_thread(scenario()) == [NEWCOMER, ALICE, BOB, CAROL]


def test_the_client_answered_last_and_listed_last_goes_first_in_the_next_pass() -> None:
    # The case the order is for: the kernel lists the sockets in the same order pass after pass, and the
    # request of the client answered last in a pass arrives only after the next pass has begun.
    robin = RoundRobin()

    async def passes() -> list[list[Client]]:
        first = await one_pass(robin, [ALICE, BOB, CAROL])
        for moment, client in enumerate(first):
            robin.answered(client, float(moment))
        second = await one_pass(robin, [ALICE, BOB])  # Carol's next request has not come yet
        robin.answered(ALICE, 10.0)
        robin.answered(BOB, 11.0)
        third = await one_pass(robin, [ALICE, BOB, CAROL])  # Carol's socket listed behind the others
        return [first, second, third]

    assert in_a_worker_thread(passes()) == [[ALICE, BOB, CAROL], [ALICE, BOB], [CAROL, ALICE, BOB]]


def test_a_request_cancelled_while_it_waits_for_its_turn_holds_up_no_other() -> None:
    robin = RoundRobin()

    async def scenario() -> list[Client]:
        robin.answered(ALICE, 1.0)
        started: list[Client] = []

        async def request(client: Client) -> None:
            await robin.turn(client)
            started.append(client)

        gone = asyncio.ensure_future(request(ALICE))
        staying = asyncio.ensure_future(request(BOB))
        await asyncio.sleep(0)  # both now wait for the end of the pass
        gone.cancel()
        await asyncio.wait_for(staying, timeout=5)
        return started

    assert in_a_worker_thread(scenario()) == [BOB]


def test_past_its_memory_the_order_forgets_every_client_it_knew() -> None:
    robin = RoundRobin(remembered=2)

    async def scenario() -> list[Client]:
        robin.answered(ALICE, 9.0)
        robin.answered(BOB, 1.0)
        robin.answered(CAROL, 2.0)  # a third client: Alice and Bob are forgotten
        robin.answered(BOB, 5.0)
        return await one_pass(robin, [BOB, ALICE])

    # Remembered, Alice (answered at 9.0) would go after Bob (5.0); forgotten, she counts as never answered.
    assert in_a_worker_thread(scenario()) == [ALICE, BOB]


def test_each_threads_event_loop_keeps_its_own_order() -> None:
    robin = RoundRobin()

    async def known_here() -> list[Client]:
        robin.answered(BOB, 1.0)
        robin.answered(ALICE, 2.0)
        return await one_pass(robin, [ALICE, BOB])

    async def unknown_here() -> list[Client]:
        return await one_pass(robin, [ALICE, BOB])

    with ThreadPoolExecutor(max_workers=1) as one, ThreadPoolExecutor(max_workers=1) as other:
        assert one.submit(asyncio.run, known_here()).result() == [BOB, ALICE]
        assert other.submit(asyncio.run, unknown_here()).result() == [ALICE, BOB]  # the kernel's order
        assert one.submit(asyncio.run, unknown_here()).result() == [BOB, ALICE]  # this thread remembers
