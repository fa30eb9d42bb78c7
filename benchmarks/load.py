"""The real server under mixed reads and writes from concurrent clients, on SQLite and then on
PostgreSQL, followed by an audit of the database against every write the server acknowledged.

    .venv/bin/python -m benchmarks.load [--seconds 60] [--clients 8] [--workers 2] [--users 3]
                                        [--databases sqlite,postgresql] [--postgres-url URL] [--rate-limits] [--keep]

Each database is fresh and migrated (PostgreSQL: --postgres-url, or LOAD_POSTGRES_URL, by default the
database gateway_load on 127.0.0.1, dropped and created again) and served by uvicorn with several worker
processes in production mode. Clients sign up a few users (several clients act as one user, so they
race for the same posts) and then, for --seconds, list pages, read posts (some with If-None-Match),
write posts, change them with If-Match (PATCH and PUT), delete some, and try to change other users'
posts. Rate limits are off unless --rate-limits: every client comes from one address, and the limits
have their own tests.

Prints requests per operation and status class with p50/p99 latencies, then the audit (benchmarks/
ledger.py). Exits 1 if the server answered a 5xx, or the audit finds an acknowledged write lost, a row
nobody acknowledged, or a row breaking the schema's rules. Loopback only; the SQLite database lives in
a temporary folder that is removed afterwards, the PostgreSQL one is dropped (unless --keep)."""

from __future__ import annotations

import argparse
import bisect
import os
import random
import shutil
import sys
import tempfile
import threading
import time
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

from benchmarks.ledger import Account, Findings, Ledger, Recorder, Timing, audit, unquote
from storage.db import normalise_url
from storage.migrate import upgrade
from tests.servers import gateway_process

BIN = Path(sys.executable).parent
DEFAULT_POSTGRES_URL = "postgresql://postgres@127.0.0.1:5432/gateway_load"
POSTS_PER_USER = 60  # above this, clients delete rather than create: the table stays a realistic size
# The mix: list 25%, get 25%, then these up to 97%, then 3% tries to change another user's post.
THRESHOLDS = [0.65, 0.85, 0.92]
ACTIONS = ["create", "patch", "put", "delete"]
OPERATIONS = ["sign up", "get a token", "list", "get", "create", "patch", "put", "delete", "not mine"]


@dataclass
class Posts:
    """What the clients know of the posts: author and the newest ETag one of them saw (only a hint)."""

    lock: threading.Lock = field(default_factory=threading.Lock)
    author: dict[str, str] = field(default_factory=dict)
    etag: dict[str, str] = field(default_factory=dict)

    def learn(self, post: dict[str, str], etag: str | None) -> None:
        with self.lock:
            self.author[post["id"]] = post["author_id"]
            if etag is not None:
                self.etag[post["id"]] = etag

    def forget(self, post_id: str) -> None:
        with self.lock:
            self.author.pop(post_id, None)
            self.etag.pop(post_id, None)

    def pick(self, rng: random.Random, *, by: str | None = None, not_by: str | None = None) -> tuple[str, str] | None:
        with self.lock:
            candidates = [i for i, a in self.author.items() if (by is None or a == by) and a != not_by]
            if not candidates:
                return None
            post_id = rng.choice(candidates)
            return post_id, self.etag.get(post_id, "")

    def count_by(self, author: str) -> int:
        with self.lock:
            return sum(a == author for a in self.author.values())


def client(recorder: Recorder, me: Account, users: list[str], posts: Posts, deadline: float, seed: int) -> None:
    rng = random.Random(seed)
    recorder.use(me)
    cursor: str | None = None
    while time.monotonic() < deadline:
        roll = rng.random()
        if roll < 0.25:
            params: dict[str, str | int] = {"limit": rng.choice([5, 20, 100])}
            if rng.random() < 0.3:
                params["author_id"] = rng.choice(users)
            elif cursor and rng.random() < 0.5:
                params["cursor"] = cursor
            listed = recorder.list_posts(params)
            cursor = listed.json()["next_cursor"] if listed is not None and listed.status_code == 200 else None
        elif roll < 0.50:
            picked = posts.pick(rng)
            if picked is not None:
                read(recorder, posts, picked[0], picked[1] if rng.random() < 0.3 else None)
        elif roll < 0.97:
            picked = posts.pick(rng, by=me.id)
            action = ACTIONS[bisect.bisect(THRESHOLDS, roll)]
            if action == "create" and posts.count_by(me.id) >= POSTS_PER_USER:
                action = "delete"
            if action == "create" or picked is None:
                created = recorder.create_post(body=filler(rng))
                if created is not None and created.status_code == 201:
                    posts.learn(created.json(), unquote(created.headers["ETag"]))
            else:
                change(recorder, posts, rng, action, *picked)
        else:
            picked = posts.pick(rng, not_by=me.id)
            if picked is not None:
                # Refused (403) whatever the version: only the author or an administrator changes a post.
                recorder.call("not mine", "PATCH", f"/posts/{picked[0]}", json={"title": "mine now"},
                              headers=recorder.auth | {"If-Match": f'"{picked[1] or "unknown"}"'})  # fmt: skip


