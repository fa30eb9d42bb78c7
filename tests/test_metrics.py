"""Prometheus metrics at /metrics: what an operator's scraper sees, with one worker or several."""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable, Iterator
from dataclasses import replace
from pathlib import Path

import httpx
import pytest
from prometheus_client.mmap_dict import MmapedDict
from prometheus_client.parser import text_string_to_metric_families
from prometheus_client.samples import Sample
from starlette.testclient import TestClient

from app import create_app
from settings import Settings, SettingsError
from tests.conftest import empty_database
from tests.servers import gateway_process

# prometheus_client.mmap_dict has no type hints: (key, value, timestamp, position) per sample.
read_values: Callable[[str], list[tuple[str, float, float, int]]] = MmapedDict.read_all_values_from_file
TOKEN = "metrics-token-" + "x" * 32
SCRAPER = {"Authorization": f"Bearer {TOKEN}"}


def sample(text: str, name: str, **labels: str) -> float:
    """The value of one sample in the Prometheus text format (0 when it is not there yet)."""
    for family in text_string_to_metric_families(text):
        for found in family.samples:
            if found.name == name and found.labels == labels:
                return float(found.value)
    return 0.0


def _samples(text: str, name: str) -> list[Sample]:
    return [found for family in text_string_to_metric_families(text) for found in family.samples if found.name == name]


@pytest.fixture
def metrics_client(settings: Settings) -> Iterator[TestClient]:
    with create_app(replace(settings, metrics_token=TOKEN)).test_client() as client:
        yield client


def scrape(client: TestClient) -> str:
    response = client.get("/api/v1/metrics", headers=SCRAPER)
    assert response.status_code == 200, response.text
    assert response.headers["Content-Type"].startswith("text/plain; version=0.0.4")
    text: str = response.text
    return text


def test_counts_each_answer_by_operation_and_status(metrics_client: TestClient) -> None:
    before = scrape(metrics_client)

    assert metrics_client.get("/api/v1/users").status_code == 200
    assert metrics_client.get(f"/api/v1/users/{uuid.uuid4()}").status_code == 404
    assert metrics_client.get("/api/v1/no-such-thing").status_code == 404
    after = scrape(metrics_client)

    def grew(**labels: str) -> float:
        name = "gateway_http_requests_total"
        return sample(after, name, **labels) - sample(before, name, **labels)

    assert grew(operation="listUsers", status="200") == 1
    assert grew(operation="getUser", status="404") == 1
    assert grew(operation="unmatched", status="404") == 1
    assert grew(operation="getMetrics", status="200") == 1  # the scrape before


def test_latency_histograms_in_flight_and_pool(metrics_client: TestClient) -> None:
    metrics_client.get("/api/v1/users")

    text = scrape(metrics_client)

    buckets = [
        bucket for bucket in _samples(text, "gateway_http_request_duration_seconds_bucket")
        if bucket.labels["operation"] == "listUsers"
    ]  # fmt: skip
    assert [bucket.labels["le"] for bucket in buckets][-2:] == ["10.0", "+Inf"]
    assert buckets[-1].value >= 1
    # The scrape itself is the one request in flight.
    assert sample(text, "gateway_http_requests_in_flight") == 1
    assert "# TYPE gateway_db_pool_checked_out_connections gauge" in text
    assert sample(text, "gateway_db_pool_checked_out_connections") == 0  # every request gave its connection back
    assert sample(text, "gateway_db_pool_size_connections") >= 1


def test_needs_the_metrics_token(metrics_client: TestClient) -> None:
    anonymous = metrics_client.get("/api/v1/metrics")
    wrong = metrics_client.get("/api/v1/metrics", headers={"Authorization": "Bearer " + "y" * 46})

    assert anonymous.status_code == 401
    assert anonymous.headers["WWW-Authenticate"].startswith("Bearer")
    assert wrong.status_code == 401


def test_off_without_the_setting(client: TestClient) -> None:
    anonymous = client.get("/api/v1/metrics")
    with_a_token = client.get("/api/v1/metrics", headers=SCRAPER)

    assert anonymous.status_code == 404
    assert anonymous.headers["Content-Type"] == "application/problem+json"
    assert with_a_token.status_code == 404


@pytest.mark.parametrize("token", ["short", "x" * 40 + " space", "é" * 40])
def test_a_guessable_or_malformed_token_is_refused_at_start(token: str) -> None:
    with pytest.raises(SettingsError, match="GATEWAY_METRICS_TOKEN"):
        Settings.from_env({"GATEWAY_METRICS_TOKEN": token})


def _listed_by_worker(metrics_dir: Path, operation: str) -> dict[str, float]:
    """What each worker counted for an operation, read from its own file."""
    counted: dict[str, float] = {}
    for file in metrics_dir.glob("counter_*.db"):
        counted[file.stem.rpartition("_")[2]] = sum(
            value
            for key, value, *_ in read_values(str(file))
            if json.loads(key)[2] == {"operation": operation, "status": "200"}
        )
    return counted


def test_counts_add_up_over_worker_processes(tmp_path: Path) -> None:
    metrics_dir = tmp_path / "metrics"
    metrics_dir.mkdir()
    left_over = metrics_dir / "counter_999999999.db"
    left_over.write_bytes(b"a file of an earlier run, whose worker is gone")
    env = {"PROMETHEUS_MULTIPROC_DIR": str(metrics_dir), "GATEWAY_METRICS_TOKEN": TOKEN, "GATEWAY_RATE_LIMITS": "off"}
    requests = 40
    close = {"Connection": "close"}  # a new connection each time, so that both workers answer some

    with gateway_process(empty_database(tmp_path), tmp_path / "server.log", env, workers=2) as (base, _):
        for _ in range(requests):
            assert httpx.get(f"{base}/users", headers=close).status_code == 200
        scrapes: list[httpx.Response] = []
        while len(scrapes) < 50 and not (
            len(scrapes) >= 4 and all(_listed_by_worker(metrics_dir, "getMetrics").values())
        ):
            scrapes.append(httpx.get(f"{base}/metrics", headers=SCRAPER | close))

        by_worker = _listed_by_worker(metrics_dir, "listUsers")
        scraped_by = _listed_by_worker(metrics_dir, "getMetrics")

    assert not left_over.exists()
    assert len(by_worker) == 2  # both workers answered requests...
    assert all(by_worker.values()), by_worker
    assert len(scraped_by) == 2  # ... and scrapes
    assert all(scraped_by.values()), scraped_by
    assert all(scrape.status_code == 200 for scrape in scrapes)
    assert {
        sample(scrape.text, "gateway_http_requests_total", operation="listUsers", status="200") for scrape in scrapes
    } == {requests}
    # Stopped workers leave their counts and take their live gauges with them.
    assert len(list(metrics_dir.glob("counter_*.db"))) == 2
    assert not list(metrics_dir.glob("gauge_livesum_*.db"))
