"""What the API offers on logs, in domain terms: sources, entries, recent errors across sources, and
counts per level per time bucket."""

from __future__ import annotations

import base64
import binascii
import json
from collections import Counter
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from domain.errors import InvalidInput, NotFound
from domain.timefmt import rfc3339
from loganalysis import index
from loganalysis.levels import Level
from loganalysis.query import BadCursor, Filters, Page, position_at, read_page
from loganalysis.reading import Entry
from loganalysis.sources import LogSource, Snapshot, snapshot
from storage.db import Database

# A dashboard call waits at most this long for the counts to catch up with the file, then answers
# with what is counted (complete: false); the next call goes on from there.
CATCH_UP_SECONDS = 2.0
INTERVALS = {"1m": 60, "5m": 300, "15m": 900, "1h": 3600, "6h": 21600, "1d": 86400}
MAX_BUCKETS = 10_000


@dataclass(frozen=True)
class LogCatalog:
    sources: tuple[LogSource, ...]
    db: Database

    def find(self, name: str) -> LogSource:
        for source in self.sources:
            if source.name == name:
                return source
        raise NotFound(f"There is no log source named {name!r}.")


def describe_sources(catalog: LogCatalog) -> list[dict[str, Any]]:
    described = []
    for source in catalog.sources:
        snap = snapshot(source)
        described.append(
            {
                "name": source.name,
                "format": snap.format if snap else source.format,
                "available": snap is not None,
                "size": snap.size if snap else 0,
                "modified_at": rfc3339(snap.modified) if snap else None,
            }
        )
    return described


def entry_view(snap: Snapshot, entry: Entry) -> dict[str, Any]:
    header = entry.header
    return {
        "source": snap.source.name,
        "timestamp": rfc3339(header.timestamp) if header and header.timestamp else None,
        "level": header.level.label if header and header.level else None,
        "logger": header.logger if header else None,
        "message": entry.message,
        "lines": entry.line_count,
        "parsed": entry.parsed,
        "truncated": entry.truncated,
    }


def _page_view(page: Page) -> dict[str, Any]:
    return {"items": [entry_view(snap, entry) for snap, entry in page.entries], "next_cursor": page.next_cursor}


def _check_range(since: datetime | None, until: datetime | None) -> None:
    if since is not None and until is not None and since > until:
        raise InvalidInput("'since' must not be later than 'until'.")


def list_entries(
    catalog: LogCatalog,
    name: str,
    filters: Filters,
    *,
    limit: int,
    cursor: str | None,
    newest_first: bool,
    now: datetime | None = None,
) -> dict[str, Any]:
    _check_range(filters.since, filters.until)
    snap = snapshot(catalog.find(name))
    if snap is None:
        return {"items": [], "next_cursor": cursor}
    try:
        page = read_page(snap, filters, limit=limit, cursor=cursor, newest_first=newest_first, now=now or _now())
    except BadCursor as error:
        raise InvalidInput(str(error)) from None
    return _page_view(page)


def _now() -> datetime:
    return datetime.now(UTC)


def _encode_state(state: dict[str, str | None]) -> str:
    raw = json.dumps(state, separators=(",", ":"), sort_keys=True).encode()
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


def _decode_state(cursor: str) -> dict[str, str | None]:
    try:
        state = json.loads(base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)))
    except (binascii.Error, ValueError, UnicodeDecodeError):
        raise InvalidInput("The cursor is not one this service issued.") from None
    if not isinstance(state, dict) or not all(isinstance(v, (str, type(None))) for v in state.values()):
        raise InvalidInput("The cursor is not one this service issued.")
    return state


def recent_errors(catalog: LogCatalog, *, since: datetime | None, limit: int, cursor: str | None) -> dict[str, Any]:
    """ERROR or worse across every source, newest first. The cursor holds one position per source."""
    state: dict[str, str | None] = _decode_state(cursor) if cursor else {s.name: "" for s in catalog.sources}
    filters = Filters(min_level=Level.ERROR, since=since)
    pages: dict[str, tuple[Snapshot, Page]] = {}
    for source in catalog.sources:
        position = state.get(source.name)
        snap = snapshot(source)
        if position is None or snap is None:
            continue
        try:
            page = read_page(snap, filters, limit=limit, cursor=position or None, newest_first=True, now=_now())
        except BadCursor as error:
            raise InvalidInput(str(error)) from None
        pages[source.name] = (snap, page)
    candidates = [
        (entry.timestamp or datetime.min.replace(tzinfo=UTC), name, index, snap, entry)
        for name, (snap, page) in pages.items()
        for index, (_, entry) in enumerate(page.entries)
    ]
    candidates.sort(key=lambda item: (item[0], item[1], -item[2]), reverse=True)
    taken = candidates[:limit]
    used = Counter(name for _, name, _, _, _ in taken)
    for name, (snap, page) in pages.items():
        if used[name] == len(page.entries):
            state[name] = page.next_cursor
        elif used[name]:
            last = page.entries[used[name] - 1][1]
            with snap.source.path.open("rb") as file:
                state[name] = position_at(snap, file, last.start).encode(name, True)
    more = any(value is not None for value in state.values())
    return {
        "items": [entry_view(snap, entry) for _, _, _, snap, entry in taken],
        "next_cursor": _encode_state(state) if more else None,
    }


def level_counts(
    catalog: LogCatalog, name: str, *, interval: str, since: datetime | None, until: datetime | None
) -> dict[str, Any]:
    """Entries per level per time bucket, added up from the per-minute counts (taken up to the end of
    the file first, for at most CATCH_UP_SECONDS). `since` and `until` count whole minutes."""
    _check_range(since, until)
    seconds = INTERVALS[interval]
    if since is not None and until is not None and (until - since).total_seconds() / seconds > MAX_BUCKETS:
        raise InvalidInput(f"That range holds more than {MAX_BUCKETS} buckets of {interval}; choose a larger interval.")
    source = catalog.find(name)
    snap = snapshot(source)
    complete = index.catch_up(catalog.db, snap, seconds=CATCH_UP_SECONDS) if snap is not None else True
    first = int(since.timestamp()) // 60 if since else None
    last = int(until.timestamp()) // 60 if until else None
    buckets: dict[int, Counter[str]] = {}
    for minute, level, count in index.counts_between(catalog.db, name, first, last):
        buckets.setdefault(minute * 60 // seconds, Counter())[level] += count
    if len(buckets) > MAX_BUCKETS:
        raise InvalidInput(f"The log spans more than {MAX_BUCKETS} buckets of {interval}; choose a larger interval.")
    return {
        "source": name,
        "interval": interval,
        "since": rfc3339(since) if since else None,
        "until": rfc3339(until) if until else None,
        "complete": complete,
        "undated": index.undated(catalog.db, name) if since is None and until is None else 0,
        "buckets": [
            {
                "start": rfc3339(datetime.fromtimestamp(key * seconds, UTC)),
                "end": rfc3339(datetime.fromtimestamp(key * seconds, UTC) + timedelta(seconds=seconds)),
                "counts": dict(sorted(counts.items())),
                "total": sum(counts.values()),
            }
            for key, counts in sorted(buckets.items())
        ],
    }
