"""wrk as the load generator: one thread, a fixed number of connections, pinned to its own CPU, and the
results read from the JSON line its Lua script prints (latency percentiles in microseconds)."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from benchmarks.http.endpoints import Endpoint

SCRIPT = Path(__file__).with_name("wrk_script.lua")
MARKER = "BENCHMARK_RESULT "
REQUEST_TIMEOUT = "5s"  # wrk's default (2 s) would count a slow answer under queueing as an error
GRACE_SECONDS = 30  # beyond the run's own duration, before the driver gives up on wrk


class ToolMissing(RuntimeError):
    pass


class LoadFailed(RuntimeError):
    pass


def require_tools() -> str:
    """wrk's path; a clear message when it or taskset is missing."""
    wrk = shutil.which("wrk")
    if wrk is None:
        raise ToolMissing("wrk is not installed. On Debian or Ubuntu: apt-get install -y wrk")
    if shutil.which("taskset") is None:
        raise ToolMissing(
            "taskset is not installed (it pins servers and wrk to CPUs). Debian: apt-get install -y util-linux"
        )
    return wrk


@dataclass(frozen=True)
class Measurement:
    requests: int
    seconds: float
    requests_per_second: float
    p50_ms: float
    p90_ms: float
    p99_ms: float
    max_ms: float
    mean_ms: float
    # Answers above 399 (wrk's count): for the refused create these are the expected ones.
    status_errors: int
    socket_errors: int  # connect, read and write errors and time-outs

    def unexpected(self, endpoint: Endpoint) -> int:
        """Answers of the wrong class for the endpoint, and requests lost to socket errors."""
        wrong = self.status_errors if endpoint.succeeds else self.requests - self.status_errors
        return wrong + self.socket_errors

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def parse(output: str) -> Measurement:
    line = next((line for line in output.splitlines() if line.startswith(MARKER)), None)
    if line is None:
        raise LoadFailed(f"wrk printed no result line:\n{output[-2000:]}")
    raw = json.loads(line.removeprefix(MARKER))
    seconds = raw["duration_us"] / 1e6
    return Measurement(
        requests=raw["requests"],
        seconds=round(seconds, 3),
        requests_per_second=raw["requests"] / seconds if seconds > 0 else 0.0,
        p50_ms=raw["p50_us"] / 1000,
        p90_ms=raw["p90_us"] / 1000,
        p99_ms=raw["p99_us"] / 1000,
        max_ms=raw["max_us"] / 1000,
        mean_ms=raw["mean_us"] / 1000,
        status_errors=raw["status_errors"],
        socket_errors=raw["connect_errors"] + raw["read_errors"] + raw["write_errors"] + raw["timeouts"],
    )


def run(
    wrk: str, base_url: str, endpoint: Endpoint, token: str, *, seconds: int, connections: int, cpu: int
) -> Measurement:
    command = [
        "taskset", "--cpu-list", str(cpu), wrk, "--threads", "1", "--connections", str(connections),
        "--duration", f"{seconds}s", "--timeout", REQUEST_TIMEOUT, "--script", str(SCRIPT), base_url + endpoint.path,
    ]  # fmt: skip
    env = os.environ | {
        "WRK_METHOD": endpoint.method,
        "WRK_BODY": endpoint.body or "",
        "WRK_TOKEN": token if endpoint.authenticated else "",
    }
    try:
        finished = subprocess.run(
            command, env=env, capture_output=True, text=True, timeout=seconds + GRACE_SECONDS, check=False
        )
    except subprocess.TimeoutExpired:
        raise LoadFailed(f"wrk did not finish within {seconds + GRACE_SECONDS} s") from None
    if finished.returncode != 0:
        raise LoadFailed(f"wrk exited with {finished.returncode}:\n{finished.stdout}{finished.stderr}")
    return parse(finished.stdout)
