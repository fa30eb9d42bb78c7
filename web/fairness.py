"""Requests that reach the app in the same pass of the event loop start in the order their clients were last
answered, the longest ago first: round robin among the clients, instead of the order in which the kernel
happened to list their sockets.

The event loop (uvloop's, like asyncio's) polls epoll, reads every socket that is ready, starts a task for
each request it finds, and runs those tasks in the order epoll listed the sockets. That order is sticky:
level-triggered epoll puts a socket it has just reported back at the end of its ready list, and a socket
already on the list keeps its place when new data comes. Under load, one pass answers each client in the
same order as the last. The client answered last in a pass sends its next request just after the loop has
polled again; its socket then goes to the end of the list, behind every client of the pass now running,
and its request waits for two passes instead of one, time after time. Measured with 16 connections on one
worker (SQLite, GET of a post): each client's next request came after the 15 others' in most cases, and
after 29 or 30 in one case of a hundred, which was the p99 (about twice the median, where plain Flask's
queue of connections gives about 1.3 times). Started by when their client was last answered, every
request came after exactly the 15 others'. In `make bench` (one worker, 5 rounds of 5 s, against the same
code without the turn) the p99 of a read went from 33.9 to 19.2 ms and of a page from 58.1 to 34.3 ms, for
about 2% more instructions per request (30 to 70 thousand: the pass each request waits for).

Each request waits for the end of the pass that brought it (one callback of the loop, behind the other
requests' first steps); then all of that pass's requests start, in order. No request waits for a later
pass, so none can be held back for long by others. A client never answered (a new connection) counts as
answered longest ago. Behind a proxy the client is the address it names, so its connections share one turn.

The edge layer takes these turns wherever requests read the database on the event loop, so that one pass
starts many requests: on SQLite (see `Workers.run_brief`), and on PostgreSQL with its brief work on the loop
(`Placement.EVENT_LOOP`, a worker on every core). There, with two workers, against the same code without
the turn (two runs of 4 and 5 rounds of 5 s): the p99 of reads 9.8 to 7.1 and 9.6 to 8.5 ms, of pages 11.4
to 10.9 and 13.8 to 10.7, of refusals 9.7 to 9.1 and 9.3 to 8.5, creates' within the noise (20.9 to 20.2,
20.9 to 21.1) at 0.98 and 0.96 of their rate; in a run of creates alone (8 rounds), 1.01 of their rate
and a p99 of 22.8 to 21.0 ms. (Measured before PostgreSQL's reads stopped taking BEGIN and
COMMIT, creates had lost about 7%.) On PostgreSQL with its work in threads (one worker), every request's
reads hop to a thread, each thread's answer wakes the loop for a short pass of its own, and the turn's
extra step per pass cost more than the order gained: in `make bench` against the same code without it,
refused creates went to 0.71, 0.82 and 0.88 of their rate in three runs (3 or 4 rounds of 5 s each), with
a longer p99, reads and pages within the noise. There the turn is not taken.

Each thread's event loop has its own order (tests run one app in several loops at once), and forgets its
clients once it has seen `REMEMBERED_CLIENTS` of them: memory stays bounded, and for one pass after that,
requests start in the kernel's order."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Iterable, Mapping
from typing import Any

REMEMBERED_CLIENTS = 10_000  # about 1.5 MB per worker at most

Client = tuple[Any, ...] | None


class _Pass:
    """One event loop's clients and the requests waiting for the end of the current pass."""

    def __init__(self) -> None:
        self.answered_at: dict[Client, float] = {}
        self.waiting: list[tuple[float, int, asyncio.Future[None]]] = []
        self.arrivals = 0  # breaks ties between clients answered at the same moment, in order of arrival
        self.closing = False  # the call that starts the waiting requests is already scheduled


def client_of(scope: Mapping[str, Any]) -> Client:
    """The ASGI scope's client as a key: a (host, port) pair, which some servers give as a list."""
    client: Iterable[Any] | None = scope.get("client")
    return tuple(client) if client else None


class RoundRobin:
    def __init__(self, remembered: int = REMEMBERED_CLIENTS) -> None:
        self.remembered = remembered
        self._local = threading.local()

    def _pass(self) -> _Pass:
        state: _Pass | None = getattr(self._local, "state", None)
        if state is None:
            state = self._local.state = _Pass()
        return state

    async def turn(self, client: Client) -> None:
        """Returns when the request's turn comes: at the end of the pass of the loop that brought it."""
        state = self._pass()
        loop = asyncio.get_running_loop()
        started: asyncio.Future[None] = loop.create_future()
        state.arrivals += 1
        state.waiting.append((state.answered_at.get(client, 0.0), state.arrivals, started))
        if not state.closing:
            state.closing = True
            loop.call_soon(self._start_waiting, state)
        await started

    def answered(self, client: Client, at: float) -> None:
        """The client's request has been answered at `at` (time.perf_counter)."""
        answered_at = self._pass().answered_at
        if len(answered_at) >= self.remembered and client not in answered_at:
            answered_at.clear()
        answered_at[client] = at

    @staticmethod
    def _start_waiting(state: _Pass) -> None:
        state.closing = False
        waiting, state.waiting = state.waiting, []
        waiting.sort()  # by when the client was last answered, then by arrival: never by the future
        for _, _, started in waiting:
            if not started.done():  # a request cancelled while it waited
                started.set_result(None)
