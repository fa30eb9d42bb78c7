"""Paging through a log by byte offset, with opaque cursors that survive appends and rotation."""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import BinaryIO

from loganalysis.fastscan import level_tokens, scan
from loganalysis.levels import Level
from loganalysis.reading import Entry, Grouper, lines_backward, lines_forward
from loganalysis.sources import Snapshot

FINGERPRINT_BYTES = 256
# A request reads at most this much before answering with what it found and a cursor to go on from,
# so no request can keep the service busy for long, whatever the file size or the filters.
SCAN_BUDGET_BYTES = 64 * 1024 * 1024
# A line still being written has no newline yet; it is held back until the file has been still this long.
SETTLE = timedelta(seconds=1)
# `until` at the last moment a datetime holds takes in everything: there is no moment after it to seek.
LAST_MOMENT = datetime.max.replace(tzinfo=UTC)
SEEK_WINDOW = 256 * 1024
# The level-filtered scan touches few lines, so one request may cover more of the file.
FAST_SCAN_BUDGET_BYTES = 1024 * 1024 * 1024


class BadCursor(ValueError):
    pass


@dataclass(frozen=True)
class Filters:
    min_level: Level | None = None
    level: Level | None = None
    since: datetime | None = None
    until: datetime | None = None
    text: str | None = None

    def keep(self, entry: Entry) -> bool:
        if self.min_level is not None and (entry.level is None or entry.level < self.min_level):
            return False
        if self.level is not None and entry.level != self.level:
            return False
        if self.since is not None and (entry.timestamp is None or entry.timestamp < self.since):
            return False
        if self.until is not None and (entry.timestamp is None or entry.timestamp > self.until):
            return False
        return self.text is None or self.text.casefold() in entry.message.casefold()

    def levels(self) -> set[Level]:
        """The levels an entry may have to be kept; empty when the level does not matter."""
        if self.level is not None:
            return {self.level} if self.min_level is None or self.level >= self.min_level else set()
        if self.min_level is not None:
            return {level for level in Level if level >= self.min_level}
        return set()


@dataclass(frozen=True)
class Position:
    """Where a page ended: in which file (device, inode, first bytes) and at which offset."""

    device: int
    inode: int
    offset: int
    fingerprint: str
    fingerprint_length: int

    def encode(self, source: str, newest_first: bool) -> str:
        fields = [1, source, int(newest_first), self.device, self.inode, self.offset, self.fingerprint,
                  self.fingerprint_length]  # fmt: skip
        raw = json.dumps(fields, separators=(",", ":")).encode()
        return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()

    @classmethod
    def decode(cls, cursor: str, source: str, newest_first: bool) -> Position:
        try:
            raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
            version, name, direction, device, inode, offset, fingerprint, length = json.loads(raw)
        except (binascii.Error, ValueError, TypeError, UnicodeDecodeError):
            raise BadCursor("The cursor is not one this service issued.") from None
        if version != 1 or name != source or not all(isinstance(n, int) for n in (device, inode, offset, length)):
            raise BadCursor("The cursor belongs to another source or is malformed.")
        if bool(direction) != newest_first:
            raise BadCursor("The cursor was issued for the other order; keep the order of the first page.")
        if offset < 0 or length < 0 or not isinstance(fingerprint, str):
            raise BadCursor("The cursor is malformed.")
        return cls(device, inode, offset, fingerprint, length)


@dataclass(frozen=True)
class Page:
    entries: list[tuple[Snapshot, Entry]]
    next_cursor: str | None


def fingerprint_of(file: BinaryIO, length: int) -> str:
    file.seek(0)
    return hashlib.sha256(file.read(length)).hexdigest()[:32]


def position_at(snap: Snapshot, file: BinaryIO, offset: int) -> Position:
    length = min(FINGERPRINT_BYTES, snap.size)
    return Position(snap.device, snap.inode, offset, fingerprint_of(file, length), length)


def _same_file(snap: Snapshot, file: BinaryIO, position: Position) -> bool:
    return (
        (snap.device, snap.inode) == (position.device, position.inode)
        and snap.size >= position.offset
        and snap.size >= position.fingerprint_length
        and fingerprint_of(file, position.fingerprint_length) == position.fingerprint
    )


