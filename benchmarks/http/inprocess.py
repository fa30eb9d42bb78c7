"""The work of one request in process: each stack's ASGI app called directly, without a socket or an HTTP
parser, so that what is left is the framework's own work plus the handler's (the same database work on
every stack). This is how each step of making Gateway faster was measured.

    .venv/bin/python -m benchmarks.http.inprocess [--stacks gateway,fastapi] [--requests 300] [--batches 7]
        [--endpoints get,list,create,invalid] [--instructions]

By default it prints CPU time per request, the best of --batches batches (the machine's other work only
ever adds time). With --instructions it runs itself again under valgrind's callgrind and prints
instructions per request, which come out the same from one run to the next, busy machine or not (slow:
about two minutes per stack). The Flask peer is a WSGI app and is measured over HTTP only."""

from __future__ import annotations

import argparse
import asyncio
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

from starlette.testclient import TestClient

from benchmarks.http.dataset import prepare
from benchmarks.http.endpoints import NAMES, Endpoint, endpoints
from benchmarks.http.servers import GATEWAY_SETTINGS

STACKS = ("gateway", "fastapi")
WARMUP_REQUESTS = 50
UNDER_CALLGRIND = "GATEWAY_BENCH_UNDER_CALLGRIND"  # set for the run inside valgrind: dump per endpoint
ASGIApp = Callable[[dict[str, Any], Callable[[], Awaitable[dict[str, Any]]], Callable[..., Awaitable[None]]], Any]


def build(stack: str, database_url: str) -> Any:
    if stack == "gateway":
        from app import create_app
        from settings import Settings

        return create_app(Settings.from_env({**GATEWAY_SETTINGS, "DATABASE_URL": database_url}))
    os.environ["DATABASE_URL"] = database_url  # how the peers are configured
    from benchmarks.http.peers.fastapi_peer import create_app as create_peer

    return create_peer()


def scope_of(endpoint: Endpoint, token: str) -> tuple[dict[str, Any], bytes]:
    path, _, query = endpoint.path.partition("?")
    headers = [(b"host", b"bench")]
    body = (endpoint.body or "").encode()
    if endpoint.authenticated:
        headers.append((b"authorization", f"Bearer {token}".encode()))
    if endpoint.body is not None:
        headers += [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]
    scope = {
        "type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1", "method": endpoint.method,
        "scheme": "http", "path": path, "raw_path": path.encode(), "query_string": query.encode(),
        "root_path": "", "headers": headers, "client": ("127.0.0.1", 40000), "server": ("127.0.0.1", 80),
    }  # fmt: skip
    return scope, body


async def call(app: ASGIApp, scope: dict[str, Any], body: bytes) -> int:
    """One request through the whole app; returns the status it answered."""
    delivered = False
    status = 0

    async def receive() -> dict[str, Any]:
        nonlocal delivered
        if not delivered:
            delivered = True
            return {"type": "http.request", "body": body, "more_body": False}
        await asyncio.Event().wait()  # the client never disconnects
        return {"type": "http.disconnect"}

    async def send(message: dict[str, Any]) -> None:
        nonlocal status
        if message["type"] == "http.response.start":
            status = message["status"]

    await app(dict(scope), receive, send)
    return status


def callgrind_control(*arguments: str) -> None:
    subprocess.run(["callgrind_control", *arguments, str(os.getpid())], capture_output=True, check=True)


async def measure(app: ASGIApp, cases: dict[str, tuple[dict[str, Any], bytes]], args: argparse.Namespace) -> None:
    for name, (scope, body) in cases.items():
        status = await call(app, scope, body)
        for _ in range(WARMUP_REQUESTS):
            await call(app, scope, body)
        if os.environ.get(UNDER_CALLGRIND):
            callgrind_control("--zero")
            for _ in range(args.requests):
                await call(app, scope, body)
            callgrind_control("--dump", name)
            print(f"{name} {status}", flush=True)
            continue
        best = float("inf")
        for _ in range(args.batches):
            started = time.process_time()
            for _ in range(args.requests):
                await call(app, scope, body)
            best = min(best, (time.process_time() - started) / args.requests)
        print(f"{args.stacks[0]:<8} {name:<8} {status}  {best * 1e6:8.0f} µs CPU per request", flush=True)


def run_here(args: argparse.Namespace) -> None:
    stack = args.stacks[0]
    with tempfile.TemporaryDirectory(prefix="gateway-inprocess-") as folder:
        data = prepare(f"sqlite:///{Path(folder) / 'benchmark.db'}", 200)
        app = build(stack, data.database_url)
        table = endpoints(data.post_id)
        cases = {name: scope_of(table[name], data.token) for name in args.endpoints}
        with TestClient(app) as client:  # runs the app's lifespan, as a server would
            assert client.portal is not None  # set while the client is open
            client.portal.call(measure, app, cases, args)


def run_under_callgrind(args: argparse.Namespace, stack: str) -> None:
    valgrind = shutil.which("valgrind")
    if valgrind is None:
        sys.exit("--instructions needs valgrind (Debian: apt-get install valgrind)")
    with tempfile.TemporaryDirectory(prefix="gateway-callgrind-") as folder:
        command = [
            valgrind, "--tool=callgrind", f"--callgrind-out-file={folder}/callgrind.%p",
            sys.executable, "-m", "benchmarks.http.inprocess", "--stacks", stack,
            "--requests", str(args.requests), "--endpoints", ",".join(args.endpoints),
        ]  # fmt: skip
        subprocess.run(command, env={**os.environ, UNDER_CALLGRIND: "1"}, check=True, capture_output=True)
        for dump in sorted(Path(folder).glob("callgrind.*.*"), key=lambda path: int(path.suffix[1:])):
            text = dump.read_text(errors="replace")
            name = re.search(r"^desc: Trigger: dump (\S+)", text, re.MULTILINE)
            total = re.search(r"^summary: (\d+)", text, re.MULTILINE)
            if name and total:
                per_request = int(total.group(1)) / args.requests
                print(f"{stack:<8} {name.group(1):<8} {per_request / 1e6:6.2f} M instructions per request", flush=True)


def arguments(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m benchmarks.http.inprocess", description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )  # fmt: skip
    parser.add_argument("--stacks", default=",".join(STACKS), help=f"among {','.join(STACKS)}")
    parser.add_argument("--endpoints", default=",".join(NAMES), help=f"among {','.join(NAMES)}")
    parser.add_argument("--requests", type=int, default=300, help="requests per batch (default 300)")
    parser.add_argument("--batches", type=int, default=7, help="batches; the best is reported (default 7)")
    parser.add_argument("--instructions", action="store_true", help="count instructions under callgrind")
    args = parser.parse_args(argv)
    args.stacks = [name for name in args.stacks.split(",") if name]
    args.endpoints = [name for name in args.endpoints.split(",") if name]
    if not set(args.stacks) <= set(STACKS) or not set(args.endpoints) <= set(NAMES) or args.requests < 1:
        parser.error(f"--stacks among {', '.join(STACKS)}, --endpoints among {', '.join(NAMES)}, --requests >= 1")
    return args


def main(argv: list[str] | None = None) -> None:
    args = arguments(argv)
    for stack in args.stacks:
        if args.instructions:
            run_under_callgrind(args, stack)
        else:
            run_here(argparse.Namespace(**{**vars(args), "stacks": [stack]}))


if __name__ == "__main__":
    main()
