"""Level counts per minute, kept in the database as a log grows: each call reads only new bytes."""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

import loganalysis.index
import loganalysis.reading
import loganalysis.service
from loganalysis.service import LogCatalog, level_counts
from loganalysis.sources import LogSource
from storage.db import Database
from storage.models import LogIndexPosition

Counts = Callable[..., dict[str, Any]]


def line(second: int, level: str = "INFO") -> str:
    stamp = datetime(2024, 1, 1, tzinfo=UTC) + timedelta(seconds=second)
    return f"{stamp:%Y-%m-%d %H:%M:%S},000 - app - {level} - event {second}\n"


def settle(path: Path) -> None:
    """Dates the file's last change a minute back, as if the writer had paused."""
    moment = (datetime.now(UTC) - timedelta(minutes=1)).timestamp()
    os.utime(path, (moment, moment))


@pytest.fixture
def log(tmp_path: Path) -> Path:
    path = tmp_path / "app.log"
    path.write_text("".join(line(s, "ERROR" if s % 10 == 0 else "INFO") for s in range(120)))
    settle(path)
    return path


@pytest.fixture
def db(database_url: str) -> Iterator[Database]:
    database = Database(database_url)
    yield database
    database.dispose()


@pytest.fixture
def counts(log: Path, db: Database) -> Counts:
    catalog = LogCatalog((LogSource("app", log, "python"),), db)

    def run(**options: Any) -> dict[str, Any]:
        options.setdefault("interval", "1m")
        return level_counts(
            catalog, "app", since=options.pop("since", None), until=options.pop("until", None), **options
        )

    return run


def totals(result: dict[str, Any]) -> dict[str, int]:
    found: dict[str, int] = {}
    for bucket in result["buckets"]:
        for level, count in bucket["counts"].items():
            found[level] = found.get(level, 0) + count
    return found


def test_counts_per_minute_and_level(counts: Counts) -> None:
    result = counts()

    assert result["complete"] is True
    assert [bucket["start"] for bucket in result["buckets"]] == ["2024-01-01T00:00:00Z", "2024-01-01T00:01:00Z"]
    assert [bucket["counts"] for bucket in result["buckets"]] == [{"error": 6, "info": 54}, {"error": 6, "info": 54}]


def test_a_second_call_reads_only_what_was_appended(counts: Counts, log: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    counts()
    size = log.stat().st_size
    with log.open("a") as file:
        file.write(line(120, "ERROR") + line(121, "WARNING"))
    settle(log)
    starts: list[int] = []
    original = loganalysis.reading.lines_forward

    def recording(file: Any, start: int, **options: Any) -> Any:
        starts.append(start)
        return original(file, start, **options)

    monkeypatch.setattr(loganalysis.index, "lines_forward", recording)

    result = counts(interval="1h")

    assert starts == [size]
    assert totals(result) == {"error": 13, "info": 108, "warning": 1}


def test_rotation_counts_the_rest_of_the_old_file_and_all_of_the_new(counts: Counts, log: Path) -> None:
    counts()
    with log.open("a") as file:
        file.write(line(120, "ERROR"))
    log.rename(log.with_name("app.log.1"))
    log.write_text(line(180, "ERROR") + line(181))
    settle(log)

    result = counts(interval="1h")
    again = counts(interval="1h")

    assert totals(result) == {"error": 14, "info": 109}
    assert totals(again) == totals(result)


def test_a_truncated_file_is_counted_afresh_and_history_is_kept(counts: Counts, log: Path) -> None:
    counts()
    log.write_text(line(300, "CRITICAL"))
    settle(log)

    assert totals(counts(interval="1d")) == {"error": 12, "info": 108, "critical": 1}


def test_since_and_until_count_whole_minutes(counts: Counts) -> None:
    minute = datetime(2024, 1, 1, 0, 1, 30, tzinfo=UTC)

    result = counts(since=minute, until=minute)

    assert totals(result) == {"error": 6, "info": 54}
    assert result["undated"] == 0


def test_a_large_file_is_counted_over_several_calls(counts: Counts, log: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(loganalysis.index, "STEP_BYTES", 1000)
    monkeypatch.setattr(loganalysis.service, "CATCH_UP_SECONDS", 0)

    calls = [counts(interval="1h")]
    while not calls[-1]["complete"]:
        calls.append(counts(interval="1h"))

    assert len(calls) > 3
    assert totals(calls[-1]) == {"error": 12, "info": 108}


def test_workers_counting_at_once_count_each_entry_once(log: Path, database_url: str) -> None:
    with log.open("a") as file:
        file.write("".join(line(s, "ERROR") for s in range(120, 3000)))
    settle(log)

    def worker(_: int) -> dict[str, int]:
        db = Database(database_url)  # a worker process has its own engine and connections
        try:
            catalog = LogCatalog((LogSource("app", log, "python"),), db)
            result = level_counts(catalog, "app", interval="1d", since=None, until=None)
            while not result["complete"]:
                result = level_counts(catalog, "app", interval="1d", since=None, until=None)
            return totals(result)
        finally:
            db.dispose()

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(loganalysis.index, "STEP_BYTES", 4096)
        with ThreadPoolExecutor(max_workers=3) as pool:
            results = list(pool.map(worker, range(3)))

    assert results == [{"error": 12 + 2880, "info": 108}] * 3


def test_the_background_indexer_has_the_counts_ready(
    log: Path, db: Database, counts: Counts, monkeypatch: pytest.MonkeyPatch
) -> None:
    indexer = loganalysis.index.Indexer(db, (LogSource("app", log, "python"),), pause_seconds=0.05)
    indexer.start()
    try:
        deadline = time.monotonic() + 10
        while loganalysis.index.undated(db, "app") == 0 and not _indexed(db, log) and time.monotonic() < deadline:
            time.sleep(0.05)
    finally:
        indexer.stop()
    read_after: list[int] = []
    monkeypatch.setattr(loganalysis.index, "_count", lambda *args, **kwargs: read_after.append(1))

    result = counts(interval="1h")

    assert not indexer.thread.is_alive()
    assert result["complete"] is True
    assert totals(result) == {"error": 12, "info": 108}
    assert read_after == []


def _indexed(db: Database, log: Path) -> bool:
    with db.read() as session:
        offset = session.scalar(select(LogIndexPosition.offset).where(LogIndexPosition.source == "app"))
    return offset == log.stat().st_size
