"""Each format's first lines, and the real logs in tests/data/logs read as their formats."""

from __future__ import annotations

from collections import Counter
from datetime import UTC, datetime
from pathlib import Path

import pytest

from loganalysis.formats import FORMATS, detect, is_continuation, parse_json, parse_python, parse_syslog
from loganalysis.levels import Level
from loganalysis.reading import Grouper, lines_forward

LOGS = Path(__file__).resolve().parents[1] / "data" / "logs"
REFERENCE = datetime(2026, 11, 21, tzinfo=UTC)


@pytest.mark.parametrize(
    ("line", "level", "logger", "message"),
    [
        ("2024-03-01 12:00:00,123 - app.db - ERROR - connection lost", Level.ERROR, "app.db", "connection lost"),
        ("2024-03-01 12:00:00,123 WARNING app.db: slow query", Level.WARNING, "app.db", "slow query"),
        ("2024-03-01T12:00:00.123+02:00 [CRITICAL] app: down", Level.CRITICAL, "app", "down"),
        ("ERROR:root:something broke", Level.ERROR, "root", "something broke"),
        ("nova.log 2017-05-16 00:00:00.008 25746 INFO nova.api [req-1] GET /", Level.INFO, "nova.api", "[req-1] GET /"),
    ],
)
def test_python_logging_layouts(line: str, level: Level, logger: str, message: str) -> None:
    header = parse_python(line, REFERENCE)

    assert header is not None
    assert (header.level, header.logger, header.message) == (level, logger, message)


def test_python_timestamps_keep_their_offset() -> None:
    header = parse_python("2024-03-01T12:00:00.5+02:00 - app - INFO - x", REFERENCE)

    assert header is not None
    assert header.timestamp == datetime(2024, 3, 1, 10, 0, 0, 500000, tzinfo=UTC)


def test_syslog_rfc3164_infers_the_year_from_the_files_last_change() -> None:
    december = parse_syslog("Dec 31 23:59:59 host cron[12]: job done", REFERENCE)
    november = parse_syslog("Nov 20 10:00:00 host cron[12]: job done", REFERENCE)

    assert december is not None
    assert december.timestamp == datetime(2025, 12, 31, 23, 59, 59, tzinfo=UTC)
    assert november is not None
    assert november.timestamp == datetime(2026, 11, 20, 10, 0, tzinfo=UTC)
    assert december.level is None
    assert december.logger == "cron"


def test_syslog_priority_gives_the_severity() -> None:
    rfc3164 = parse_syslog("<11>Oct 11 22:14:15 mymachine su: 'su root' failed", REFERENCE)
    rfc5424 = parse_syslog(
        '<165>1 2003-10-11T22:14:15.003Z mymachine.example.com evntslog - ID47 [exampleSDID@32473 iut="3"] hello',
        REFERENCE,
    )

    assert rfc3164 is not None
    assert rfc3164.level == Level.ERROR
    assert rfc5424 is not None
    assert rfc5424.level == Level.NOTICE
    assert rfc5424.logger == "evntslog"
    assert rfc5424.message == "hello"
    assert rfc5424.timestamp == datetime(2003, 10, 11, 22, 14, 15, 3000, tzinfo=UTC)


def test_syslog_messages_that_state_their_own_level() -> None:
    header = parse_syslog("Dec 10 07:51:15 LabSZ sshd[24324]: error: Received disconnect", REFERENCE)

    assert header is not None
    assert header.level == Level.ERROR


@pytest.mark.parametrize(
    ("line", "level", "message"),
    [
        ('{"time": "2024-03-01T12:00:00Z", "level": "error", "msg": "boom", "logger": "api"}', Level.ERROR, "boom"),
        ('{"@timestamp": 1709294400000, "severity": "WARN", "message": "slow"}', Level.WARNING, "slow"),
        ('{"timestamp": 1709294400, "levelname": "CRITICAL", "event": "down"}', Level.CRITICAL, "down"),
        ('{"levelno": 40, "level": 40, "message": "numeric"}', Level.ERROR, "numeric"),
    ],
)
def test_json_lines(line: str, level: Level, message: str) -> None:
    header = parse_json(line, REFERENCE)

    assert header is not None
    assert (header.level, header.message) == (level, message)


@pytest.mark.parametrize("line", ["{not json", "[1, 2]", '"just a string"', "{" * 5000 + "}" * 5000, ""])
def test_json_lines_that_are_not_objects_are_not_entries(line: str) -> None:
    assert parse_json(line, REFERENCE) is None


@pytest.mark.parametrize(
    "line",
    [
        "Traceback (most recent call last):",
        '  File "app.py", line 3, in <module>',
        "ValueError: bad value",
        "java.lang.IllegalStateException: closed",
        "\tat com.example.Main.run(Main.java:10)",
        "Caused by: java.io.IOException: broken pipe",
        "... 12 more",
    ],
)
def test_tracebacks_and_stack_traces_continue_the_entry_above(line: str) -> None:
    assert is_continuation(line)


@pytest.mark.parametrize(
    ("file", "fmt"),
    [
        ("Apache_2k.log", "apache"),
        ("Linux_2k.log", "syslog"),
        ("OpenSSH_2k.log", "syslog"),
        ("OpenStack_2k.log", "python"),
    ],
)
def test_the_real_logs_are_detected_and_every_line_is_an_entry(file: str, fmt: str) -> None:
    with (LOGS / file).open("rb") as handle:
        lines = list(lines_forward(handle, 0, include_unterminated=True))
        assert detect([line.text for line in lines], REFERENCE) == fmt
        handle.seek(0)
        entries = list(Grouper(fmt, REFERENCE).forward(iter(lines)))

    assert len(lines) == 2000
    assert sum(entry.line_count for entry in entries) == 2000
    assert not any(line.text.endswith("\r") for line in lines)  # CRLF files read cleanly
    assert sum(entry.parsed for entry in entries) >= 1990


def test_apache_levels_come_from_the_level_field() -> None:
    with (LOGS / "Apache_2k.log").open("rb") as handle:
        entries = list(Grouper("apache", REFERENCE).forward(lines_forward(handle, 0, include_unterminated=True)))

    assert Counter(entry.level for entry in entries) == {Level.NOTICE: 1405, Level.ERROR: 595}


def test_a_message_that_says_error_keeps_its_own_level() -> None:
    header = parse_python("2024-03-01 12:00:00,000 - app - INFO - retrying after ERROR 503", REFERENCE)

    assert header is not None
    assert header.level == Level.INFO


def test_openstack_levels_come_from_the_level_column() -> None:
    with (LOGS / "OpenStack_2k.log").open("rb") as handle:
        entries = list(Grouper("python", REFERENCE).forward(lines_forward(handle, 0, include_unterminated=True)))

    assert Counter(entry.level for entry in entries) == {Level.INFO: 1969, Level.WARNING: 31}
    assert all(entry.timestamp is not None and entry.timestamp.year == 2017 for entry in entries)


def test_every_format_is_detectable() -> None:
    assert set(FORMATS) == {"python", "syslog", "apache", "jsonl"}
