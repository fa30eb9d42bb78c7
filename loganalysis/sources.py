"""The log files an operator configured: GATEWAY_LOG_SOURCES=name=/path/file.log[:format],...

A client names a source; it never names a path, so no request can make the service read another file."""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from loganalysis.formats import FORMATS, PLAIN, detect
from loganalysis.reading import decode

SOURCE_NAME = re.compile(r"^[a-z0-9][a-z0-9_-]{0,31}$")
KNOWN_FORMATS = (*FORMATS, PLAIN)
DETECTION_BYTES = 64 * 1024


class SourceConfigError(ValueError):
    pass


@dataclass(frozen=True)
class LogSource:
    name: str
    path: Path
    format: str | None  # None: detected from the file's first lines


@dataclass(frozen=True)
class Snapshot:
    """A source's file as it is now: identity, size, and the format it is read with."""

    source: LogSource
    device: int
    inode: int
    size: int
    modified: datetime
    format: str

    @property
    def reference(self) -> datetime:
        """The moment the file last changed: what yearless syslog stamps are dated against."""
        return self.modified


def parse_sources(value: str) -> tuple[LogSource, ...]:
    sources: list[LogSource] = []
    for item in filter(None, (part.strip() for part in value.split(","))):
        name, equals, location = item.partition("=")
        if not equals or not SOURCE_NAME.match(name):
            raise SourceConfigError(
                f"GATEWAY_LOG_SOURCES: {item!r} is not name=/path/to/file.log with a name of lower-case "
                "letters, digits, - and _"
            )
        path, colon, format_name = location.rpartition(":")
        if not colon or format_name not in KNOWN_FORMATS:
            path, format_name = location, ""
        if not path.startswith("/"):
            raise SourceConfigError(f"GATEWAY_LOG_SOURCES: the path of {name!r} must be absolute")
        if any(source.name == name for source in sources):
            raise SourceConfigError(f"GATEWAY_LOG_SOURCES: {name!r} is named twice")
        sources.append(LogSource(name, Path(path), format_name or None))
    return tuple(sources)


def snapshot(source: LogSource) -> Snapshot | None:
    """None when the file is missing or unreadable now (it may appear later)."""
    try:
        with source.path.open("rb") as file:
            status = os.fstat(file.fileno())
            head = file.read(DETECTION_BYTES) if source.format is None else b""
    except OSError:
        return None
    modified = datetime.fromtimestamp(status.st_mtime, UTC)
    if source.format is not None:
        format_name = source.format
    else:
        lines = [decode(raw) for raw in head.split(b"\n")[:-1]] if b"\n" in head else [decode(head)]
        format_name = detect(lines, modified)
    return Snapshot(source, status.st_dev, status.st_ino, status.st_size, modified, format_name)
