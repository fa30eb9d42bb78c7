"""Keyset paging with opaque cursors: a page starts after the last row of the previous one, so rows
inserted meanwhile never shift or repeat what a client has already seen."""

from __future__ import annotations

import base64
import binascii
import json
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Generic, TypeVar

from sqlalchemy import Select, tuple_
from sqlalchemy.orm import InstrumentedAttribute, Session

from domain.errors import InvalidInput

T = TypeVar("T")


@dataclass(frozen=True)
class Page(Generic[T]):
    items: list[T]
    next_cursor: str | None


def encode_cursor(created_at: datetime, row_id: str) -> str:
    raw = json.dumps([created_at.isoformat(), row_id], separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


def decode_cursor(cursor: str) -> tuple[datetime, str]:
    """A cursor is the client's to forge: only a moment the database can compare and a row id are let through."""
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        created_at, row_id = json.loads(raw)
        moment = datetime.fromisoformat(created_at)
        if moment.tzinfo is None:
            raise ValueError(created_at)
        return moment.astimezone(UTC), str(uuid.UUID(row_id))
    except (binascii.Error, ValueError, TypeError, AttributeError, UnicodeDecodeError, OverflowError):
        raise InvalidInput("The cursor is not one this service issued. Start again without a cursor.") from None


def fetch_page(
    session: Session,
    query: Select[Any],
    created_at: InstrumentedAttribute[datetime],
    row_id: InstrumentedAttribute[str],
    *,
    limit: int,
    cursor: str | None,
    newest_first: bool,
) -> Page[Any]:
    key = tuple_(created_at, row_id)
    if cursor is not None:
        after = decode_cursor(cursor)
        query = query.where(key < after if newest_first else key > after)
    order = (created_at.desc(), row_id.desc()) if newest_first else (created_at.asc(), row_id.asc())
    rows = list(session.scalars(query.order_by(*order).limit(limit + 1)))
    if len(rows) <= limit:
        return Page(rows, None)
    last = rows[limit - 1]
    return Page(rows[:limit], encode_cursor(getattr(last, created_at.key), getattr(last, row_id.key)))
