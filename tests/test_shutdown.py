"""SIGTERM, as a container engine or process manager sends it, ends the service gracefully: a request under
way gets its normal answer, no new connection is accepted meanwhile, and the process exits in time.
Both ways the service is started: gunicorn (`make serve`, the container) and uvicorn (`make run`)."""

from __future__ import annotations

import json
import os
import signal
import socket
import time
from pathlib import Path

import pytest

from tests.conftest import empty_database
from tests.servers import BIN, free_port, running

GRACEFUL_SECONDS = 10
# Gunicorn's master exits 0. Uvicorn, once it has shut down gracefully, raises the signal it caught again, so
# that whoever sent it sees the process end by that signal (exit status 143 in a shell).
EXIT_STATUS = {"gunicorn": 0, "uvicorn": -signal.SIGTERM}
NEW_USER = json.dumps({"name": "Ada", "email": "ada@example.com", "password": "correct horse battery"}).encode()


def server_command(server: str, port: int) -> list[str | Path]:
    if server == "gunicorn":  # as deploy/start.sh runs it
        return [BIN / "gunicorn", "--config", "deploy/gunicorn.conf.py"]
    return [BIN / "uvicorn", "--factory", "app:create_app", "--host", "127.0.0.1", "--port", str(port)]


def refuses_connections(port: int) -> bool:
    try:
        socket.create_connection(("127.0.0.1", port), timeout=1).close()
    except ConnectionRefusedError:
        return True
    return False


def read_answer(connection: socket.socket) -> bytes:
    answer = b""
    while chunk := connection.recv(65536):
        answer += chunk
    return answer


@pytest.mark.parametrize("server", ["gunicorn", "uvicorn"])
def test_sigterm_lets_the_request_under_way_finish_and_refuses_new_ones(server: str, tmp_path: Path) -> None:
    port = free_port()
    env = os.environ | {
        "DATABASE_URL": empty_database(tmp_path),
        "GATEWAY_ENV": "production",  # and so Argon2 at its production cost: the sign-up below takes ~0.3 s
        "HOST": "127.0.0.1",
        "PORT": str(port),
        # Two gunicorn workers; uvicorn reads the same variable, and `make run` starts it with one process.
        "WEB_CONCURRENCY": "2" if server == "gunicorn" else "1",
        "GATEWAY_GRACEFUL_SECONDS": str(GRACEFUL_SECONDS),
    }
    command = server_command(server, port)
    with running(command, f"http://127.0.0.1:{port}/api/v1/healthz", tmp_path / "server.log", env) as process:
        # A sign-up whose body is still on its way when the signal comes: the request is under way.
        slow = socket.create_connection(("127.0.0.1", port), timeout=GRACEFUL_SECONDS + 5)
        slow.sendall(
            b"POST /api/v1/users HTTP/1.1\r\nHost: gateway\r\nContent-Type: application/json\r\n"
            + f"Content-Length: {len(NEW_USER)}\r\n\r\n".encode()
            + NEW_USER[:10]
        )
        time.sleep(0.5)  # the server has read the headers and started the request
        process.send_signal(signal.SIGTERM)
        stopping = time.monotonic()

        deadline = stopping + 5
        while not refuses_connections(port):
            assert time.monotonic() < deadline, "still accepting connections 5 s after SIGTERM"
            time.sleep(0.1)
        assert process.poll() is None, "exited before the request under way was answered"

        slow.sendall(NEW_USER[10:])
        answer = read_answer(slow)
        slow.close()
        returncode = process.wait(timeout=GRACEFUL_SECONDS + 5)
        stopped_after = time.monotonic() - stopping

    head, _, body = answer.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 201"), answer
    assert b"connection: close" in head.lower()
    assert json.loads(body)["email"] == "ada@example.com"
    assert returncode == EXIT_STATUS[server], (tmp_path / "server.log").read_text(errors="replace")
    assert stopped_after < GRACEFUL_SECONDS
