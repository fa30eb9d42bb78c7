"""One severity scale for every format, ordered: a filter for `error` also keeps `critical`."""

from __future__ import annotations

from enum import IntEnum


class Level(IntEnum):
    DEBUG = 10
    INFO = 20
    NOTICE = 25
    WARNING = 30
    ERROR = 40
    CRITICAL = 50
    ALERT = 60
    EMERGENCY = 70

    @property
    def label(self) -> str:
        return self.name.lower()


ALIASES: dict[str, Level] = {
    "trace": Level.DEBUG,
    "debug": Level.DEBUG,
    "info": Level.INFO,
    "information": Level.INFO,
    "notice": Level.NOTICE,
    "warn": Level.WARNING,
    "warning": Level.WARNING,
    "err": Level.ERROR,
    "error": Level.ERROR,
    "crit": Level.CRITICAL,
    "critical": Level.CRITICAL,
    "fatal": Level.CRITICAL,
    "severe": Level.CRITICAL,
    "alert": Level.ALERT,
    "emerg": Level.EMERGENCY,
    "emergency": Level.EMERGENCY,
    "panic": Level.EMERGENCY,
}
# Syslog severities 0..7 (RFC 5424 section 6.2.1).
SYSLOG_SEVERITY = (
    Level.EMERGENCY,
    Level.ALERT,
    Level.CRITICAL,
    Level.ERROR,
    Level.WARNING,
    Level.NOTICE,
    Level.INFO,
    Level.DEBUG,
)


def level_named(name: str) -> Level | None:
    """Apache's trace1..trace8 count as debug."""
    key = name.strip().lower()
    if key.startswith("trace"):
        return Level.DEBUG
    return ALIASES.get(key)


def by_label(label: str) -> Level:
    return Level[label.upper()]
