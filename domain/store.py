"""Translating what the database refuses into domain errors, in one place."""

from __future__ import annotations

import sqlite3
import uuid
from functools import cache
from typing import cast

from sqlalchemy import Insert, Table
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import DeclarativeBase, Session
from sqlalchemy.orm.exc import StaleDataError

from domain.errors import Conflict, NotFound, PreconditionFailed
from storage.db import Database

FOREIGN_KEY_VIOLATION = "23503"  # PostgreSQL's SQLSTATE for a reference to a row that does not exist


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


def insert(db: Database, row: DeclarativeBase, *, conflict: str, missing: str) -> None:
    """Writes a new row with one INSERT, a transaction of its own (`Database.write_statement`), without a
    session and its unit of work (two fifths of a created post's time in the transaction, where SQLite's
    writers wait their turn). A row it refers to that does not exist (its foreign key) is `missing`
    (NotFound), checked by the database in the same statement; any other refusal is a `conflict`. The row
    object is in no session: the caller answers with it as it is, every column set (a version column starts
    at 1)."""
    table = cast(Table, row.__table__)
    try:
        db.write_statement(_insert_into(table), {column.key: getattr(row, column.key) for column in table.columns})
    except IntegrityError as refusal:
        if _refers_to_a_missing_row(refusal):
            raise NotFound(missing) from None
        raise Conflict(conflict) from None


@cache
def _insert_into(table: Table) -> Insert:
    """One INSERT statement per table, built once."""
    return table.insert()


def _refers_to_a_missing_row(refusal: IntegrityError) -> bool:
    """A foreign key that points at no row: SQLite's extended result code, PostgreSQL's SQLSTATE."""
    driver_error = refusal.orig
    return (
        getattr(driver_error, "sqlite_errorcode", None) == sqlite3.SQLITE_CONSTRAINT_FOREIGNKEY
        or getattr(driver_error, "sqlstate", None) == FOREIGN_KEY_VIOLATION
    )
