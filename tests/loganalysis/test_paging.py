"""Paging, polling, rotation and filters, through the log service on files the tests write."""

from __future__ import annotations

import random
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

import loganalysis.fastscan
import loganalysis.query
import loganalysis.reading
from domain.errors import InvalidInput, NotFound
from loganalysis.levels import Level
from loganalysis.query import Filters
from loganalysis.service import LogCatalog, level_counts, list_entries, recent_errors
from loganalysis.sources import LogSource
from storage.db import Database

LOGS = Path(__file__).resolve().parents[1] / "data" / "logs"


def later() -> datetime:
    """ "Now" for reads that should see every file settled (written more than a second ago)."""
    return datetime.now(UTC) + timedelta(minutes=1)


NO_FILTERS = Filters()


def line(n: int, level: str = "INFO", message: str | None = None) -> str:
    stamp = datetime(2024, 1, 1, tzinfo=UTC) + timedelta(seconds=n)
    return f"{stamp:%Y-%m-%d %H:%M:%S},000 - app - {level} - {message or f'event {n}'}\n"


Read = Callable[..., dict[str, Any]]


Catalog = Callable[..., LogCatalog]


@pytest.fixture
def catalog(database_url: str) -> Iterator[Catalog]:
    """Builds a catalog of the given sources over this test's database (where level counts are kept)."""
    databases: list[Database] = []

    def build(*sources: LogSource) -> LogCatalog:
        databases.append(Database(database_url))
        return LogCatalog(sources, databases[-1])

    yield build
    for db in databases:
        db.dispose()


@pytest.fixture
def log(tmp_path: Path) -> Path:
    path = tmp_path / "app.log"
    path.write_text("".join(line(n) for n in range(10)))
    return path


@pytest.fixture
def read(log: Path, catalog: Catalog) -> Read:
    logs = catalog(LogSource("app", log, "python"))

    def run(filters: Filters = NO_FILTERS, **options: Any) -> dict[str, Any]:
        options.setdefault("limit", 100)
        options.setdefault("cursor", None)
        options.setdefault("newest_first", False)
        return list_entries(logs, "app", filters, now=options.pop("now", None) or later(), **options)

    return run


def messages(page: dict[str, Any]) -> list[str]:
    return [item["message"] for item in page["items"]]


def everything(read: Read, **options: Any) -> list[str]:
    found: list[str] = []
    cursor = None
    while True:
        page = read(cursor=cursor, **options)
        found += messages(page)
        cursor = page["next_cursor"]
        if cursor is None or not page["items"]:
            return found


def test_pages_cover_the_file_once_in_either_order(read: Read) -> None:
    oldest_first = everything(read, limit=3)
    newest_first = everything(read, limit=3, newest_first=True)

    assert oldest_first == [f"event {n}" for n in range(10)]
    assert newest_first == oldest_first[::-1]


def test_a_traceback_is_one_entry(log: Path, read: Read) -> None:
    with log.open("a") as file:
        file.write(line(10, "ERROR", "request failed"))
        file.write("Traceback (most recent call last):\n  File \"app.py\", line 1, in <module>\nKeyError: 'id'\n")
        file.write(line(11))

    newest = read(newest_first=True, limit=2)["items"]
    oldest = read(Filters(min_level=Level.ERROR))["items"]

    assert newest[1] == oldest[0]
    assert oldest[0]["lines"] == 4
    assert oldest[0]["message"].splitlines() == [
        "request failed",
        "Traceback (most recent call last):",
        '  File "app.py", line 1, in <module>',
        "KeyError: 'id'",
    ]
    assert oldest[0]["level"] == "error"
    assert oldest[0]["timestamp"] == "2024-01-01T00:00:10Z"


