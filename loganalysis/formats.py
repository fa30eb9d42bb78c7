"""The log formats we read, each a recogniser of the first line of an entry.

A line that no format recognises is either the continuation of the entry above it (a traceback, a Java
stack trace, an indented line) or an entry of its own, marked unparsed."""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from loganalysis.levels import SYSLOG_SEVERITY, Level, level_named


@dataclass(frozen=True)
class Header:
    timestamp: datetime | None
    level: Level | None
    logger: str | None
    message: str


Parser = Callable[[str, datetime], Header | None]

_PY_TIME = r"\d{4}-\d\d-\d\d[ T]\d\d:\d\d:\d\d(?:[.,]\d{1,9})?(?:Z|[+-]\d\d:?\d\d)?"
_PY_LEVEL = r"[A-Z]{4,8}"
# The level names Python's logging writes (and FATAL, TRACE, NOTICE, which oslo.log and others add).
PYTHON_LEVEL_NAMES = frozenset({"TRACE", "DEBUG", "INFO", "NOTICE", "WARN", "WARNING", "ERROR", "CRITICAL", "FATAL"})
_PYTHON_LAYOUTS = [
    # %(asctime)s - %(name)s - %(levelname)s - %(message)s   (the logging cookbook's layout)
    re.compile(rf"^(?P<ts>{_PY_TIME}) - (?P<logger>\S+) - (?P<level>{_PY_LEVEL}) - (?P<msg>.*)$"),
    # %(asctime)s [%(levelname)s] %(name)s: %(message)s  and  %(asctime)s %(levelname)s %(name)s: %(message)s
    re.compile(rf"^(?P<ts>{_PY_TIME}) \[?(?P<level>{_PY_LEVEL})\]? (?P<logger>[^\s:]+): (?P<msg>.*)$"),
    # OpenStack and oslo.log: [file name] %(asctime)s.%(msecs)03d %(process)d %(levelname)s %(name)s %(message)s
    re.compile(rf"^(?:\S+ )?(?P<ts>{_PY_TIME}) (?P<pid>\d+) (?P<level>{_PY_LEVEL}) (?P<logger>[\w.]+) (?P<msg>.*)$"),
    # %(levelname)s:%(name)s:%(message)s   (logging.basicConfig's default; no time)
    re.compile(rf"^(?P<level>{_PY_LEVEL}):(?P<logger>[\w.]+):(?P<msg>.*)$"),
]
_SYSLOG_3164 = re.compile(
    r"^(?:<(?P<pri>\d{1,3})>)?(?P<ts>[A-Z][a-z]{2} [ \d]\d \d\d:\d\d:\d\d) (?P<host>\S+) "
    r"(?P<prog>[^\s\[:]+)(?:\[(?P<pid>\d+)\])?: ?(?P<msg>.*)$"
)
_SYSLOG_5424 = re.compile(
    r"^<(?P<pri>\d{1,3})>1 (?P<ts>\S+) (?P<host>\S+) (?P<app>\S+) (?P<procid>\S+) (?P<msgid>\S+) "
    r"(?P<sd>-|(?:\[(?:[^\]\\]|\\.)*\])+)(?: (?P<msg>.*))?$"
)
# A program that logs through syslog without a severity often starts the message with its own level.
_MESSAGE_LEVEL = re.compile(r"^(?P<level>error|fatal|warning|warn|crit|critical|notice|debug|info):", re.IGNORECASE)
_APACHE = re.compile(
    r"^\[(?P<ts>[A-Z][a-z]{2} [A-Z][a-z]{2} [ \d]\d \d\d:\d\d:\d\d(?:\.\d+)? \d{4})\] "
    r"\[(?:(?P<module>[^\]:]+):)?(?P<level>emerg|alert|crit|error|warn|notice|info|debug|trace[1-8])\] (?P<msg>.*)$"
)
APACHE_LEVEL_NAMES = frozenset({"emerg", "alert", "crit", "error", "warn", "notice", "info", "debug", "trace"})
_MONTHS = {
    name: number
    for number, name in enumerate(
        ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"], 1
    )
}
_JSON_LEVEL_KEYS = ("level", "levelname", "severity", "lvl", "log.level")
_JSON_TIME_KEYS = ("timestamp", "time", "@timestamp", "ts", "asctime", "datetime")
_JSON_MESSAGE_KEYS = ("message", "msg", "event", "text")
_JSON_LOGGER_KEYS = ("logger", "name", "logger_name", "module", "component")


def _iso(text: str) -> datetime | None:
    try:
        moment = datetime.fromisoformat(text.replace(",", ".").replace("Z", "+00:00").replace(" ", "T", 1))
    except ValueError:
        return None
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def parse_python(line: str, _reference: datetime) -> Header | None:
    for layout in _PYTHON_LAYOUTS:
        found = layout.match(line)
        if found is None:
            continue
        level = level_named(found["level"]) if found["level"] in PYTHON_LEVEL_NAMES else None
        if level is None:
            continue
        stamp = found.groupdict().get("ts")
        return Header(_iso(stamp) if stamp else None, level, found["logger"], found["msg"])
    return None


