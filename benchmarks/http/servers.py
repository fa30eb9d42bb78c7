"""The three stacks as real server processes on loopback: how each is started, how long it takes to answer,
how much memory its workers hold, and how it is stopped (always, with all its workers)."""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Mapping
from dataclasses import dataclass
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parents[2]  # the project: Gateway's app.py and the peers import from here
BIN = Path(sys.executable).parent
HOST = "127.0.0.1"
HEALTH_PATH = "/api/v1/healthz"
STARTUP_SECONDS = 60.0
POLL_SECONDS = 0.02  # fine enough to time a start-up of a second or so
STOP_SECONDS = 15.0
CLOCK_TICKS = os.sysconf("SC_CLK_TCK")  # the unit of /proc's CPU times
LOG_LEVEL = "warning"  # the servers' own start/stop lines only: nothing per request
# Variables that would change how a stack runs if the driver's environment happened to carry them.
INHERITED_SETTINGS = ("GATEWAY_", "DATABASE_URL", "PROMETHEUS_MULTIPROC_DIR", "GUNICORN_", "WEB_CONCURRENCY")
# Gateway in production mode (JSON logs, docs off, responses not re-validated against the spec) without
# the rate limits (every wrk connection comes from one address) and at log level WARNING: the access line
# (logger gateway.access) is INFO, so no line is written per request, as with the peers' servers.
GATEWAY_SETTINGS = {
    "GATEWAY_ENV": "production",
    "GATEWAY_RATE_LIMITS": "off",
    "GATEWAY_LOG_LEVEL": "WARNING",
    "GATEWAY_LOG_INDEX_SECONDS": "0",
}


@dataclass(frozen=True)
class Stack:
    name: str
    server: str  # for the report: what serves it

    def command(self, port: int, workers: int) -> list[str]:
        bind = ["--host", HOST, "--port", str(port), "--workers", str(workers)]
        quiet = ["--no-access-log", "--log-level", LOG_LEVEL]
        if self.name == "gateway":  # as deployed: gunicorn's uvicorn workers, as deploy/gunicorn.conf.py says
            return [
                str(BIN / "gunicorn"), "--config", "deploy/gunicorn.conf.py", "--bind", f"{HOST}:{port}",
                "--workers", str(workers), "--log-level", LOG_LEVEL,
            ]  # fmt: skip
        if self.name == "fastapi":
            return [str(BIN / "uvicorn"), "--factory", "benchmarks.http.peers.fastapi_peer:create_app", *bind, *quiet]
        # gunicorn writes no access log unless told to; its control socket would be a file in $HOME.
        return [
            str(BIN / "gunicorn"), "--worker-class", "sync", "--workers", str(workers), "--bind", f"{HOST}:{port}",
            "--log-level", LOG_LEVEL, "--no-control-socket", "benchmarks.http.peers.flask_peer:create_app()",
        ]  # fmt: skip

    def environment(self, database_url: str) -> dict[str, str]:
        env = {name: value for name, value in os.environ.items() if not name.startswith(INHERITED_SETTINGS)}
        env["DATABASE_URL"] = database_url
        env["PYTHONDONTWRITEBYTECODE"] = "1"
        if self.name == "gateway":
            env.update(GATEWAY_SETTINGS)
        return env


STACKS = {
    stack.name: stack
    for stack in (
        Stack("gateway", "Connexion 3 AsyncApp, gunicorn + uvicorn workers"),
        Stack("flask", "Flask, gunicorn sync worker"),
        Stack("fastapi", "FastAPI + pydantic, uvicorn"),
    )
}


class ServerDidNotStart(RuntimeError):
    pass


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind((HOST, 0))
        port: int = probe.getsockname()[1]
        return port


def children(pid: int) -> list[int]:
    found: list[int] = []
    for task in Path(f"/proc/{pid}/task").glob("*"):
        try:
            found.extend(int(child) for child in (task / "children").read_text().split())
        except (FileNotFoundError, ProcessLookupError, ValueError):
            continue
    return found


def descendants(pid: int) -> list[int]:
    found: list[int] = []
    pending = children(pid)
    while pending and len(found) < 1000:  # bounded: a server has a handful of processes
        child = pending.pop()
        found.append(child)
        pending.extend(children(child))
    return found


