"""A fast forward scan for level-filtered reads (the monitoring case: "every ERROR since my cursor").

Instead of parsing every line, it searches each chunk for the level's spellings with bytes.find (which
runs at memory speed), parses only the lines where one occurs, and keeps those whose level *field*
matches, with their continuation lines. The answer is the same as the line-by-line reader's; only the
lines that cannot match are never decoded."""

from __future__ import annotations

from collections.abc import Iterator
from typing import BinaryIO

from loganalysis.formats import APACHE_LEVEL_NAMES, PYTHON_LEVEL_NAMES, is_continuation
from loganalysis.levels import Level, level_named
from loganalysis.reading import Entry, Grouper, decode

FAST_CHUNK = 2 << 20
# Formats whose level is always spelled out in the line, from a known set of names (syslog may give it
# as a number, <11>; JSON lines as any key).
SPELLINGS = {"python": PYTHON_LEVEL_NAMES, "apache": APACHE_LEVEL_NAMES}


def level_tokens(format_name: str, wanted: set[Level]) -> list[bytes] | None:
    """The spellings to search for, none a substring of another; None if this format cannot use them."""
    spellings = SPELLINGS.get(format_name)
    if spellings is None:
        return None
    names = sorted((name for name in spellings if level_named(name) in wanted), key=len)
    minimal: list[str] = []
    for name in names:
        if not any(shorter in name for shorter in minimal):
            minimal.append(name)
    return [name.encode() for name in minimal]


def scan(
    file: BinaryIO, start: int, stop: int, grouper: Grouper, tokens: list[bytes], wanted: set[Level]
) -> Iterator[tuple[Entry | None, int]]:
    """Yields (entry, position) for every wanted entry between `start` and `stop` (line boundaries),
    and (None, position) after each chunk, so a caller can stop anywhere with an exact cursor."""
    position = start
    while position < stop:
        file.seek(position)
        data = file.read(min(FAST_CHUNK, stop - position))
        end = data.rfind(b"\n") + 1
        if end == 0:
            return  # a single line longer than a chunk: leave it to the line-by-line reader
        region = data  # only its first `end` bytes are complete lines; searches stop there
        hits: set[int] = set()
        for token in tokens:
            found = region.find(token, 0, end)
            while found >= 0:
                hits.add(found)
                found = region.find(token, found + 1, end)
        done = 0  # region offset up to which lines are handled
        restart: int | None = None
        for hit in sorted(hits):
            if hit < done:
                continue
            line_start = region.rfind(b"\n", 0, hit) + 1
            line_end = region.find(b"\n", hit) + 1
            header = grouper.header(decode(region[line_start : line_end - 1]))
            if header is None or header.level not in wanted:
                done = line_end
                continue
            entry = Entry(position + line_start, position + line_end, header)
            entry.add(header.message)
            cursor = line_end
            while cursor < end:
                newline = region.find(b"\n", cursor)
                text = decode(region[cursor:newline])
                if grouper.header(text) is not None or not is_continuation(text):
                    break
                entry.add(text)
                entry.end = position + newline + 1
                cursor = newline + 1
            if cursor >= end and position + end < stop and line_start > 0:
                restart = line_start  # the entry may go on in the next chunk: read it again from its start
                break
            done = cursor
            yield entry, entry.end
        position += restart if restart is not None else end
        yield None, position
