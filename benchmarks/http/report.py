"""Results: every measured run, the median over rounds per endpoint and stack, Gateway's throughput as a
ratio of each peer's, and per stack its start-up time and memory per worker. Printed as tables, and
written as JSON for tables made later.

The ratio is taken round by round, between runs a few seconds apart, and its median over the rounds is
reported with the lowest and highest: on a machine whose speed drifts (a shared virtual machine), a run
is compared with the peer's run of the same moment rather than with a median from other moments, and
the spread shows how far one round can be trusted."""

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
    server_cpu_seconds: float  # user + system time of the server's workers during the measured run

    @property
    def cpu_ms_per_request(self) -> float:
        requests = self.measurement.requests
        return self.server_cpu_seconds * 1000 / requests if requests else 0.0


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
    cpu_ms_per_request: float
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
                cpu_ms_per_request=statistics.median(run.cpu_ms_per_request for run in mine),
                unexpected=sum(run.measurement.unexpected(run.endpoint) for run in mine),
            )
        )
    return found


@dataclass(frozen=True)
class Ratio:
    """Gateway's requests/s divided by a peer's, one figure per round: above 1, Gateway answers more."""

    median: float
    lowest: float
    highest: float
    rounds: int


def ratios(runs: Sequence[Run]) -> dict[str, dict[str, Ratio]]:
    """{endpoint: {peer: Ratio}}, each round's Gateway run against the same round's run of the peer."""
    rates = {(run.endpoint.name, run.stack, run.round): run.measurement.requests_per_second for run in runs}
    per_round: dict[str, dict[str, list[float]]] = {}
    for (endpoint, stack, round_number), rate in rates.items():
        reference = rates.get((endpoint, REFERENCE, round_number))
        if stack != REFERENCE and reference is not None and rate > 0:
            per_round.setdefault(endpoint, {}).setdefault(stack, []).append(reference / rate)
    return {
        endpoint: {
            peer: Ratio(statistics.median(found), min(found), max(found), len(found)) for peer, found in by_peer.items()
        }
        for endpoint, by_peer in per_round.items()
    }


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


def _ratio(ratio: Ratio | None) -> str:
    return "-" if ratio is None else f"{ratio.median:.2f} ({ratio.lowest:.2f}-{ratio.highest:.2f})"


def render(summary: Sequence[Median], runs: Sequence[Run], stacks: Sequence[StackFacts]) -> str:
    results = _table(
        ["endpoint", "stack", "status", "req/s", "p50 ms", "p99 ms", "CPU ms/req", "unexpected"],
        [
            [m.endpoint, m.stack, str(m.status), f"{m.requests_per_second:.0f}", f"{m.p50_ms:.2f}",
             f"{m.p99_ms:.2f}", f"{m.cpu_ms_per_request:.2f}", str(m.unexpected)]
            for m in summary
        ],
    )  # fmt: skip
    peers = [facts.name for facts in stacks if facts.name != REFERENCE]
    found_ratios = ratios(runs)
    ratio_table = _table(
        ["endpoint", *(f"gateway/{peer}" for peer in peers)],
        [[endpoint, *(_ratio(by_peer.get(peer)) for peer in peers)] for endpoint, by_peer in found_ratios.items()],
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
        parts.append(
            "Gateway's requests/s divided by each peer's in the same round, median (lowest-highest) over the rounds"
            " (above 1: Gateway answers more):\n" + ratio_table
        )
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
        "gateway_over_peer_requests_per_second": {
            endpoint: {peer: vars(ratio) for peer, ratio in by_peer.items()}
            for endpoint, by_peer in ratios(runs).items()
        },
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
                "server_cpu_seconds": run.server_cpu_seconds,
            }
            | run.measurement.as_dict()
            for run in runs
        ],
        "notes": list(notes),
    }
    path.write_text(json.dumps(document, indent=2) + "\n", encoding="utf-8")
