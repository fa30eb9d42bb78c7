"""The contract against a real server, the way CI and API consumers run it: the service started as
`make run` starts it, then the Schemathesis command line with every check and every phase (examples,
coverage, fuzzing, stateful), authenticated, writing a JUnit report under reports/."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.conftest import POSTGRES_URL
from tests.contract.conftest import ADMIN_EMAIL, ADMIN_PASSWORD, ALL_SCOPES, LOG_SOURCES, ROOT, fresh_database

BIN = Path(sys.executable).parent
STARTUP_SECONDS = 30


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


@pytest.fixture(scope="module")
def live_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    database_url = fresh_database(tmp_path_factory.mktemp("live"))
    port = free_port()
    log = tmp_path_factory.mktemp("live-log") / "server.log"
    with log.open("wb") as output:
        server = subprocess.Popen(
            [BIN / "uvicorn", "--factory", "app:create_app", "--host", "127.0.0.1", "--port", str(port)],
            cwd=ROOT,
            env=os.environ | {"DATABASE_URL": database_url, "GATEWAY_LOG_SOURCES": LOG_SOURCES},
            stdout=output,
            stderr=subprocess.STDOUT,
        )
    base = f"http://127.0.0.1:{port}/api/v1"
    try:
        deadline = time.monotonic() + STARTUP_SECONDS
        while True:
            try:
                if httpx.get(f"{base}/openapi.json").status_code == 200:
                    break
            except httpx.TransportError:
                pass
            if server.poll() is not None or time.monotonic() > deadline:
                pytest.fail(f"the server did not start:\n{log.read_text()}")
            time.sleep(0.2)
        yield base
    finally:
        server.terminate()
        server.wait(timeout=10)


def test_schemathesis_finds_nothing_against_the_running_server(
    live_server: str, contract_credentials: dict[str, str]
) -> None:
    issued = httpx.post(
        f"{live_server}/tokens", json={"scopes": ALL_SCOPES, "expires_in": 7200}, auth=(ADMIN_EMAIL, ADMIN_PASSWORD)
    )
    assert issued.status_code == 201, issued.text
    report = ROOT / "reports" / f"contract-{'postgresql' if POSTGRES_URL else 'sqlite'}.xml"

    run = subprocess.run(
        [
            BIN / "schemathesis",
            "run",
            f"{live_server}/openapi.json",
            "--checks",
            "all",
            "--phases",
            "examples,coverage,fuzzing,stateful",
            "--max-examples",
            "50",
            "--seed",
            "1",
            "--report",
            "junit",
            "--report-junit-path",
            str(report),
        ],
        cwd=ROOT,
        env=os.environ | contract_credentials | {"GATEWAY_CONTRACT_TOKEN": issued.json()["access_token"]},
        capture_output=True,
        text=True,
        timeout=900,
    )

    assert run.returncode == 0, run.stdout[-20000:] + run.stderr[-5000:]
    assert "Stateful" in run.stdout
    assert report.is_file()
