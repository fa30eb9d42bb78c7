"""A database with one administrator, as an operator sets one up, for the contract tests."""

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

from storage.migrate import upgrade
from tests.conftest import POSTGRES_URL, _recreate_postgres_database

ROOT = Path(__file__).resolve().parents[2]
ADMIN_EMAIL = "contract-admin@example.com"
ADMIN_PASSWORD = "contract admin password"
ALL_SCOPES = ["admin", "users:write", "posts:write", "logs:read"]
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
    if POSTGRES_URL:
        _recreate_postgres_database(POSTGRES_URL)
        url = POSTGRES_URL
    else:
        url = f"sqlite:///{tmp_path / 'gateway.db'}"
    upgrade(url)
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
    credentials = {"GATEWAY_CONTRACT_EMAIL": ADMIN_EMAIL, "GATEWAY_CONTRACT_PASSWORD": ADMIN_PASSWORD}
    with pytest.MonkeyPatch.context() as patch:
        for name, value in credentials.items():
            patch.setenv(name, value)
        yield credentials


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
