"""Level counts per minute, kept in the database as log files grow, so that dashboards add up minutes
instead of reading gigabytes. Each catch-up reads only what was appended since the last one."""

from __future__ import annotations

import time
from collections import Counter
from pathlib import Path
from typing import Any

from sqlalchemy import delete, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from loganalysis.formats import is_continuation
from loganalysis.query import SETTLE, fingerprint_of, rotated_copy
from loganalysis.reading import Grouper, lines_forward
from loganalysis.sources import Snapshot
from storage.db import Database
from storage.models import LogIndexPosition, LogLevelMinute

STEP_BYTES = 16 * 1024 * 1024  # read per transaction: the lock on a source's counts is held that long


def catch_up(db: Database, snap: Snapshot, *, seconds: float, now: float | None = None) -> bool:
    """Counts what was appended since the last catch-up, for at most about `seconds`. True when the
    counts cover the whole file."""
    deadline = time.monotonic() + seconds
    while True:
        if _step(db, snap, settled=(now or time.time()) - snap.modified.timestamp() >= SETTLE.total_seconds()):
            return True
        if time.monotonic() >= deadline:
            return False


def _step(db: Database, snap: Snapshot, *, settled: bool) -> bool:
    name = snap.source.name
    with db.write() as session:
        _ensure_position(session, name)
        position = _locked_position(session, db, name)
        with snap.source.path.open("rb") as file:
            if not _same_file(position, snap, file):
                rotated = rotated_copy(snap.source.path, position.device, position.inode)
                if rotated is not None and _count(session, snap, rotated, position, settled=True):
                    return False  # the rotated file's remainder first, then the new file
                # A new file at the path (rotated, replaced or truncated): count it from its start.
                # What was counted before stays: it happened.
                position.device, position.inode, position.offset = snap.device, snap.inode, 0
                position.fingerprint_length = min(256, snap.size)
                position.fingerprint = fingerprint_of(file, position.fingerprint_length)
        if position.offset >= snap.size:
            return True
        _count(session, snap, snap.source.path, position, settled=settled)
        return position.offset >= snap.size


def _count(session: Session, snap: Snapshot, path: Path, position: LogIndexPosition, *, settled: bool) -> bool:
    """Counts one step of `path` from the position; True if it read anything."""
    grouper = Grouper(snap.format, snap.reference)
    counts: Counter[tuple[int, str]] = Counter()
    start = position.offset
    reached = start
    with path.open("rb") as file:
        size = file.seek(0, 2)
        for line in lines_forward(file, start, include_unterminated=settled):
            if line.end > size or line.start - start >= STEP_BYTES:
                break
            reached = line.end
            header = grouper.header(line.text)
            if header is None:
                position.undated += not is_continuation(line.text)
            elif header.timestamp is None:
                position.undated += 1
            else:
                counts[int(header.timestamp.timestamp()) // 60, header.level.label if header.level else "unknown"] += 1
    if counts:
        _add(session, snap.source.name, counts)
    position.offset = reached
    return reached > start


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


def _same_file(position: LogIndexPosition, snap: Snapshot, file: Any) -> bool:
    return (
        (position.device, position.inode) == (snap.device, snap.inode)
        and snap.size >= position.offset
        and fingerprint_of(file, position.fingerprint_length) == position.fingerprint
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
