"""Keyset paging with opaque cursors: a page starts after the last row of the previous one, so rows
inserted meanwhile never shift or repeat what a client has already seen."""

from __future__ import annotations

import base64
import binascii
import json
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Generic, TypeVar

from sqlalchemy import Integer, Select, bindparam, tuple_
from sqlalchemy.sql.elements import KeyedColumnElement

from domain.errors import InvalidInput
from storage.driver import DriverConnection

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


class PageQuery:
    """A keyset-paged query of a table's rows, its two statements (the first page, and a page after a cursor)
    built once. Built anew for each request, inside an ORM session, they were more than a quarter of the
    instructions of a page of posts (4.69 M, 3.35 M now). The query's own parameters (an author, say) are
    bound when it runs, like the page's size and cursor."""

    def __init__(
        self,
        query: Select[Any],
        created_at: KeyedColumnElement[Any],
        row_id: KeyedColumnElement[Any],
        *,
        newest_first: bool,
    ) -> None:
        key = tuple_(created_at, row_id)
        after = tuple_(bindparam("after_created_at", type_=created_at.type), bindparam("after_id", type_=row_id.type))
        order = (created_at.desc(), row_id.desc()) if newest_first else (created_at.asc(), row_id.asc())
        size = bindparam("page_size", type_=Integer)
        self.first = query.order_by(*order).limit(size)
        self.following = query.where(key < after if newest_first else key > after).order_by(*order).limit(size)
        self.created_at, self.row_id = created_at.key, row_id.key

    def fetch(
        self, connection: DriverConnection, *, limit: int, cursor: str | None, params: Mapping[str, Any] | None = None
    ) -> Page[Any]:
        values = {**(params or {}), "page_size": limit + 1}
        statement = self.first
        if cursor is not None:
            values["after_created_at"], values["after_id"] = decode_cursor(cursor)
            statement = self.following
        rows = list(connection.execute(statement, values))
        if len(rows) <= limit:
            return Page(rows, None)
        last = rows[limit - 1]
        return Page(rows[:limit], encode_cursor(getattr(last, self.created_at), getattr(last, self.row_id)))
