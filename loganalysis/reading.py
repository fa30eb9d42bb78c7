"""Lines and entries of a file, read forward or backward from a byte offset, a chunk at a time."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime
from typing import BinaryIO

from loganalysis.formats import FORMATS, Header, is_continuation
from loganalysis.levels import Level

CHUNK = 1 << 20
MAX_ENTRY_LINES = 200
MAX_MESSAGE_CHARS = 32_768


@dataclass(frozen=True)
class Line:
    start: int
    end: int  # the offset just past its newline
    text: str


def decode(raw: bytes) -> str:
    """CRLF and LF both end a line; bytes that are not UTF-8 become U+FFFD, never an error."""
    return raw.rstrip(b"\r").decode("utf-8", "replace")


def lines_forward(file: BinaryIO, start: int, *, include_unterminated: bool) -> Iterator[Line]:
    """Lines starting at `start` (a line start). The last line without a newline is given only when
    `include_unterminated`: a writer may still be in the middle of it."""
    file.seek(start)
    position = start
    pending = b""
    while True:
        chunk = file.read(CHUNK)
        if not chunk:
            break
        data = pending + chunk
        cut = 0
        while True:
            newline = data.find(b"\n", cut)
            if newline < 0:
                break
            yield Line(position, position + newline - cut + 1, decode(data[cut:newline]))
            position += newline - cut + 1
            cut = newline + 1
        pending = data[cut:]
    if pending and include_unterminated:
        yield Line(position, position + len(pending), decode(pending))


def lines_backward(file: BinaryIO, end: int) -> Iterator[Line]:
    """Lines ending at or before `end` (a line boundary), the last first."""
    position = end
    tail = b""  # bytes after `position` that begin a line not yet complete (read backwards)
    while position > 0:
        size = min(CHUNK, position)
        position -= size
        file.seek(position)
        data = file.read(size) + tail
        cut = len(data)
        # The first piece of `data` may be the end of a line that starts in an earlier chunk.
        while True:
            newline = data.rfind(b"\n", 0, cut - 1) if cut > 0 else -1
            if newline < 0:
                break
            text = data[newline + 1 : cut]
            yield Line(position + newline + 1, position + cut, decode(text.rstrip(b"\n")))
            cut = newline + 1
        tail = data[:cut]
    if tail:
        yield Line(0, len(tail), decode(tail.rstrip(b"\n")))


@dataclass
class Entry:
    start: int
    end: int
    header: Header | None
    lines: list[str] = field(default_factory=list)
    line_count: int = 0
    characters: int = 0
    truncated: bool = False

    @property
    def parsed(self) -> bool:
        return self.header is not None

    @property
    def timestamp(self) -> datetime | None:
        return self.header.timestamp if self.header else None

    @property
    def level(self) -> Level | None:
        return self.header.level if self.header else None

    @property
    def message(self) -> str:
        return "\n".join(self.lines)

    def add(self, text: str) -> None:
        self.line_count += 1
        if len(self.lines) < MAX_ENTRY_LINES and self.characters + len(text) <= MAX_MESSAGE_CHARS:
            self.lines.append(text)
            self.characters += len(text)
        else:
            self.truncated = True


class Grouper:
    """Turns lines into entries: a line a format recognises starts an entry, a continuation line
    (traceback, stack trace, indented text) joins the entry above it, any other line is an entry of
    its own, unparsed."""

    def __init__(self, format_name: str, reference: datetime) -> None:
        self.parser = FORMATS.get(format_name)
        self.reference = reference

    def header(self, text: str) -> Header | None:
        return self.parser(text, self.reference) if self.parser else None

    def forward(self, lines: Iterator[Line]) -> Iterator[Entry]:
        current: Entry | None = None
        for line in lines:
            header = self.header(line.text)
            if header is None and current is not None and is_continuation(line.text):
                current.add(line.text)
                current.end = line.end
                continue
            if current is not None:
                yield current
            current = Entry(line.start, line.end, header)
            current.add(header.message if header else line.text)
        if current is not None:
            yield current

    def backward(self, lines: Iterator[Line]) -> Iterator[Entry]:
        # Continuation lines seen so far (read backwards, so the last one in the file first). Only the
        # MAX_ENTRY_LINES nearest the entry's first line are kept, as forward reading keeps them.
        pending: list[str] = []
        pending_count = 0
        pending_start = pending_end = 0
        for line in lines:
            header = self.header(line.text)
            if header is None and is_continuation(line.text):
                if pending_count == 0:
                    pending_end = line.end
                pending_count += 1
                pending_start = line.start
                pending.append(line.text)
                if len(pending) > MAX_ENTRY_LINES:
                    pending.pop(0)
                continue
            entry = Entry(line.start, line.end, header)
            entry.add(header.message if header else line.text)
            self._attach(entry, pending, pending_count, pending_end)
            pending, pending_count = [], 0
            yield entry
        if pending_count:
            orphan = Entry(pending_start, pending_end, None)
            self._attach(orphan, pending, pending_count, pending_end)
            yield orphan

    @staticmethod
    def _attach(entry: Entry, pending: list[str], count: int, end: int) -> None:
        if not count:
            return
        for text in reversed(pending):
            entry.add(text)
        entry.line_count += count - len(pending)
        entry.truncated = entry.truncated or count > len(pending)
        entry.end = end