def cmdline(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
    except (FileNotFoundError, ProcessLookupError):
        return ""


def cpu_seconds(pid: int) -> float:
    """utime + stime of the process (fields 14 and 15 of /proc/<pid>/stat, after the command's name)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except (FileNotFoundError, ProcessLookupError):
        return 0.0
    return (int(fields[11]) + int(fields[12])) / CLOCK_TICKS


def rss_bytes(pid: int) -> int:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) * 1024
    except (FileNotFoundError, ProcessLookupError):
        pass
    return 0


@dataclass
class Server:
    stack: Stack
    port: int
    process: subprocess.Popen[bytes]
    log: Path
    startup_seconds: float = 0.0

    @property
    def base_url(self) -> str:
        return f"http://{HOST}:{self.port}"

    def worker_pids(self) -> list[int]:
        """The processes that answer requests: the children of gunicorn's arbiter or of uvicorn's supervisor
        (not multiprocessing's resource tracker), or the one uvicorn process when it runs a single worker."""
        workers = [pid for pid in descendants(self.process.pid) if "resource_tracker" not in cmdline(pid)]
        return workers or [self.process.pid]

    def worker_rss(self) -> list[int]:
        return [rss_bytes(pid) for pid in self.worker_pids()]

    def cpu_seconds(self) -> float:
        """User and system CPU time the worker processes have used so far, all their threads included."""
        return sum(cpu_seconds(pid) for pid in self.worker_pids())

    def log_tail(self, lines: int = 30) -> str:
        return "\n".join(self.log.read_text(errors="replace").splitlines()[-lines:])

    def stop(self) -> None:
        """SIGTERM to the whole process group (the server and its workers), SIGKILL if it lingers."""
        try:
            os.killpg(self.process.pid, signal.SIGTERM)
        except ProcessLookupError:
            return
        with contextlib.suppress(subprocess.TimeoutExpired):
            self.process.wait(timeout=STOP_SECONDS)
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.process.pid, signal.SIGKILL)  # workers left behind by a dead master, too
        self.process.wait(timeout=STOP_SECONDS)


def start(stack: Stack, *, database_url: str, workers: int, cpu: str, log_dir: Path) -> Server:
    """Starts the stack pinned to `cpu` (its workers inherit the affinity) and waits until it answers its
    health check; the time from the start of the process to that first answer is its start-up time."""
    port = free_port()
    log = log_dir / f"{stack.name}.log"
    command = ["taskset", "--cpu-list", cpu, *stack.command(port, workers)]
    with log.open("wb") as output:
        started = time.monotonic()
        # A session of its own: the terminal's Ctrl-C reaches the driver only, which then stops the group.
        process = subprocess.Popen(
            command, cwd=ROOT, env=stack.environment(database_url), stdout=output, stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL, start_new_session=True,
        )  # fmt: skip
    server = Server(stack, port, process, log)
    try:
        server.startup_seconds = wait_until_healthy(server, started)
    except BaseException:
        server.stop()
        raise
    return server


def wait_until_healthy(server: Server, started: float) -> float:
    url = server.base_url + HEALTH_PATH
    deadline = started + STARTUP_SECONDS
    with httpx.Client(timeout=2.0) as client:
        while time.monotonic() < deadline:
            try:
                if client.get(url).status_code == 200:
                    return time.monotonic() - started
            except httpx.TransportError:
                pass
            if server.process.poll() is not None:
                raise ServerDidNotStart(f"{server.stack.name} exited at start:\n{server.log_tail()}")
            time.sleep(POLL_SECONDS)
    raise ServerDidNotStart(
        f"{server.stack.name} did not answer {url} in {STARTUP_SECONDS:.0f} s:\n{server.log_tail()}"
    )


def versions(names: Mapping[str, str]) -> dict[str, str]:
    """Installed versions of the packages that make up the stacks, for the JSON report."""
    found: dict[str, str] = {}
    for label, package in names.items():
        try:
            found[label] = version(package)
        except PackageNotFoundError:
            found[label] = "not installed"
    return found
