"""A database with one administrator, as an operator sets one up, for the contract tests."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

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
