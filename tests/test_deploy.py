"""What the container image runs, run here: deploy/start.sh (migrate, then gunicorn as deploy/gunicorn.conf.py
says) and deploy/healthcheck.py, on a fresh SQLite database. No container engine runs in CI, so the
Dockerfile and compose.yaml are checked for what they must say, not built."""

from __future__ import annotations

import json
import os
import re
import runpy
import signal
import subprocess
import sys
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml

from storage.migrate import head_revision
from tests.servers import BIN, ROOT, free_port, running

DEPLOY = ROOT / "deploy"


def gunicorn_settings(env: dict[str, str] | None = None) -> dict[str, Any]:
    saved = os.environ.copy()
    try:
        os.environ.clear()
        os.environ.update(env or {})
        return runpy.run_path(str(DEPLOY / "gunicorn.conf.py"))
    finally:
        os.environ.clear()
        os.environ.update(saved)


def healthcheck(port: int) -> int:
    return subprocess.run(
        [sys.executable, DEPLOY / "healthcheck.py"], env=os.environ | {"PORT": str(port)}, capture_output=True
    ).returncode


def test_the_entry_point_migrates_serves_and_stops_on_sigterm_writing_only_where_told(tmp_path: Path) -> None:
    data, home, scratch = tmp_path / "data", tmp_path / "home", tmp_path / "tmp"
    for folder in (home, scratch):
        folder.mkdir()
    default_database = ROOT / "var" / "gateway.db"
    default_before = default_database.stat().st_mtime_ns if default_database.exists() else None
    port = free_port()
    env = os.environ | {
        "PATH": f"{BIN}{os.pathsep}{os.environ['PATH']}",  # the image's venv is first on its PATH too
        "DATABASE_URL": f"sqlite:///{data / 'gateway.db'}",  # not created yet: the script migrates it
        "GATEWAY_ENV": "production",
        "HOST": "127.0.0.1",
        "PORT": str(port),
        "WEB_CONCURRENCY": "1",
        "HOME": str(home),
        "TMPDIR": str(scratch),
        "PYTHONDONTWRITEBYTECODE": "1",
    }
    log = tmp_path / "server.log"
    with running([DEPLOY / "start.sh"], f"http://127.0.0.1:{port}/api/v1/healthz", log, env) as process:
        ready = httpx.get(f"http://127.0.0.1:{port}/api/v1/readyz")
        healthy = healthcheck(port)
        # exec: the process the container engine signals is gunicorn itself, not a shell in front of it
        command_line = Path(f"/proc/{process.pid}/cmdline").read_bytes().split(b"\0")
        process.send_signal(signal.SIGTERM)
        returncode = process.wait(timeout=20)

    assert ready.status_code == 200, ready.text
    assert ready.json()["migration"] == head_revision()
    assert healthy == 0
    assert any(part.endswith(b"gunicorn") for part in command_line[:2]), command_line
    assert returncode == 0, log.read_text(errors="replace")
    assert healthcheck(port) == 1
    # The database, SQLite's journal and shared memory, and the files the worker processes take turns on.
    beside = {"gateway.db", "gateway.db-wal", "gateway.db-shm", "gateway.db-line", "gateway.db-turn"}
    assert {path.name for path in data.iterdir()} <= beside
    assert list(home.iterdir()) == [], "wrote into $HOME"
    assert list(scratch.iterdir()) == []
    after = default_database.stat().st_mtime_ns if default_database.exists() else None
    assert after == default_before, "touched the default database under var/"


def test_workers_follow_the_cores_within_bounds_unless_told() -> None:
    default_workers = gunicorn_settings()["default_workers"]

    assert [default_workers(cores) for cores in (1, 2, 3, 4, 16)] == [2, 2, 3, 4, 4]
    assert gunicorn_settings({"WEB_CONCURRENCY": "7"})["workers"] == 7


