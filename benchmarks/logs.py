"""The log analyzer against grep on a realistic log of at least 1 GB, through the real server.

    .venv/bin/python -m benchmarks.logs [--size-mb 1024] [--keep]

Prints, in one run: the time of `grep -c ERROR`, the time for the API to page through every ERROR
entry and to count entries per level, the time of an incremental poll after appending 1 MB, and the
peak memory (VmHWM) of the server process. Loopback only; the log and the database live in a
temporary folder that is removed afterwards (unless --keep)."""

from __future__ import annotations

import argparse
import os
import random
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TypeVar

import httpx

T = TypeVar("T")
ROOT = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent
ADMIN = ("bench@example.com", "benchmark password")
LOGGERS = ["app.http", "app.db", "app.cache", "app.auth", "worker.jobs", "worker.mail"]
MESSAGES = [
    "GET /api/v1/posts?limit=20 200 14ms user=7f3a request_id=9c1e2b7d",
    "query users by email took 3.2ms rows=1",
    "cache miss key=session:4f2a9e ttl=300",
    "token issued user=5d1c scopes=posts:write",
    "job send_digest finished in 812ms retries=0",
    "retrying upstream after ERROR 503 from billing (attempt 2)",  # says ERROR, logged at INFO (1 in 200)
]
TRACEBACK = (
    "Traceback (most recent call last):\n"
    '  File "/srv/app/handlers.py", line 88, in create_post\n'
    "    post = repository.save(post)\n"
    '  File "/srv/app/repository.py", line 41, in save\n'
    "    raise DatabaseUnavailable(host)\n"
    "app.errors.DatabaseUnavailable: db-primary:5432 is not accepting connections\n"
)


def log_lines(start: datetime, seed: int) -> Iterator[str]:
    """Python logging's `%(asctime)s - %(name)s - %(levelname)s - %(message)s`, about 1% errors,
    a third of them with a traceback."""
    rng = random.Random(seed)
    moment = start
    while True:
        moment += timedelta(milliseconds=rng.randint(1, 40))
        stamp = moment.strftime("%Y-%m-%d %H:%M:%S,") + f"{moment.microsecond // 1000:03d}"
        roll = rng.random()
        if roll < 0.01:
            text = f"{stamp} - {rng.choice(LOGGERS)} - ERROR - request failed: upstream timeout after 30s\n"
            yield text + (TRACEBACK if roll < 0.0033 else "")
        elif roll < 0.04:
            yield f"{stamp} - {rng.choice(LOGGERS)} - WARNING - slow response 1840ms on /api/v1/users\n"
        else:
            message = MESSAGES[-1] if rng.random() < 0.005 else rng.choice(MESSAGES[:-1])
            yield f"{stamp} - {rng.choice(LOGGERS)} - INFO - {message}\n"


def write_log(path: Path, size: int, start: datetime, seed: int) -> datetime:
    written = 0
    lines = log_lines(start, seed)
    with path.open("a", encoding="utf-8") as file:
        batch: list[str] = []
        while written < size:
            text = next(lines)
            batch.append(text)
            written += len(text)
            if len(batch) == 10_000:
                file.write("".join(batch))
                batch = []
        file.write("".join(batch))
    return start + timedelta(days=1)


def timed(run: Callable[[], T]) -> tuple[float, T]:
    began = time.perf_counter()
    result = run()
    return time.perf_counter() - began, result


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


def reset_peak_memory(pid: int) -> None:
    """Start the peak (VmHWM) afresh: Argon2 hashing at start and at login peaks at 64 MiB by design,
    which says nothing about the log reader."""
    Path(f"/proc/{pid}/clear_refs").write_text("5")


def resident_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def peak_memory_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def page_through(client: httpx.Client, url: str, params: dict[str, str | int]) -> tuple[int, str]:
    """Follows next_cursor until a page adds nothing and the cursor stops moving (the end of the file)."""
    count, cursor = 0, None
    while True:
        page = client.get(url, params=params | ({"cursor": cursor} if cursor else {})).json()
        count += len(page["items"])
        if not page["items"] and page["next_cursor"] == cursor:
            return count, str(cursor)
        cursor = page["next_cursor"]


