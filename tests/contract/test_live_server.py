"""The contract against a real server, the way CI and API consumers run it: the service started as
`make run` starts it, then the Schemathesis command line with every check and every phase (examples,
coverage, fuzzing, stateful), authenticated, writing a JUnit report under reports/."""

from __future__ import annotations

import os
import subprocess

import httpx

from tests.conftest import POSTGRES_URL
from tests.contract.conftest import ADMIN_EMAIL, ADMIN_PASSWORD, ALL_SCOPES
from tests.servers import BIN, ROOT


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
