"""How `make bench` sums up its runs: Gateway against a peer round by round, so that a machine whose speed
drifts between rounds compares runs of the same moment; and the server's CPU time per answered request."""

from __future__ import annotations

from benchmarks.http.endpoints import endpoints
from benchmarks.http.loadgen import Measurement
from benchmarks.http.report import Run, ratios

GET = endpoints("0b6c8f3e-4a5d-4f7e-9c1a-2d3e4f5a6b7c")["get"]


def run(round_number: int, stack: str, requests_per_second: float, cpu_seconds: float = 0.0) -> Run:
    seconds = 5.0
    measurement = Measurement(
        requests=int(requests_per_second * seconds), seconds=seconds, requests_per_second=requests_per_second,
        p50_ms=1.0, p90_ms=2.0, p99_ms=3.0, max_ms=4.0, mean_ms=1.5, status_errors=0, socket_errors=0,
    )  # fmt: skip
    return Run(round_number, 0, GET, stack, measurement, cpu_seconds)


def test_gateway_is_compared_with_the_peers_run_of_the_same_round() -> None:
    # The machine is three times faster in round 2: medians per stack (200 against 200) would call it even.
    runs = [
        run(1, "gateway", 100), run(1, "fastapi", 50),
        run(2, "gateway", 300), run(2, "fastapi", 200),
        run(3, "gateway", 60), run(3, "fastapi", 80),
    ]  # fmt: skip
    found = ratios(runs)["get"]["fastapi"]
    assert (found.median, found.lowest, found.highest, found.rounds) == (1.5, 0.75, 2.0, 3)


def test_a_round_without_gateways_run_is_left_out() -> None:
    runs = [run(1, "gateway", 100), run(1, "flask", 50), run(2, "flask", 10)]
    assert ratios(runs)["get"]["flask"].rounds == 1


def test_cpu_per_request_is_the_servers_cpu_time_over_the_requests_answered() -> None:
    assert run(1, "gateway", 400, cpu_seconds=1.0).cpu_ms_per_request == 0.5  # 2,000 requests in 1 s of CPU