def rotated_copy(path: Path, device: int, inode: int) -> Path | None:
    """After `mv app.log app.log.1`, the file a cursor points into lives on under the rotated name."""
    candidate = path.with_name(path.name + ".1")
    try:
        status = candidate.stat()
    except OSError:
        return None
    return candidate if (status.st_dev, status.st_ino) == (device, inode) else None


def _first_timestamp_after(file: BinaryIO, offset: int, grouper: Grouper) -> tuple[int, datetime] | None:
    file.seek(offset)
    window = file.read(SEEK_WINDOW)
    cut = 0 if offset == 0 else window.find(b"\n") + 1
    if offset != 0 and cut == 0:
        return None
    position = offset + cut
    for raw in window[cut:].split(b"\n")[:-1]:
        header = grouper.header(raw.rstrip(b"\r").decode("utf-8", "replace"))
        if header is not None and header.timestamp is not None:
            return position, header.timestamp
        position += len(raw) + 1
    return None


def seek_time(file: BinaryIO, size: int, moment: datetime, grouper: Grouper) -> tuple[int, int]:
    """Entry starts around the first entry stamped `moment` or later, found by bisection, so that a time
    range reads only its part of a (time-ordered) file: every entry before `low` is older than
    `moment`, and the entry at `high` (or the end of the file) is not."""
    low, high, boundary = 0, size, size
    while high - low > SEEK_WINDOW:
        middle = (low + high) // 2
        found = _first_timestamp_after(file, middle, grouper)
        if found is None or found[1] >= moment:
            high = middle
            if found is not None:
                boundary = min(boundary, found[0])
        else:
            low = found[0]
    return low, max(boundary, low)


def read_page(
    snap: Snapshot, filters: Filters, *, limit: int, cursor: str | None, newest_first: bool, now: datetime
) -> Page:
    with snap.source.path.open("rb") as file:
        position = Position.decode(cursor, snap.source.name, newest_first) if cursor else None
        if newest_first:
            return _newest_first(snap, file, filters, limit, position)
        return _oldest_first(snap, file, filters, limit, position, now)


def _oldest_first(
    snap: Snapshot, file: BinaryIO, filters: Filters, limit: int, position: Position | None, now: datetime
) -> Page:
    grouper = Grouper(snap.format, snap.reference)
    found: list[tuple[Snapshot, Entry]] = []
    if position is not None and not _same_file(snap, file, position):
        rotated = rotated_copy(snap.source.path, position.device, position.inode)
        if rotated is not None:
            # Finish the rotated file first, then go on in the new one: nothing lost, nothing twice.
            with rotated.open("rb") as old:
                size = old.seek(0, 2)
                for entry in _filtered(grouper.forward(lines_forward(old, position.offset, include_unterminated=True)),
                                       filters, size):  # fmt: skip
                    found.append((snap, entry))
                    if len(found) == limit:
                        return Page(found, Position(position.device, position.inode, entry.end,
                                                    position.fingerprint, position.fingerprint_length)
                                    .encode(snap.source.name, False))  # fmt: skip
        position = None  # rotated or truncated: the file at the path starts afresh
    if position is not None:
        start = position.offset
    elif filters.since is not None and snap.format != "plain":
        start = seek_time(file, snap.size, filters.since, grouper)[0]
    else:
        start = 0
    settled = now - snap.modified >= SETTLE
    wanted = filters.levels()
    tokens = level_tokens(snap.format, wanted) if wanted and filters.text is None else None
    if tokens:
        fast = _oldest_first_fast(snap, file, grouper, filters, limit, start, tokens, wanted, found, settled)
        if fast is not None:
            return fast
    reached = start
    budget_end = start + SCAN_BUDGET_BYTES
    for entry in grouper.forward(lines_forward(file, start, include_unterminated=settled)):
        if entry.end > snap.size:
            break  # appended after we looked: the next poll takes it
        reached = entry.end
        if _collect(snap, entry, filters, found, limit) or reached >= budget_end:
            break
    return Page(found, position_at(snap, file, reached).encode(snap.source.name, False))