def wait_for_counts(base: str, token: str) -> None:
    while not httpx.get(
        f"{base}/logs/bench/stats", params={"interval": "1d"}, headers={"Authorization": f"Bearer {token}"}, timeout=60
    ).json()["complete"]:
        time.sleep(0.5)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--size-mb", type=int, default=1024)
    parser.add_argument("--keep", action="store_true")
    args = parser.parse_args()
    folder = Path(tempfile.mkdtemp(prefix="gateway-bench-"))
    log = folder / "app.log"
    database = f"sqlite:///{folder / 'gateway.db'}"
    env = os.environ | {"DATABASE_URL": database, "GATEWAY_LOG_SOURCES": f"bench={log}:python",
                        "GATEWAY_ENV": "production", "GATEWAY_ADMIN_PASSWORD": ADMIN[1]}  # fmt: skip
    server = None
    try:
        log.touch()
        subprocess.run([sys.executable, "manage.py", "create-admin", "--email", ADMIN[0], "--name", "Bench"],
                       cwd=ROOT, env=env, check=True, capture_output=True)  # fmt: skip
        port = free_port()
        # The server starts first, as in production: its indexer follows the log while it is written.
        server = subprocess.Popen(
            [BIN / "uvicorn", "--factory", "app:create_app", "--port", str(port), "--log-level", "warning"],
            cwd=ROOT,
            env=env | {"GATEWAY_LOG_INDEX_SECONDS": "1"},
        )
        base = f"http://127.0.0.1:{port}/api/v1"
        for _ in range(100):
            try:
                httpx.get(f"{base}/openapi.json")
                break
            except httpx.TransportError:
                time.sleep(0.1)
        token = httpx.post(f"{base}/tokens", json={"scopes": ["logs:read"]}, auth=ADMIN).json()["access_token"]
        print(f"server before the log queries: peak {peak_memory_mb(server.pid):.0f} MB (Argon2 included), "
              f"resident {resident_mb(server.pid):.0f} MB")  # fmt: skip
        reset_peak_memory(server.pid)

        seconds, _ = timed(lambda: write_log(log, args.size_mb << 20, datetime(2026, 1, 1, tzinfo=UTC), 1))
        size = log.stat().st_size
        print(f"log: {size / 2**30:.2f} GiB written in {seconds:.1f} s ({log})")
        lag_seconds, _ = timed(lambda: wait_for_counts(base, token))
        print(f"indexer: counts complete {lag_seconds:.1f} s after the last write")
        subprocess.run(["cat", str(log)], stdout=subprocess.DEVNULL, check=True)  # same page cache for both
        grep_seconds, grep = timed(lambda: subprocess.run(["grep", "-c", "ERROR", str(log)], capture_output=True))
        print(f"grep -c ERROR: {grep.stdout.decode().strip()} lines in {grep_seconds:.2f} s")

        with httpx.Client(headers={"Authorization": f"Bearer {token}"}, timeout=600) as client:
            entries = f"{base}/logs/bench/entries"
            api_seconds, (errors, cursor) = timed(
                lambda: page_through(client, entries, {"order": "oldest", "min_level": "error", "limit": 1000})
            )
            print(f"API, every ERROR entry paged (1000 a page): {errors} entries in {api_seconds:.2f} s "
                  f"= {api_seconds / grep_seconds:.1f}x grep")  # fmt: skip

            def count_all() -> tuple[int, int]:
                calls = 0
                while True:
                    calls += 1
                    counted = client.get(f"{base}/logs/bench/stats", params={"interval": "1d"}).json()
                    if counted["complete"]:
                        return calls, sum(b["counts"].get("error", 0) for b in counted["buckets"])

            stats_seconds, (_calls, counted) = timed(count_all)
            print(f"API, count of every ERROR entry (stats, counts kept as the log grew): {counted} errors in "
                  f"{stats_seconds:.2f} s = {stats_seconds / grep_seconds:.1f}x grep")  # fmt: skip
            newest_seconds, _ = timed(lambda: client.get(entries, params={"min_level": "error", "limit": 100}))
            print(f"API, newest 100 errors: {newest_seconds * 1000:.0f} ms")

            write_log(log, 1 << 20, datetime(2026, 1, 2, tzinfo=UTC), 2)
            polls = []
            for _ in range(5):
                poll_seconds, poll = timed(lambda: client.get(entries, params={"order": "oldest", "limit": 1000,
                                                                                 "cursor": cursor}))  # fmt: skip
                polls.append(poll_seconds)
            first = poll.json()
            print(f"API, incremental poll after appending 1 MB: {len(first['items'])} entries, "
                  f"{min(polls) * 1000:.0f} ms (best of 5)")  # fmt: skip
            recount_seconds, (_, recounted) = timed(count_all)
            print(f"API, counts per level after appending 1 MB: {recounted} errors in {recount_seconds * 1000:.0f} ms")
            print(f"server peak memory while indexing and answering (VmHWM): {peak_memory_mb(server.pid):.0f} MB")
    finally:
        if server is not None:
            server.terminate()
            server.wait()
        if not args.keep:
            shutil.rmtree(folder)
    return 0


if __name__ == "__main__":
    sys.exit(main())
