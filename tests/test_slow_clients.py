"""A client that trickles its request body is cut off at the spec's limit (408) and, meanwhile, holds
up no one else: the real server, over a real socket."""

from __future__ import annotations

import json
import socket
from collections.abc import Iterator
from urllib.parse import urlsplit

import httpx
import pytest
import yaml

from tests.conftest import empty_database
from tests.servers import ROOT, gateway

LIMITS = yaml.safe_load((ROOT / "spec" / "openapi.yaml").read_text(encoding="utf-8"))["info"]["x-gateway-limits"]


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    database_url = empty_database(tmp_path_factory.mktemp("slow"))
    with gateway(database_url, tmp_path_factory.mktemp("slow-log") / "server.log") as base:
        yield base


def test_a_body_that_never_finishes_is_answered_408_and_blocks_no_one(server: str) -> None:
    address = urlsplit(server)
    slow = socket.create_connection((address.hostname or "127.0.0.1", address.port or 80))
    slow.sendall(
        b"POST /api/v1/users HTTP/1.1\r\nHost: gateway\r\nContent-Type: application/json\r\n"
        b'Content-Length: 100\r\n\r\n{"name": "Ada"'
    )

    others = httpx.get(f"{server}/healthz", timeout=5)  # while the slow body is still pending
    slow.settimeout(LIMITS["requestBodySeconds"] + 20)
    answer = b""
    while b"\r\n\r\n" not in answer or not answer.rstrip().endswith(b"}"):
        chunk = slow.recv(65536)
        if not chunk:
            break
        answer += chunk
    slow.close()

    assert others.status_code == 200
    head, _, body = answer.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 408")
    assert b"content-type: application/problem+json" in head.lower()
    assert json.loads(body)["status"] == 408
    assert httpx.get(f"{server}/users").json()["items"] == []  # nothing was created