def change(recorder: Recorder, posts: Posts, rng: random.Random, action: str, post_id: str, etag: str) -> None:
    """One write with If-Match on what this client believes current; a 412 sends it back to read."""
    if not etag:
        read(recorder, posts, post_id, None)
        return
    if action == "patch":
        answer = recorder.change_post("patch", post_id, etag, body=filler(rng) if rng.random() < 0.5 else "")
    elif action == "put":
        answer = recorder.change_post("put", post_id, etag, body=filler(rng))
    else:
        answer = recorder.delete_post(post_id, etag)
    if answer is None:
        return
    if answer.status_code == 200:
        posts.learn(answer.json(), unquote(answer.headers["ETag"]))
    elif answer.status_code in (204, 404):
        posts.forget(post_id)
    elif answer.status_code == 412:
        read(recorder, posts, post_id, None)


def read(recorder: Recorder, posts: Posts, post_id: str, if_none_match: str | None) -> None:
    answer = recorder.get_post(post_id, if_none_match)
    if answer is not None and answer.status_code == 200:
        posts.learn(answer.json(), unquote(answer.headers["ETag"]))
    elif answer is not None and answer.status_code == 404:
        posts.forget(post_id)


def filler(rng: random.Random) -> str:
    return "lorem ipsum dolor sit amet " * rng.randint(1, 40)


@contextmanager
def fresh_database(kind: str, postgres_url: str, keep: bool) -> Iterator[str]:
    if kind == "sqlite":
        folder = Path(tempfile.mkdtemp(prefix="gateway-load-"))
        url = f"sqlite:///{folder / 'gateway.db'}"
    else:
        url = postgres_url
        recreate_postgres(url, create=True)
    try:
        upgrade(url)
        yield url
    finally:
        if keep:
            print(f"kept {url}")
        elif kind == "sqlite":
            shutil.rmtree(folder)
        else:
            recreate_postgres(url, create=False)


def recreate_postgres(url: str, *, create: bool) -> None:
    target = make_url(normalise_url(url))
    maintenance = create_engine(target.set(database="postgres"), isolation_level="AUTOCOMMIT")
    with maintenance.connect() as connection:
        connection.execute(text(f'DROP DATABASE IF EXISTS "{target.database}" WITH (FORCE)'))
        if create:
            connection.execute(text(f'CREATE DATABASE "{target.database}"'))
    maintenance.dispose()


@contextmanager
def server(database_url: str, workers: int, rate_limits: bool, log: Path) -> Iterator[str]:
    env = {"GATEWAY_ENV": "production", "GATEWAY_LOG_INDEX_SECONDS": "0",
           "GATEWAY_RATE_LIMITS": "on" if rate_limits else "off"}  # fmt: skip
    options = ("--log-level", "warning", "--no-access-log")
    with gateway_process(database_url, log, env, workers=workers, options=options) as (base, _):
        yield base


@dataclass
class Run:
    name: str
    seconds: float
    timings: list[Timing]
    findings: Findings
    ledger: Ledger
    server_log: str

    @property
    def server_errors(self) -> int:
        return sum(t.status is not None and t.status >= 500 for t in self.timings)

    @property
    def trespasses(self) -> int:
        return sum(t.operation == "not mine" and t.status is not None and t.status < 300 for t in self.timings)

    @property
    def failed(self) -> bool:
        return self.server_errors > 0 or self.trespasses > 0 or not self.findings.clean


def run(name: str, database_url: str, args: argparse.Namespace) -> Run:
    ledger = Ledger()
    with tempfile.TemporaryDirectory(prefix="gateway-load-log-") as folder:
        log = Path(folder) / "server.log"
        with server(database_url, args.workers, args.rate_limits, log) as base:
            recorders = [Recorder(base, ledger) for _ in range(args.clients)]
            accounts = [recorders[n].sign_up() for n in range(args.users)]
            users = [account.id for account in accounts]
            posts = Posts()
            began = time.monotonic()
            deadline = began + args.seconds
            threads = [
                threading.Thread(target=client, args=(recorder, accounts[n % args.users], users, posts, deadline, n))
                for n, recorder in enumerate(recorders)
            ]
            for thread in threads:
                thread.start()
            for thread in threads:
                thread.join()
            elapsed = time.monotonic() - began
            for recorder in recorders:
                recorder.close()
        server_log = log.read_text(errors="replace")
    # Read after the server has stopped: every answer it gave is in, and nothing is on its way.
    findings = audit(ledger, database_url)
    return Run(name, elapsed, [t for r in recorders for t in r.timings], findings, ledger, server_log)