def _syslog_year(month: int, day: int, clock: str, reference: datetime) -> datetime | None:
    """RFC 3164 stamps have no year: take the latest year that does not put the line after the file's
    last change (a log written in December and read in January belongs to last year)."""
    hours, minutes, seconds = (int(part) for part in clock.split(":"))
    for year in (reference.year, reference.year - 1):
        try:
            moment = datetime(year, month, day, hours, minutes, seconds, tzinfo=UTC)
        except ValueError:
            continue
        if moment <= reference + timedelta(days=1):
            return moment
    return None


def parse_syslog(line: str, reference: datetime) -> Header | None:
    found = _SYSLOG_5424.match(line)
    if found is not None:
        pri = int(found["pri"])
        app = None if found["app"] == "-" else found["app"]
        return Header(_iso(found["ts"]), SYSLOG_SEVERITY[pri % 8] if pri < 192 else None, app, found["msg"] or "")
    found = _SYSLOG_3164.match(line)
    if found is None:
        return None
    month, day, clock = found["ts"][:3], int(found["ts"][4:6]), found["ts"][7:]
    if month not in _MONTHS:
        return None
    level: Level | None = None
    if found["pri"] is not None and int(found["pri"]) < 192:
        level = SYSLOG_SEVERITY[int(found["pri"]) % 8]
    else:
        stated = _MESSAGE_LEVEL.match(found["msg"])
        level = level_named(stated["level"]) if stated else None
    return Header(_syslog_year(_MONTHS[month], day, clock, reference), level, found["prog"], found["msg"])


def parse_apache(line: str, _reference: datetime) -> Header | None:
    found = _APACHE.match(line)
    if found is None:
        return None
    try:
        stamp = found["ts"]
        layout = "%a %b %d %H:%M:%S.%f %Y" if "." in stamp else "%a %b %d %H:%M:%S %Y"
        moment: datetime | None = datetime.strptime(stamp.replace("  ", " 0"), layout).replace(tzinfo=UTC)
    except ValueError:
        moment = None
    return Header(moment, level_named(found["level"]), found["module"], found["msg"])


def _first(record: dict[str, object], keys: Iterable[str]) -> object:
    for key in keys:
        if key in record and record[key] is not None:
            return record[key]
    return None


def parse_json(line: str, _reference: datetime) -> Header | None:
    if not line.startswith("{"):
        return None
    try:
        record = json.loads(line)
    except (ValueError, RecursionError):
        return None
    if not isinstance(record, dict):
        return None
    raw_level = _first(record, _JSON_LEVEL_KEYS)
    level = level_named(raw_level) if isinstance(raw_level, str) else None
    if isinstance(raw_level, int) and not isinstance(raw_level, bool) and raw_level in Level._value2member_map_:
        level = Level(raw_level)
    raw_time = _first(record, _JSON_TIME_KEYS)
    moment: datetime | None = None
    if isinstance(raw_time, str):
        moment = _iso(raw_time)
    elif isinstance(raw_time, (int, float)) and not isinstance(raw_time, bool):
        seconds = raw_time / 1000 if raw_time > 10**11 else raw_time  # epoch milliseconds or seconds
        try:
            moment = datetime.fromtimestamp(seconds, UTC)
        except (OverflowError, OSError, ValueError):
            moment = None
    message = _first(record, _JSON_MESSAGE_KEYS)
    logger = _first(record, _JSON_LOGGER_KEYS)
    return Header(
        moment,
        level,
        logger if isinstance(logger, str) else None,
        message if isinstance(message, str) else line,
    )


FORMATS: dict[str, Parser] = {
    "python": parse_python,
    "syslog": parse_syslog,
    "apache": parse_apache,
    "jsonl": parse_json,
}
PLAIN = "plain"

# Lines that continue the entry above them: indented lines, Python tracebacks, Java stack traces.
_CONTINUATION = re.compile(
    r"^(?:[ \t]|Traceback \(most recent call last\)|During handling of the above exception|"
    r"The above exception was the direct cause|Caused by: |\.\.\. \d+ (?:more|common frames omitted)|"
    r"[\w.$]*(?:Error|Exception|Exit|Interrupt|Warning|Fault)\b(?::|$))"
)


def is_continuation(line: str) -> bool:
    return line == "" or _CONTINUATION.match(line) is not None


def detect(lines: Iterable[str], reference: datetime) -> str:
    """The format that recognises most of these lines, or plain when none recognises half of them."""
    sample = [line for line in lines if line and not is_continuation(line)][:200]
    if not sample:
        return PLAIN
    scores = {name: sum(parser(line, reference) is not None for line in sample) for name, parser in FORMATS.items()}
    best = max(scores, key=lambda name: scores[name])
    return best if scores[best] * 2 >= len(sample) else PLAIN
