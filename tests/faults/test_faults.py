"""Faults: a server process killed in the middle of writes loses no acknowledged write, leaves no
half-written row, and the service comes back with the data as it was.

Real processes (uvicorn, as `make run` starts it) on the database the suite runs on; writers go
through benchmarks/ledger.py, which notes every write and what became of it, and audits the tables."""

from __future__ import annotations

import os
import random
import signal
import subprocess
import threading
import time
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import httpx
from sqlalchemy import create_engine, func, select
from sqlalchemy.orm import Session

from benchmarks.ledger import Account, Findings, Ledger, Recorder, audit, unquote
from domain import posts as post_rules
from storage.db import normalise_url
from storage.models import PostRow
from tests.conftest import empty_database
from tests.servers import gateway_process

WRITERS = 6
WRITES_BEFORE_THE_KILL = 100
SECONDS_TO_WAIT = 60  # a bound for a busy machine; a quiet one takes a few seconds


@dataclass
class Server:
    base: str
    process: subprocess.Popen[bytes]

    def workers(self) -> list[int]:
        """The worker processes uvicorn's supervisor started (with --workers above 1)."""
        children = Path(f"/proc/{self.process.pid}/task/{self.process.pid}/children").read_text().split()
        return [int(pid) for pid in children if b"spawn_main" in Path(f"/proc/{pid}/cmdline").read_bytes()]


@contextmanager
def serving(database_url: str, log: Path, workers: int = 1) -> Iterator[Server]:
    """The service as `make run` starts it, handing out its process, which a test may kill."""
    # Every writer comes from one address: the rate limits (tested on their own) would turn it away.
    try:
        with gateway_process(database_url, log, {"GATEWAY_RATE_LIMITS": "off"}, workers=workers) as (base, process):
            yield Server(base, process)
    except BaseException:
        print(f"server log:\n{log.read_text(errors='replace')[-4000:]}")  # shown by pytest when the test fails
        raise


def write_until_stopped(recorder: Recorder, stop: threading.Event, seed: int) -> None:
    """Creates posts and changes them (PATCH, PUT, now and then DELETE), each change with If-Match."""
    rng = random.Random(seed)
    mine: dict[str, str] = {}  # post id: its ETag
    while not stop.is_set():
        roll = rng.random()
        if not mine or roll < 0.35:
            answer = recorder.create_post()
            if answer is not None and answer.status_code == 201:
                mine[answer.json()["id"]] = unquote(answer.headers["ETag"])
            continue
        post_id = rng.choice(list(mine))
        if roll < 0.9:
            answer = recorder.change_post("patch" if roll < 0.7 else "put", post_id, mine[post_id])
            if answer is not None and answer.status_code == 200:
                mine[post_id] = unquote(answer.headers["ETag"])
        else:
            answer = recorder.delete_post(post_id, mine[post_id])
            if answer is not None and answer.status_code == 204:
                del mine[post_id]


def sign_up(base: str, ledger: Ledger) -> Account:
    recorder = Recorder(base, ledger)
    try:
        return recorder.sign_up()
    finally:
        recorder.close()


@contextmanager
def writers(base: str, ledger: Ledger, account: Account) -> Iterator[threading.Event]:
    """WRITERS threads writing as one user until the event is set."""
    # A new connection for every request, so that each lands on whichever worker accepts it.
    recorders = [Recorder(base, ledger, timeout=SECONDS_TO_WAIT, keep_alive=False) for _ in range(WRITERS)]
    for recorder in recorders:
        recorder.use(account)
    stop = threading.Event()
    threads = [threading.Thread(target=write_until_stopped, args=(r, stop, n)) for n, r in enumerate(recorders)]
    for thread in threads:
        thread.start()
    try:
        yield stop
    finally:
        stop.set()
        for thread in threads:
            thread.join()
        for recorder in recorders:
            recorder.close()


def wait_for(ledger: Ledger, acknowledged: int) -> None:
    deadline = time.monotonic() + SECONDS_TO_WAIT
    while ledger.acknowledged() < acknowledged:
        assert time.monotonic() < deadline, f"only {ledger.acknowledged()} writes acknowledged"
        time.sleep(0.02)


def assert_nothing_lost_or_half_written(findings: Findings, database_url: str, since: datetime) -> None:
    assert findings.lost == []
    assert findings.extra == []
    assert findings.broken == []
    engine = create_engine(normalise_url(database_url))
    with engine.connect() as connection:
        oldest = connection.scalar(select(func.min(PostRow.created_at)))
        newest = connection.scalar(select(func.max(PostRow.updated_at)))
        if database_url.startswith("sqlite"):
            assert connection.exec_driver_sql("PRAGMA integrity_check").scalar() == "ok"
            assert connection.exec_driver_sql("PRAGMA foreign_key_check").all() == []
    engine.dispose()
    assert oldest is not None
    assert newest is not None
    assert since <= oldest.replace(tzinfo=UTC) <= newest.replace(tzinfo=UTC) <= datetime.now(UTC)


def assert_served_as_stored(base: str, database_url: str) -> None:
    """The service lists every post exactly as the database holds it, and no other."""
    engine = create_engine(normalise_url(database_url))
    with Session(engine) as session:
        stored = {row.id: post_rules.view(row) for row in session.scalars(select(PostRow))}
    engine.dispose()
    served: dict[str, dict[str, str]] = {}
    cursor: str | None = None
    with httpx.Client(base_url=base, timeout=SECONDS_TO_WAIT) as client:
        while True:
            page = client.get("/posts", params={"limit": 100} | ({"cursor": cursor} if cursor else {})).json()
            served |= {post["id"]: post for post in page["items"]}
            cursor = page["next_cursor"]
            if cursor is None:
                break
    assert served == stored


def test_a_server_killed_mid_write_loses_no_acknowledged_write(tmp_path: Path) -> None:
    database_url = empty_database(tmp_path)
    ledger = Ledger()
    since = datetime.now(UTC)

    with serving(database_url, tmp_path / "killed.log") as server:
        account = sign_up(server.base, ledger)
        with writers(server.base, ledger, account) as stop:
            wait_for(ledger, WRITES_BEFORE_THE_KILL)
            server.process.send_signal(signal.SIGKILL)
            server.process.wait()
            stop.set()

    outcomes = Counter(write.outcome for write in ledger.writes)
    assert outcomes["uncertain"] > 0, f"the kill came between writes, not in the middle of one: {outcomes}"
    assert_nothing_lost_or_half_written(audit(ledger, database_url), database_url, since)
    with serving(database_url, tmp_path / "restarted.log") as restarted:
        assert_served_as_stored(restarted.base, database_url)
        with writers(restarted.base, ledger, account):
            wait_for(ledger, ledger.acknowledged() + 20)
    assert_nothing_lost_or_half_written(audit(ledger, database_url), database_url, since)


def test_a_worker_killed_mid_write_leaves_the_other_serving_and_loses_nothing(tmp_path: Path) -> None:
    database_url = empty_database(tmp_path)
    ledger = Ledger()
    since = datetime.now(UTC)

    with serving(database_url, tmp_path / "server.log", workers=2) as server:
        with writers(server.base, ledger, sign_up(server.base, ledger)):
            wait_for(ledger, WRITES_BEFORE_THE_KILL)
            workers = server.workers()
            assert len(workers) == 2
            os.kill(workers[0], signal.SIGKILL)
            before = ledger.acknowledged()
            wait_for(ledger, before + WRITES_BEFORE_THE_KILL // 2)
        assert_served_as_stored(server.base, database_url)

    assert_nothing_lost_or_half_written(audit(ledger, database_url), database_url, since)
