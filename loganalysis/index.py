"""Level counts per minute, kept in the database as log files grow, so that dashboards add up minutes
instead of reading gigabytes. Each catch-up reads only what was appended since the last one."""

from __future__ import annotations

import logging
import threading
import time
from collections import Counter
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from sqlalchemy import delete, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from loganalysis.formats import is_continuation
from loganalysis.query import SETTLE, fingerprint_of, rotated_copy
from loganalysis.reading import Grouper, lines_forward
from loganalysis.sources import LogSource, Snapshot, snapshot
from storage.db import Database
from storage.models import LogIndexPosition, LogLevelMinute

log = logging.getLogger("gateway.logs")
STEP_BYTES = 8 * 1024 * 1024  # read and counted per step, with no lock held


def catch_up(db: Database, snap: Snapshot, *, seconds: float, now: float | None = None) -> bool:
    """Counts what was appended since the last catch-up, for at most about `seconds`. True when the
    counts cover the whole file."""
    deadline = time.monotonic() + seconds
    settled = (now or time.time()) - snap.modified.timestamp() >= SETTLE.total_seconds()
    while True:
        if _step(db, snap, settled=settled):
            return True
        if time.monotonic() >= deadline:
            return False


@dataclass(frozen=True)
class _Mark:
    """Where counting stands: in which file (device, inode, first bytes) and up to which offset."""

    device: int
    inode: int
    fingerprint: str
    fingerprint_length: int
    offset: int


def _step(db: Database, snap: Snapshot, *, settled: bool) -> bool:
    """Reads and counts one step with no lock held, then records it in a short transaction, unless
    another worker recorded the same step first. True when the counts reach the end of the file."""
    name = snap.source.name
    with db.read() as session:
        row = session.get(LogIndexPosition, name)
        before = _Mark(row.device, row.inode, row.fingerprint, row.fingerprint_length, row.offset) if row else None
    with snap.source.path.open("rb") as file:
        length = min(256, snap.size)
        fresh = _Mark(snap.device, snap.inode, fingerprint_of(file, length), length, 0)
        same = before is not None and _same_file(before, snap, file)
    if before is not None and not same:
        rotated = rotated_copy(snap.source.path, before.device, before.inode)
        if rotated is not None:
            counted = _count(snap, rotated, before.offset, settled=True)
            if counted[1] > before.offset:  # the rotated file's remainder first, then the new file
                _record(db, name, before, replace(before, offset=counted[1]), counted)
                return False
    # Not the same file any more (rotated, replaced or truncated): count the new one from its start.
    # What was counted before stays: it happened.
    after = before if same and before is not None else fresh
    if after.offset >= snap.size:
        if after is fresh:
            _record(db, name, before, fresh, (Counter(), 0, 0))
        return True
    counted = _count(snap, snap.source.path, after.offset, settled=settled)
    recorded = _record(db, name, before, replace(after, offset=counted[1]), counted)
    return recorded and counted[1] >= snap.size


