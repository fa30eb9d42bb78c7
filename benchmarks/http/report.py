"""Results: every measured run, the median over rounds per endpoint and stack, Gateway's throughput as a
ratio of each peer's, and per stack its start-up time and memory per worker. Printed as tables, and
written as JSON for tables made later."""

from __future__ import annotations

import json
import statistics
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from benchmarks.http.endpoints import Endpoint
from benchmarks.http.loadgen import Measurement

MIB = 1024 * 1024
REFERENCE = "gateway"


@dataclass(frozen=True)
class Run:
    round: int
    position: int  # 0 when the stack went first on this endpoint in this round
    endpoint: Endpoint
    stack: str
    measurement: Measurement


@dataclass
class StackFacts:
    name: str
    server: str
    workers: int
    startup_seconds: float
    idle_rss: list[int] = field(default_factory=list)  # bytes per worker, after the checks, before load
    loaded_rss: list[int] = field(default_factory=list)  # bytes per worker, after all the runs


@dataclass(frozen=True)
class Median:
    endpoint: str
    stack: str
    status: int
    rounds: int
    requests_per_second: float
    p50_ms: float
    p99_ms: float
    unexpected: int  # over all rounds: wrong-class answers and socket errors


def medians(runs: Sequence[Run], statuses: dict[str, dict[str, int]], stacks: Sequence[str]) -> list[Median]:
    """Each figure's own median over the rounds (p99 is the median of the rounds' p99s), endpoint by
    endpoint in the order they ran, stacks in the order given (not the rotating order they ran in)."""
    endpoints = list(dict.fromkeys(run.endpoint.name for run in runs))
    measured = {(run.endpoint.name, run.stack) for run in runs}
    keys = [(endpoint, stack) for endpoint in endpoints for stack in stacks if (endpoint, stack) in measured]
    found = []
    for endpoint, stack in keys:
        mine = [run for run in runs if (run.endpoint.name, run.stack) == (endpoint, stack)]
        found.append(
            Median(
                endpoint=endpoint,
                stack=stack,
                status=statuses[stack][endpoint],
                rounds=len(mine),
                requests_per_second=statistics.median(run.measurement.requests_per_second for run in mine),
                p50_ms=statistics.median(run.measurement.p50_ms for run in mine),
                p99_ms=statistics.median(run.measurement.p99_ms for run in mine),
                unexpected=sum(run.measurement.unexpected(run.endpoint) for run in mine),
            )
        )
    return found


def ratios(summary: Sequence[Median]) -> dict[str, dict[str, float]]:
    """{endpoint: {peer: Gateway's req/s divided by the peer's}}; above 1 means Gateway answers more."""
    by_key = {(median.endpoint, median.stack): median.requests_per_second for median in summary}
    found: dict[str, dict[str, float]] = {}
    for (endpoint, stack), rate in by_key.items():
        reference = by_key.get((endpoint, REFERENCE))
        if stack != REFERENCE and reference is not None and rate > 0:
            found.setdefault(endpoint, {})[stack] = reference / rate
    return found


def _table(header: Sequence[str], rows: Sequence[Sequence[str]]) -> str:
    widths = [max(len(cell) for cell in column) for column in zip(header, *rows, strict=True)]
    lines = [header, ["-" * width for width in widths], *rows]
    return "\n".join(
        "  ".join(cell.ljust(width) for cell, width in zip(line, widths, strict=True)).rstrip() for line in lines
    )


def _mib(values: Sequence[int]) -> str:
    if not values:
        return "-"
    return f"{statistics.mean(values) / MIB:.1f}"


def render(summary: Sequence[Median], stacks: Sequence[StackFacts]) -> str:
    results = _table(
        ["endpoint", "stack", "status", "req/s", "p50 ms", "p99 ms", "unexpected"],
        [
            [m.endpoint, m.stack, str(m.status), f"{m.requests_per_second:.0f}", f"{m.p50_ms:.2f}",
             f"{m.p99_ms:.2f}", str(m.unexpected)]
            for m in summary
        ],
    )  # fmt: skip
    peers = [facts.name for facts in stacks if facts.name != REFERENCE]
    found_ratios = ratios(summary)
    ratio_table = _table(
        ["endpoint", *(f"gateway/{peer}" for peer in peers)],
        [
            [endpoint, *(f"{by_peer[peer]:.2f}" if peer in by_peer else "-" for peer in peers)]
            for endpoint, by_peer in found_ratios.items()
        ],
    )
    stack_table = _table(
        ["stack", "server", "workers", "startup s", "RSS/worker MiB idle", "RSS/worker MiB after"],
        [
            [facts.name, facts.server, str(facts.workers), f"{facts.startup_seconds:.2f}", _mib(facts.idle_rss),
             _mib(facts.loaded_rss)]
            for facts in stacks
        ],
    )  # fmt: skip
    parts = [results]
    if found_ratios:
        parts.append("Gateway's requests/s divided by each peer's (above 1: Gateway answers more):\n" + ratio_table)
    parts.append(stack_table)
    return "\n\n".join(parts)


def write_json(
    path: Path,
    *,
    settings: dict[str, Any],
    environment: dict[str, Any],
    statuses: dict[str, dict[str, int]],
    runs: Sequence[Run],
    summary: Sequence[Median],
    stacks: Sequence[StackFacts],
    notes: Sequence[str],
) -> None:
    document = {
        "settings": settings,
        "environment": environment,
        "checked_statuses": statuses,
        "medians": [vars(median) for median in summary],
        "gateway_over_peer_requests_per_second": ratios(summary),
        "stacks": [
            vars(facts) | {"idle_rss_mib": _mib(facts.idle_rss), "loaded_rss_mib": _mib(facts.loaded_rss)}
            for facts in stacks
        ],
        "runs": [
            {
                "round": run.round,
                "position": run.position,
                "endpoint": run.endpoint.name,
                "request": run.endpoint.describe(),
                "stack": run.stack,
            }
            | run.measurement.as_dict()
            for run in runs
        ],
        "notes": list(notes),
    }
    path.write_text(json.dumps(document, indent=2) + "\n", encoding="utf-8")
