"""Operations tagged `logs`."""

from __future__ import annotations

from datetime import UTC, datetime

from handlers.http import JSON, Response, services
from loganalysis import service
from loganalysis.levels import by_label
from loganalysis.query import Filters


def _moment(text: str | None) -> datetime | None:
    """An RFC 3339 time the spec already checked, as an aware datetime."""
    if text is None:
        return None
    moment = datetime.fromisoformat(text.upper().replace("Z", "+00:00"))
    return moment.astimezone(UTC)


def list_log_sources() -> Response:
    return service.describe_sources(services().logs), 200, dict(JSON)


def list_log_errors(since: str | None = None, limit: int = 100, cursor: str | None = None) -> Response:
    page = service.recent_errors(services().logs, since=_moment(since), limit=limit, cursor=cursor)
    return page, 200, dict(JSON)


def list_log_entries(
    source: str,
    min_level: str | None = None,
    level: str | None = None,
    since: str | None = None,
    until: str | None = None,
    q: str | None = None,
    order: str = "newest",
    limit: int = 100,
    cursor: str | None = None,
) -> Response:
    filters = Filters(
        min_level=by_label(min_level) if min_level else None,
        level=by_label(level) if level else None,
        since=_moment(since),
        until=_moment(until),
        text=q,
    )
    page = service.list_entries(
        services().logs, source, filters, limit=limit, cursor=cursor, newest_first=order == "newest"
    )
    return page, 200, dict(JSON)


def get_log_stats(source: str, interval: str = "1h", since: str | None = None, until: str | None = None) -> Response:
    counts = service.level_counts(
        services().logs, source, interval=interval, since=_moment(since), until=_moment(until)
    )
    return counts, 200, dict(JSON)
