"""Real processes for the tests that must meet the service the way its users do: over a socket."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent
STARTUP_SECONDS = 30


class ServerDidNotStart(RuntimeError):
    pass


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


def wait_until_answers(url: str, process: subprocess.Popen[bytes], log: Path) -> None:
    deadline = time.monotonic() + STARTUP_SECONDS
    while True:
        try:
            if httpx.get(url).status_code < 500:
                return
        except httpx.TransportError:
            pass
        if process.poll() is not None or time.monotonic() > deadline:
            raise ServerDidNotStart(f"{url} did not answer:\n{log.read_text(errors='replace')}")
        time.sleep(0.2)


@contextmanager
def running(
    command: list[str | Path], ready_url: str, log: Path, env: Mapping[str, str]
) -> Iterator[subprocess.Popen[bytes]]:
    """Start a process, wait until `ready_url` answers, stop it on the way out (if it still runs)."""
    with log.open("wb") as output:
        process = subprocess.Popen(command, cwd=ROOT, env=dict(env), stdout=output, stderr=subprocess.STDOUT)
    try:
        wait_until_answers(ready_url, process, log)
        yield process
    finally:
        if process.poll() is None:
            process.terminate()
            try:
                process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()


@contextmanager
def gateway_process(
    database_url: str,
    log: Path,
    extra_env: Mapping[str, str] | None = None,
    *,
    workers: int = 1,
    options: tuple[str, ...] = (),
) -> Iterator[tuple[str, subprocess.Popen[bytes]]]:
    """The service as `make run` starts it (uvicorn, app:create_app): its base URL, .../api/v1, and its
    process, which a test may kill."""
    port = free_port()
    base = f"http://127.0.0.1:{port}/api/v1"
    command: list[str | Path] = [
        BIN / "uvicorn", "--factory", "app:create_app", "--host", "127.0.0.1", "--port", str(port),
        "--workers", str(workers), *options,
    ]  # fmt: skip
    env = os.environ | {"DATABASE_URL": database_url} | dict(extra_env or {})
    with running(command, f"{base}/openapi.json", log, env) as process:
        yield base, process


@contextmanager
def gateway(database_url: str, log: Path, extra_env: Mapping[str, str] | None = None) -> Iterator[str]:
    with gateway_process(database_url, log, extra_env) as (base, _):
        yield base
