"""Prometheus metrics: requests by operation and status, latency per operation, requests in flight and the
database pool, served at GET /metrics (handlers.metrics).

With several worker processes each keeps its own numbers; PROMETHEUS_MULTIPROC_DIR (prometheus_client's
own variable, read when it is first imported, which is why there is no second name for it) names a
directory where every worker writes them and from which any worker adds them all up. Without it the
numbers of this one process are served."""

from __future__ import annotations

import atexit
import fcntl
import functools
import os
import weakref
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from connexion.exceptions import ProblemException
from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, multiprocess
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from storage.db import Database
from web.resolver import handler_name

# prometheus_client.multiprocess has no type hints; these are the signatures used here.
MultiProcessCollector: Callable[..., object] = multiprocess.MultiProcessCollector
mark_process_dead: Callable[[int, str], None] = multiprocess.mark_process_dead

UNMATCHED = "unmatched"
GET_METRICS = handler_name({"tags": ["health"], "operationId": "getMetrics"})
# Seconds; from a cached read (a few ms) to a password hash under load.
LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)


def multiprocess_dir() -> Path | None:
    value = os.environ.get("PROMETHEUS_MULTIPROC_DIR")
    return Path(value) if value else None


@dataclass(frozen=True)
class Metrics:
    registry: CollectorRegistry  # this process's own metrics
    requests: Counter
    latency: Histogram
    in_flight: Gauge
    pool_checked_out: Gauge
    pool_size: Gauge

    def collected(self) -> CollectorRegistry:
        """What a scrape sees: every worker's numbers added up, or this process's own."""
        directory = multiprocess_dir()
        if directory is None:
            return self.registry
        combined = CollectorRegistry()
        MultiProcessCollector(combined, path=str(directory))
        return combined


def _create(registry: CollectorRegistry) -> Metrics:
    # Gauges count only live workers ("livesum"): a dead worker's requests in flight are not in flight.
    return Metrics(
        registry=registry,
        requests=Counter(
            "gateway_http_requests", "Requests answered, by operation and status.", ["operation", "status"],
            registry=registry,
        ),
        latency=Histogram(
            "gateway_http_request_duration_seconds", "Time to answer a request, by operation.", ["operation"],
            buckets=LATENCY_BUCKETS, registry=registry,
        ),
        in_flight=Gauge(
            "gateway_http_requests_in_flight", "Requests being answered.",
            multiprocess_mode="livesum", registry=registry,
        ),
        pool_checked_out=Gauge(
            "gateway_db_pool_checked_out_connections", "Database connections in use by a request.",
            multiprocess_mode="livesum", registry=registry,
        ),
        pool_size=Gauge(
            "gateway_db_pool_size_connections", "Database connections the pools keep open at most.",
            multiprocess_mode="livesum", registry=registry,
        ),
    )  # fmt: skip


def _pids_with_files(directory: Path) -> set[int]:
    """prometheus_client names its files <kind>_<pid>.db."""
    return {int(pid) for pid in (f.stem.rpartition("_")[2] for f in directory.glob("*.db")) if pid.isdigit()}


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # alive, another user's
        return True
    return True


def _join_directory(directory: Path) -> Metrics:
    """A worker that finds no other live worker's files starts a new run: the files of the last one go.
    One that does joins the run and clears the live gauges of the workers that died without doing it
    themselves (killed); their counts stay, so that totals never go backwards while the service runs.
    Under a lock, and with this worker's files created before it is released, so that two workers
    starting together never both start a run."""
    directory.mkdir(parents=True, exist_ok=True)
    with (directory / "metrics.lock").open("w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        others = _pids_with_files(directory) - {os.getpid()}
        alive = {pid for pid in others if _alive(pid)}
        if not alive:
            for file in directory.glob("*.db"):
                file.unlink()
        for pid in others - alive:
            mark_process_dead(pid, str(directory))
        metrics = _create(CollectorRegistry())
    atexit.register(retire)  # servers that exit normally; see send_retiring_at_shutdown for uvicorn
    return metrics


@functools.cache
def metrics() -> Metrics:
    """One set per process: metric names are global to a registry, and several apps may share a process."""
    directory = multiprocess_dir()
    return _create(CollectorRegistry()) if directory is None else _join_directory(directory)


# Every database this process serves, so that the gauge is their pools' own count: counting checkout and
# checkin events drifts, since SQLAlchemy sends a checkin for a checkout that failed (the server away).
# The gauge is read off the pools when a request has been answered and when metrics are scraped, rather
# than on every checkout and checkin: listeners on the pool cost every database call, in the worker threads.
# Weak references in a plain list: a WeakSet costs more to walk than the count itself, on every request.
_watched: list[weakref.ref[Database]] = []


def _checked_out() -> int:
    total = 0
    for watched in _watched:
        db = watched()
        if db is None:
            continue  # gone; dropped from the list when the next database is watched
        for pool in db.pools:
            count = getattr(pool, "checkedout", None)  # QueuePool has it; SQLite's in-memory pools don't
            total += count() if callable(count) else 0
    return total


def watch_pool(db: Database, into: Metrics) -> None:
    sizes = [getattr(pool, "size", None) for pool in db.pools]  # QueuePool (PostgreSQL, a SQLite file) has one
    if any(callable(size) for size in sizes):  # others have no bound
        into.pool_size.set(sum(size() for size in sizes if callable(size)))
    global _watched  # a new list, so that a walk of the old one in another thread is never disturbed
    _watched = [watched for watched in _watched if watched() not in (None, db)] + [weakref.ref(db)]


def note_pools(into: Metrics) -> None:
    into.pool_checked_out.set(_checked_out())


def retire() -> None:
    """This worker's live gauges leave the sums when it stops (its counts stay)."""
    directory = multiprocess_dir()
    if directory is not None:
        mark_process_dead(os.getpid(), str(directory))


def send_retiring_at_shutdown(send: Send) -> Send:
    """Uvicorn ends a worker by raising the signal that stopped it again, so atexit handlers never run:
    the worker retires when its application has shut down."""

    async def sending(message: Message) -> None:
        if message["type"] == "lifespan.shutdown.complete":
            retire()
        await send(message)

    return sending


class RequestCounts:
    """The request metrics (web.edge counts every answer, problems included), each label's child looked
    up once: a child per operation and status, of which the spec has a bounded number."""

    def __init__(self, into: Metrics) -> None:
        self.metrics = into
        self._requests: dict[tuple[str, int], Any] = {}
        self._latency: dict[str, Any] = {}

    def started(self) -> None:
        self.metrics.in_flight.inc()

    def answered(self, operation: str, status: int, seconds: float) -> None:
        self.metrics.in_flight.dec()
        requests = self._requests.get((operation, status))
        if requests is None:
            requests = self._requests[operation, status] = self.metrics.requests.labels(operation, str(status))
        requests.inc()
        latency = self._latency.get(operation)
        if latency is None:
            latency = self._latency[operation] = self.metrics.latency.labels(operation)
        latency.observe(seconds)
        note_pools(self.metrics)


class MetricsSwitch:
    """Without GATEWAY_METRICS_TOKEN, /metrics is off: a 404 before the token is asked for, so that a
    deployment that never turned it on does not even say it exists. After routing, before security."""

    def __init__(self, app: ASGIApp, *, enabled: bool) -> None:
        self.app = app
        self.enabled = enabled

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        routed = scope.get("extensions", {}).get("connexion_routing", {}).get("operation_id")
        if not self.enabled and routed == GET_METRICS:
            raise ProblemException(status=404, title="Not Found", detail="There is no such resource.")
        await self.app(scope, receive, send)
