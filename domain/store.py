"""Translating what the database refuses into domain errors, in one place."""

from __future__ import annotations

import uuid
from typing import cast

from sqlalchemy import Table
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import DeclarativeBase, Session
from sqlalchemy.orm.exc import StaleDataError

from domain.errors import Conflict, PreconditionFailed


def new_id() -> str:
    """Random, so ids reveal nothing about how many rows exist and are never reused."""
    return str(uuid.uuid4())


def flush(session: Session, *, conflict: str) -> None:
    try:
        session.flush()
    except IntegrityError:
        raise Conflict(conflict) from None
    except StaleDataError:
        # Another request changed the row between our read and our write.
        raise PreconditionFailed("The resource was changed by another request. Read it again and retry.") from None


def insert(session: Session, row: DeclarativeBase, *, conflict: str) -> None:
    """Writes a new row with one INSERT, without the session's unit of work (two fifths of a created
    post's time in the transaction, where SQLite's writers wait their turn). The row object stays out of
    the session: the caller answers with it as it is, every column set (a version column starts at 1)."""
    table = cast(Table, row.__table__)
    try:
        session.connection().execute(table.insert(), {column.key: getattr(row, column.key) for column in table.columns})
    except IntegrityError:
        raise Conflict(conflict) from None