def percentile(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(fraction * len(ordered)))] if ordered else float("nan")


def tally(counts: Counter[Any]) -> str:
    return ", ".join(f"{key} {count}" for key, count in sorted(counts.items(), key=str)) or "none"


def report(result: Run) -> None:
    rate = len(result.timings) / result.seconds
    print(f"\n{result.name}: {len(result.timings)} requests in {result.seconds:.0f} s ({rate:.0f}/s)")
    columns = ["2xx", "3xx", "4xx", "5xx", "no answer"]
    print(f"{'operation':<12}{'requests':>9}" + "".join(f"{c:>10}" for c in columns) + f"{'p50 ms':>9}{'p99 ms':>9}")
    for operation in [*OPERATIONS, "all"]:
        rows = [t for t in result.timings if operation in (t.operation, "all")]
        if not rows:
            continue
        classes = Counter(f"{t.status // 100}xx" if t.status is not None else "no answer" for t in rows)
        milliseconds = [t.seconds * 1000 for t in rows]
        p50, p99 = percentile(milliseconds, 0.5), percentile(milliseconds, 0.99)
        print(
            f"{operation:<12}{len(rows):>9}" + "".join(f"{classes[c]:>10}" for c in columns) + f"{p50:>9.1f}{p99:>9.1f}"
        )
    writes = result.ledger.writes
    acknowledged = Counter(w.kind for w in writes if w.outcome == "acknowledged")
    print(f"writes acknowledged: {sum(acknowledged.values())} ({tally(acknowledged)}); "
          f"refused, by status: {tally(Counter(w.status for w in writes if w.outcome == 'refused'))}")  # fmt: skip
    found = result.findings
    print(f"audit: {len(result.ledger.accounts)} accounts, {found.posts_present} posts present, "
          f"{found.posts_deleted} deleted as acknowledged")  # fmt: skip
    print(f"  lost: {len(found.lost)}  never acknowledged: {len(found.extra)}  breaking the rules: "
          f"{len(found.broken)}  other users' posts changed: {result.trespasses}")  # fmt: skip
    unanswered = sum(w.outcome == "uncertain" for w in writes)
    print(f"  writes without an answer: {unanswered} (applied {found.uncertain_applied}, "
          f"not applied {found.uncertain_not_applied}, cannot tell {found.uncertain_unknown})")  # fmt: skip
    for line in (found.lost + found.extra + found.broken)[:20]:
        print(f"  ! {line}")
    if result.server_errors:
        print("server log (last 4000 characters):\n" + result.server_log[-4000:])


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seconds", type=float, default=float(os.environ.get("LOAD_SECONDS", 60)))
    parser.add_argument("--clients", type=int, default=8)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--users", type=int, default=3)
    parser.add_argument("--databases", default="sqlite,postgresql")
    parser.add_argument("--postgres-url", default=os.environ.get("LOAD_POSTGRES_URL", DEFAULT_POSTGRES_URL))
    parser.add_argument("--rate-limits", action="store_true")
    parser.add_argument("--keep", action="store_true")
    args = parser.parse_args()
    args.users = min(args.users, args.clients)
    if not set(args.databases.split(",")) <= {"sqlite", "postgresql"}:
        parser.error("--databases lists sqlite, postgresql or both")
    results = []
    for kind in args.databases.split(","):
        with fresh_database(kind, args.postgres_url, args.keep) as url:
            database = "SQLite" if kind == "sqlite" else "PostgreSQL"
            results.append(run(f"{database}, uvicorn --workers {args.workers}, {args.clients} clients", url, args))
        report(results[-1])
    print("\nsummary")
    for result in results:
        verdict = "FAILED" if result.failed else "ok"
        print(f"  {result.name}: {len(result.timings)} requests, {result.server_errors} 5xx, "
              f"{len(result.findings.lost)} lost, {len(result.findings.extra)} extra: {verdict}")  # fmt: skip
    return 1 if any(result.failed for result in results) else 0


if __name__ == "__main__":
    sys.exit(main())