def _collect(snap: Snapshot, entry: Entry, filters: Filters, found: list[tuple[Snapshot, Entry]], limit: int) -> bool:
    """Adds the entry if the filters keep it; True when the page is full or the range is over."""
    if filters.until is not None and entry.timestamp is not None and entry.timestamp > filters.until:
        return True
    if filters.keep(entry):
        found.append((snap, entry))
    return len(found) == limit


def _oldest_first_fast(
    snap: Snapshot,
    file: BinaryIO,
    grouper: Grouper,
    filters: Filters,
    limit: int,
    start: int,
    tokens: list[bytes],
    wanted: set[Level],
    found: list[tuple[Snapshot, Entry]],
    settled: bool,
) -> Page | None:
    """The level-filtered scan up to the last complete line; None hands over to the line reader."""
    stop = min(snap.size, start + FAST_SCAN_BUDGET_BYTES)
    file.seek(max(start, stop - 1))
    if stop > start and file.read(1) != b"\n":
        stop = _last_newline_before(file, start, stop)
    reached = start
    for entry, position in scan(file, start, stop, grouper, tokens, wanted):
        reached = position
        if entry is not None and _collect(snap, entry, filters, found, limit):
            break
    if reached < stop and len(found) < limit:
        return None
    if reached == stop < snap.size and len(found) < limit:
        # The last line has no newline: read it the ordinary way (it waits until the file is still).
        for entry in grouper.forward(lines_forward(file, stop, include_unterminated=settled)):
            if entry.end > snap.size:
                break
            reached = entry.end
            if filters.keep(entry):
                found.append((snap, entry))
    return Page(found, position_at(snap, file, reached).encode(snap.source.name, False))


def _last_newline_before(file: BinaryIO, start: int, stop: int) -> int:
    position = stop
    while position > start:
        size = min(SEEK_WINDOW, position - start)
        file.seek(position - size)
        newline = file.read(size).rfind(b"\n")
        if newline >= 0:
            return position - size + newline + 1
        position -= size
    return start


def _filtered(entries: Iterator[Entry], filters: Filters, size: int) -> Iterator[Entry]:
    for entry in entries:
        if entry.end > size:
            return
        if filters.keep(entry):
            yield entry


def _newest_first(snap: Snapshot, file: BinaryIO, filters: Filters, limit: int, position: Position | None) -> Page:
    grouper = Grouper(snap.format, snap.reference)
    if position is not None and not _same_file(snap, file, position):
        rotated = rotated_copy(snap.source.path, position.device, position.inode)
        if rotated is None:
            return Page([], None)  # what came before the cursor is gone with the old file
        with rotated.open("rb") as old:
            return _backward(snap, old, grouper, filters, limit, position.offset, position)
    if position is not None:
        end = position.offset
    elif filters.until is not None and snap.format != "plain" and filters.until < LAST_MOMENT:
        end = seek_time(file, snap.size, filters.until + timedelta(microseconds=1), grouper)[1]
    else:
        end = snap.size
    return _backward(snap, file, grouper, filters, limit, end, None)


def _backward(
    snap: Snapshot, file: BinaryIO, grouper: Grouper, filters: Filters, limit: int, end: int, rotated: Position | None
) -> Page:
    found: list[tuple[Snapshot, Entry]] = []
    reached = end
    budget_start = end - SCAN_BUDGET_BYTES
    for entry in grouper.backward(lines_backward(file, end)):
        reached = entry.start
        if filters.since is not None and entry.timestamp is not None and entry.timestamp < filters.since:
            return Page(found, None)
        if filters.keep(entry):
            found.append((snap, entry))
            if len(found) == limit:
                break
        if reached <= budget_start:
            break
    if reached == 0:
        return Page(found, None)
    if rotated is not None:
        next_position = Position(rotated.device, rotated.inode, reached, rotated.fingerprint,
                                 rotated.fingerprint_length)  # fmt: skip
    else:
        next_position = position_at(snap, file, reached)
    return Page(found, next_position.encode(snap.source.name, True))