def test_a_poll_returns_only_what_was_appended(log: Path, read: Read) -> None:
    first = read()
    assert len(first["items"]) == 10

    idle = read(cursor=first["next_cursor"])
    with log.open("a") as file:
        file.write(line(10) + line(11))
    fresh = read(cursor=idle["next_cursor"])
    again = read(cursor=fresh["next_cursor"])

    assert idle["items"] == []
    assert idle["next_cursor"]
    assert messages(fresh) == ["event 10", "event 11"]
    assert again["items"] == []


def test_a_line_still_being_written_waits_until_the_file_is_still(log: Path, read: Read) -> None:
    end = read()["next_cursor"]
    with log.open("a") as file:
        file.write(line(10).rstrip("\n"))

    while_writing = read(cursor=end, now=datetime.now(UTC))
    once_still = read(cursor=end)

    assert while_writing["items"] == []
    assert while_writing["next_cursor"] == end
    assert messages(once_still) == ["event 10"]


def test_rotation_by_renaming_loses_nothing_and_repeats_nothing(log: Path, read: Read) -> None:
    end = read()["next_cursor"]
    with log.open("a") as file:
        file.write(line(10) + line(11))  # written just before the rotation
    log.rename(log.with_name("app.log.1"))
    log.write_text(line(12) + line(13))

    after = read(cursor=end)
    again = read(cursor=after["next_cursor"])

    assert messages(after) == ["event 10", "event 11", "event 12", "event 13"]
    assert again["items"] == []


def test_rotation_by_renaming_pages_through_the_rotated_file_first(log: Path, read: Read) -> None:
    end = read()["next_cursor"]
    with log.open("a") as file:
        file.write("".join(line(n) for n in range(10, 15)))
    log.rename(log.with_name("app.log.1"))
    log.write_text(line(15))

    first = read(cursor=end, limit=3)
    rest = read(cursor=first["next_cursor"])

    assert messages(first) == ["event 10", "event 11", "event 12"]
    assert messages(rest) == ["event 13", "event 14", "event 15"]


def test_a_truncated_file_is_read_again_from_its_start(log: Path, read: Read) -> None:
    end = read()["next_cursor"]
    log.write_text(line(20) + line(21))  # copytruncate: same file, new content

    after = read(cursor=end)

    assert messages(after) == ["event 20", "event 21"]


def test_a_file_replaced_by_a_longer_one_is_noticed(log: Path, read: Read) -> None:
    end = read(limit=2)["next_cursor"]
    log.unlink()
    log.write_text("".join(line(n) for n in range(100, 120)))

    after = read(cursor=end, limit=3)

    assert messages(after) == ["event 100", "event 101", "event 102"]


def test_filters_by_level_time_and_text(log: Path, read: Read) -> None:
    with log.open("a") as file:
        file.write(line(10, "WARNING") + line(11, "ERROR", "disk full") + line(12, "CRITICAL", "Disk gone"))

    assert messages(read(Filters(min_level=Level.ERROR))) == ["disk full", "Disk gone"]
    assert messages(read(Filters(level=Level.WARNING))) == ["event 10"]
    since = datetime(2024, 1, 1, 0, 0, 8, tzinfo=UTC)
    until = datetime(2024, 1, 1, 0, 0, 10, tzinfo=UTC)
    assert messages(read(Filters(since=since, until=until))) == ["event 8", "event 9", "event 10"]
    assert messages(read(Filters(since=since, until=until), newest_first=True)) == ["event 10", "event 9", "event 8"]
    assert messages(read(Filters(text="DISK"))) == ["disk full", "Disk gone"]