def test_each_worker_is_told_how_many_workers_there_are_before_it_builds_the_app(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    class Arbiter:
        class cfg:
            workers = 3  # as `--workers 3` on the command line would say, whatever the environment said

    monkeypatch.setenv("WEB_CONCURRENCY", "2")
    gunicorn_settings({"WEB_CONCURRENCY": "2"})["post_fork"](Arbiter(), None)

    assert os.environ["WEB_CONCURRENCY"] == "3"


def test_gunicorn_serves_the_factory_with_uvicorn_workers_from_the_environment() -> None:
    settings = gunicorn_settings({"HOST": "192.0.2.10", "PORT": "9000", "FORWARDED_ALLOW_IPS": "10.0.0.2"})

    assert settings["wsgi_app"] == "app:create_app()"
    assert settings["worker_class"] == "uvicorn_worker.UvicornWorker"
    assert settings["bind"] == ["192.0.2.10:9000"]
    assert settings["forwarded_allow_ips"] == "10.0.0.2"
    assert settings["accesslog"] is None
    assert settings["control_socket_disable"] is True
    assert settings["reuse_port"] is True  # a socket for each worker: the kernel spreads the connections


def dockerfile_instructions() -> list[tuple[str, str]]:
    text = re.sub(r"\\\n", " ", (ROOT / "Dockerfile").read_text(encoding="utf-8"))
    lines = [line.strip() for line in text.splitlines() if line.strip() and not line.lstrip().startswith("#")]
    return [(line.split(None, 1)[0].upper(), line.split(None, 1)[1]) for line in lines]


def test_the_dockerfile_builds_redoc_apart_and_runs_the_entry_point_as_a_user() -> None:
    instructions = dockerfile_instructions()
    stages = [argument for keyword, argument in instructions if keyword == "FROM"]
    final = instructions[max(i for i, (keyword, _) in enumerate(instructions) if keyword == "FROM") :]
    arguments = {keyword: argument for keyword, argument in final}
    redoc_copy = re.search(r"^\tcp (.+) \$\(@D\)/$", (ROOT / "Makefile").read_text(), re.MULTILINE)

    assert len(stages) == 2
    assert stages[0].startswith("node:")
    assert stages[0].endswith(" AS redoc")
    assert stages[1].startswith("python:3.11-slim")
    node_runs = " ".join(
        argument for keyword, argument in instructions[: len(instructions) - len(final)] if keyword == "RUN"
    )
    assert "npm ci" in node_runs
    assert redoc_copy
    assert f"cp {redoc_copy.group(1)} web/static/" in node_runs  # the files make copies
    assert "COPY --from=redoc /build/web/static web/static" in [f"COPY {a}" for k, a in final if k == "COPY"]
    assert any("-r /tmp/requirements.txt -c /tmp/constraints.txt" in a for k, a in final if k == "RUN")
    assert arguments["USER"] not in ("root", "0")
    assert json.loads(arguments["HEALTHCHECK"].split("CMD", 1)[1]) == ["python", "deploy/healthcheck.py"]
    assert json.loads(arguments["ENTRYPOINT"]) == ["deploy/start.sh"]
    assert os.access(DEPLOY / "start.sh", os.X_OK)


def test_the_image_leaves_out_local_state() -> None:
    ignored = set((ROOT / ".dockerignore").read_text(encoding="utf-8").splitlines())

    assert {".git", ".venv", "node_modules", "var", "web/static", "*.db"} <= ignored


def seconds(duration: str) -> int:
    match = re.fullmatch(r"(\d+)s", duration)
    assert match, duration
    return int(match.group(1))


def test_compose_starts_the_app_once_postgres_is_healthy_with_redis_for_rate_limits() -> None:
    compose = yaml.safe_load((ROOT / "compose.yaml").read_text(encoding="utf-8"))
    services = compose["services"]
    db, redis, app = services["db"], services["redis"], services["app"]

    assert "pg_isready" in db["healthcheck"]["test"]
    assert any(volume.split(":")[0] in compose["volumes"] for volume in db["volumes"])
    assert "redis-cli" in redis["healthcheck"]["test"]
    assert app["build"] == "."
    assert app["depends_on"]["db"] == {"condition": "service_healthy"}
    assert app["environment"]["DATABASE_URL"].startswith("postgresql://")
    assert app["environment"]["DATABASE_URL"].endswith("@db:5432/gateway")
    assert app["environment"]["GATEWAY_RATE_LIMIT_STORE"] == "redis://redis:6379/0"
    assert app["environment"]["GATEWAY_ENV"] == "production"
    assert "GATEWAY_CORS_ORIGINS" in app["environment"]
    # The engine's kill comes after gunicorn's graceful timeout, not before (Docker's default is 10 s).
    assert seconds(app["stop_grace_period"]) > gunicorn_settings()["graceful_timeout"]
