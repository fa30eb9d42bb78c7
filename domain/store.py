"""Translating what the database refuses into domain errors, in one place."""

from __future__ import annotations

import uuid

from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session
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