def _count(snap: Snapshot, path: Path, start: int, *, settled: bool) -> tuple[Counter[tuple[int, str]], int, int]:
    """Entries per (minute, level) in one step of `path` from `start`: the counts, where the step
    ended, and how many entries had no time."""
    grouper = Grouper(snap.format, snap.reference)
    counts: Counter[tuple[int, str]] = Counter()
    undated = 0
    reached = start
    with path.open("rb") as file:
        size = file.seek(0, 2)
        for line in lines_forward(file, start, include_unterminated=settled):
            if line.end > size or line.start - start >= STEP_BYTES:
                break
            reached = line.end
            header = grouper.header(line.text)
            if header is None:
                undated += not is_continuation(line.text)
            elif header.timestamp is None:
                undated += 1
            else:
                counts[int(header.timestamp.timestamp()) // 60, header.level.label if header.level else "unknown"] += 1
    return counts, reached, undated


def _record(
    db: Database,
    name: str,
    before: _Mark | None,
    after: _Mark,
    counted: tuple[Counter[tuple[int, str]], int, int],
) -> bool:
    """Adds the counts and moves the mark, if the mark is still where this step started from."""
    counts, _, undated = counted
    with db.write() as session:
        _ensure_position(session, name)
        row = _locked_position(session, db, name)
        now_at = _Mark(row.device, row.inode, row.fingerprint, row.fingerprint_length, row.offset)
        if before is not None and now_at != before:
            return False  # another worker counted this step meanwhile
        if before is None and row.device != -1:
            return False
        if counts:
            _add(session, name, counts)
        row.device, row.inode, row.offset = after.device, after.inode, after.offset
        row.fingerprint, row.fingerprint_length = after.fingerprint, after.fingerprint_length
        row.undated += undated
    return True


def _add(session: Session, source: str, counts: Counter[tuple[int, str]]) -> None:
    rows = [{"source": source, "minute": m, "level": lv, "count": n} for (m, lv), n in counts.items()]
    statement = _insert(session)(LogLevelMinute).values(rows)
    statement = statement.on_conflict_do_update(
        index_elements=["source", "minute", "level"], set_={"count": LogLevelMinute.count + statement.excluded.count}
    )
    session.execute(statement)


def _insert(session: Session) -> Any:
    return postgresql.insert if session.get_bind().dialect.name == "postgresql" else sqlite.insert


def _ensure_position(session: Session, name: str) -> None:
    """Workers that meet a source for the first time at once must not both create its row."""
    statement = _insert(session)(LogIndexPosition).values(
        source=name, device=-1, inode=-1, fingerprint="", fingerprint_length=0, offset=0, undated=0
    )
    session.execute(statement.on_conflict_do_nothing(index_elements=["source"]))


def _locked_position(session: Session, db: Database, name: str) -> LogIndexPosition:
    query = select(LogIndexPosition).where(LogIndexPosition.source == name)
    if not db.is_sqlite:  # SQLite's write transaction already holds the database's one write lock
        query = query.with_for_update()
    return session.scalars(query).one()


def _same_file(mark: _Mark, snap: Snapshot, file: Any) -> bool:
    return (
        (mark.device, mark.inode) == (snap.device, snap.inode)
        and snap.size >= mark.offset
        and fingerprint_of(file, mark.fingerprint_length) == mark.fingerprint
    )


def counts_between(db: Database, source: str, first_minute: int | None, last_minute: int | None) -> list[Any]:
    query = select(LogLevelMinute.minute, LogLevelMinute.level, LogLevelMinute.count).where(
        LogLevelMinute.source == source
    )
    if first_minute is not None:
        query = query.where(LogLevelMinute.minute >= first_minute)
    if last_minute is not None:
        query = query.where(LogLevelMinute.minute <= last_minute)
    with db.read() as session:
        return list(session.execute(query))


def undated(db: Database, source: str) -> int:
    with db.read() as session:
        return session.scalar(select(LogIndexPosition.undated).where(LogIndexPosition.source == source)) or 0


def forget(db: Database, source: str) -> None:
    with db.write() as session:
        session.execute(delete(LogLevelMinute).where(LogLevelMinute.source == source))
        session.execute(delete(LogIndexPosition).where(LogIndexPosition.source == source))


class Indexer:
    """Keeps every source's counts following its file in the background, so that a dashboard's first
    look at a large log finds them ready. Several workers may each run one: they share the work."""

    def __init__(self, db: Database, sources: tuple[LogSource, ...], pause_seconds: float) -> None:
        self.db = db
        self.sources = sources
        self.pause_seconds = pause_seconds
        self.stopping = threading.Event()
        self.thread = threading.Thread(target=self._run, name="log-indexer", daemon=True)

    def start(self) -> None:
        self.thread.start()

    def stop(self) -> None:
        self.stopping.set()
        self.thread.join(timeout=10)

    def _run(self) -> None:
        while not self.stopping.is_set():
            caught_up = True
            for source in self.sources:
                if self.stopping.is_set():
                    return
                try:
                    snap = snapshot(source)
                    caught_up &= snap is None or catch_up(self.db, snap, seconds=1.0)
                except Exception:  # a bad file or a database hiccup must not end the indexer
                    log.exception("counting the levels of log source %s failed", source.name)
            self.stopping.wait(self.pause_seconds if caught_up else 0.05)
