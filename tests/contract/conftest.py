"""A database with one administrator, as an operator sets one up, for the contract tests."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.conftest import empty_database
from tests.servers import ROOT, gateway

ADMIN_EMAIL = "contract-admin@example.com"
ADMIN_PASSWORD = "contract admin password"
ALL_SCOPES = ["admin", "users:write", "posts:write", "logs:read"]
# /metrics is on, so that its answers are checked too (off, it answers 404 even without a token).
METRICS_TOKEN = "contract-metrics-token-0123456789abcdef"
LOGS = ROOT / "tests" / "data" / "logs"
# The real logs in tests/data/logs, as an operator would configure them.
LOG_SOURCES = ",".join(
    f"{name}={LOGS / file}"
    for name, file in [
        ("system", "Linux_2k.log"),
        ("sshd", "OpenSSH_2k.log"),
        ("httpd", "Apache_2k.log"),
        ("nova", "OpenStack_2k.log:python"),
    ]
)


def fresh_database(tmp_path: Path) -> str:
    """An empty, migrated database with an administrator created by the documented command."""
    url = empty_database(tmp_path)
    subprocess.run(
        [sys.executable, "manage.py", "create-admin", "--email", ADMIN_EMAIL, "--name", "Contract admin"],
        cwd=ROOT,
        env=os.environ | {"DATABASE_URL": url, "GATEWAY_ADMIN_PASSWORD": ADMIN_PASSWORD},
        check=True,
        capture_output=True,
    )
    return url


@pytest.fixture(scope="module")
def contract_credentials() -> Iterator[dict[str, str]]:
    """Schemathesis reads these through schemathesis.toml; GATEWAY_CONTRACT_TOKEN is added once issued."""
    credentials = {
        "GATEWAY_CONTRACT_EMAIL": ADMIN_EMAIL,
        "GATEWAY_CONTRACT_PASSWORD": ADMIN_PASSWORD,
        "GATEWAY_CONTRACT_METRICS_TOKEN": METRICS_TOKEN,
    }
    with pytest.MonkeyPatch.context() as patch:
        for name, value in credentials.items():
            patch.setenv(name, value)
        yield credentials


@pytest.fixture(scope="module")
def live_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    database_url = fresh_database(tmp_path_factory.mktemp("live"))
    log = tmp_path_factory.mktemp("live-log") / "server.log"
    # Rate limits off: the fuzzer sends thousands of requests from one address (tests/test_rate_limits.py).
    env = {"GATEWAY_LOG_SOURCES": LOG_SOURCES, "GATEWAY_RATE_LIMITS": "off", "GATEWAY_METRICS_TOKEN": METRICS_TOKEN}
    with gateway(database_url, log, env) as base:
        yield base