def test_a_time_range_does_not_read_the_whole_file(
    catalog: Catalog, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "big.log"
    with path.open("w") as file:
        for n in range(0, 200_000, 1000):
            file.write("".join(line(n + k) for k in range(1000)))
    starts: list[int] = []
    original = loganalysis.reading.lines_forward

    def recording(file: Any, start: int, **options: Any) -> Any:
        starts.append(start)
        return original(file, start, **options)

    monkeypatch.setattr(loganalysis.query, "lines_forward", recording)
    logs = catalog(LogSource("big", path, None))
    since = datetime(2024, 1, 1, tzinfo=UTC) + timedelta(seconds=199_990)

    page = list_entries(logs, "big", Filters(since=since), limit=100, cursor=None, newest_first=False, now=later())

    assert messages(page) == [f"event {n}" for n in range(199_990, 200_000)]
    assert starts[0] > path.stat().st_size - 2 * loganalysis.query.SEEK_WINDOW


def test_lines_no_format_knows_are_returned_unparsed(log: Path, read: Read) -> None:
    with log.open("ab") as file:
        file.write(b"a line from nowhere\n\xff\xfe broken bytes \xc3\x28\n")
        file.write(line(10).encode())

    items = read()["items"][10:]

    assert [item["parsed"] for item in items] == [False, False, True]
    assert items[0]["message"] == "a line from nowhere"
    assert "\ufffd" in items[1]["message"]
    assert items[1]["timestamp"] is None
    assert items[1]["level"] is None


def test_a_huge_entry_is_cut_but_counted(log: Path, read: Read) -> None:
    with log.open("a") as file:
        file.write(line(10, "ERROR", "overflow"))
        file.write("".join(f"  frame {n}\n" for n in range(1000)))

    entry = read(Filters(min_level=Level.ERROR))["items"][0]
    newest = read(newest_first=True, limit=1)["items"][0]

    assert entry["lines"] == 1001
    assert entry["truncated"] is True
    assert len(entry["message"].splitlines()) == 200
    assert newest == entry


@pytest.mark.parametrize("cursor", ["nonsense", "WzEsIm90aGVyIiwwLDEsMiwzLCJ4IiwxXQ"])
def test_a_foreign_cursor_is_refused(read: Read, cursor: str) -> None:
    with pytest.raises(InvalidInput):
        read(cursor=cursor)


def test_a_cursor_keeps_its_order(read: Read) -> None:
    cursor = read(limit=2)["next_cursor"]

    with pytest.raises(InvalidInput, match="other order"):
        read(cursor=cursor, newest_first=True)


def test_an_unknown_source_is_not_found(catalog: Catalog, read: Read, log: Path) -> None:
    with pytest.raises(NotFound):
        list_entries(catalog(), "app", Filters(), limit=1, cursor=None, newest_first=True)


def test_a_missing_file_reads_as_empty(catalog: Catalog, tmp_path: Path) -> None:
    logs = catalog(LogSource("gone", tmp_path / "missing.log", None))

    page = list_entries(logs, "gone", Filters(), limit=5, cursor=None, newest_first=True)

    assert page == {"items": [], "next_cursor": None}


def test_recent_errors_merge_every_source_newest_first(catalog: Catalog, tmp_path: Path) -> None:
    web, worker = tmp_path / "web.log", tmp_path / "worker.log"
    web.write_text("".join(line(n, "ERROR" if n % 3 == 0 else "INFO", f"web {n}") for n in range(0, 30, 2)))
    worker.write_text("".join(line(n, "ERROR", f"worker {n}") for n in range(1, 30, 4)))
    logs = catalog(LogSource("web", web, None), LogSource("worker", worker, None))
    expected = sorted(
        [(n, f"web {n}") for n in range(0, 30, 2) if n % 3 == 0] + [(n, f"worker {n}") for n in range(1, 30, 4)],
        reverse=True,
    )

    found: list[str] = []
    cursor = None
    while True:
        page = recent_errors(logs, since=None, limit=3, cursor=cursor)
        found += messages(page)
        cursor = page["next_cursor"]
        if cursor is None:
            break

    assert found == [message for _, message in expected]


def test_level_counts_per_bucket(catalog: Catalog, tmp_path: Path) -> None:
    logs = catalog(LogSource("nova", LOGS / "OpenStack_2k.log", "python"))

    hourly = level_counts(logs, "nova", interval="1h", since=None, until=None)
    by_minute = level_counts(logs, "nova", interval="1m", since=None, until=None)

    assert [bucket["counts"] for bucket in hourly["buckets"]] == [{"info": 1969, "warning": 31}]
    assert hourly["buckets"][0]["start"] == "2017-05-16T00:00:00Z"
    assert sum(bucket["total"] for bucket in by_minute["buckets"]) == 2000
    assert hourly["complete"] is True


def test_level_counts_refuse_a_backward_range_or_too_many_buckets(catalog: Catalog) -> None:
    logs = catalog(LogSource("nova", LOGS / "OpenStack_2k.log", "python"))
    start = datetime(2017, 1, 1, tzinfo=UTC)

    with pytest.raises(InvalidInput, match="since"):
        level_counts(logs, "nova", interval="1h", since=start, until=start - timedelta(days=1))
    with pytest.raises(InvalidInput, match="buckets"):
        level_counts(logs, "nova", interval="1m", since=start, until=start + timedelta(days=30))


def test_reading_never_loads_a_file_whole(log: Path, read: Read) -> None:
    """Chunked reads: the reader asks for at most one chunk at a time, whatever the file size."""
    sizes: list[int] = []
    real_open = Path.open

    def spying_open(self: Path, *args: Any, **kwargs: Any) -> Any:
        handle = real_open(self, *args, **kwargs)
        if "b" in (args[0] if args else kwargs.get("mode", "r")):
            real_read = handle.read

            def read_some(size: int = -1) -> bytes:
                sizes.append(size)
                chunk: bytes = real_read(size)
                return chunk

            handle.read = read_some
        return handle

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(Path, "open", spying_open)
        everything(read, limit=3)
        everything(read, limit=3, newest_first=True)

    assert sizes
    assert all(0 <= size <= loganalysis.query.SEEK_WINDOW * 4 for size in sizes)


def test_the_fast_level_scan_finds_exactly_what_the_line_reader_finds(
    catalog: Catalog, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    rng = random.Random(7)
    pieces = []
    for n in range(3000):
        roll = rng.random()
        if roll < 0.05:
            pieces.append(line(n, "ERROR", "failed") + "Traceback (most recent call last):\n  File x\nKeyError: 1\n")
        elif roll < 0.1:
            pieces.append(line(n, "INFO", "says ERROR but is info"))
        elif roll < 0.12:
            pieces.append("ERROR without a header\n")
        else:
            pieces.append(line(n, rng.choice(["INFO", "WARNING", "CRITICAL", "DEBUG"])))
    path = tmp_path / "mixed.log"
    path.write_text("".join(pieces).rstrip("\n"))  # and no newline at the end
    monkeypatch.setattr(loganalysis.fastscan, "FAST_CHUNK", 4096)  # entries straddle chunk ends
    logs = catalog(LogSource("mixed", path, "python"))

    def collect(filters: Filters) -> list[dict[str, Any]]:
        items, cursor = [], None
        while True:
            page = list_entries(logs, "mixed", filters, limit=37, cursor=cursor, newest_first=False, now=later())
            items += page["items"]
            if not page["items"] and page["next_cursor"] == cursor:
                return items
            cursor = page["next_cursor"]

    for filters in (Filters(min_level=Level.ERROR), Filters(level=Level.WARNING), Filters(min_level=Level.DEBUG)):
        fast = collect(filters)
        with monkeypatch.context() as slow:
            slow.setattr(loganalysis.query, "level_tokens", lambda *_: None)
            assert collect(filters) == fast
        assert fast
    assert sum(1 for item in collect(Filters(min_level=Level.ERROR)) if item["lines"] == 4) > 100


def test_the_last_line_of_a_finished_file_is_found_by_level(catalog: Catalog) -> None:
    logs = catalog(LogSource("httpd", LOGS / "Apache_2k.log", None))

    page = list_entries(
        logs, "httpd", Filters(min_level=Level.ERROR), limit=1000, cursor=None, newest_first=False, now=later()
    )

    assert len(page["items"]) == 595
    assert page["items"][-1]["message"] == "mod_jk child workerEnv in error state 6"
