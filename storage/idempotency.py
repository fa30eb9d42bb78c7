"""Idempotency records: the first request with a key claims it, its answer is kept, retries get it back."""

from __future__ import annotations

import json
import time
from dataclasses import dataclass

from sqlalchemy import delete
from sqlalchemy.exc import IntegrityError

from storage.db import Database
from storage.models import IdempotencyRecord

# How long a key and its answer are kept, and how long a first request may run before a retry may take
# its key over (the first one's process died).
KEEP_SECONDS = 24 * 3600
ABANDONED_AFTER_SECONDS = 60


@dataclass(frozen=True)
class Stored:
    request_digest: str
    status: int | None
    headers: list[tuple[str, str]]
    body: str


@dataclass(frozen=True)
class Claimed:
    pass


def claim(db: Database, key: str, request_digest: str) -> Stored | Claimed:
    """Claim `key` for a first request, or return what an earlier request with it left."""
    now = time.time()
    try:
        with db.write() as session:
            record = session.get(IdempotencyRecord, key)
            abandoned = (
                record is not None
                and record.status is None
                and record.claimed_at(KEEP_SECONDS) + (ABANDONED_AFTER_SECONDS) <= now
            )
            if record is not None and (record.expires_at <= now or abandoned):
                session.delete(record)
                session.flush()
                record = None
            if record is not None:
                headers = [(name, value) for name, value in json.loads(record.headers or "[]")]
                return Stored(record.request_digest, record.status, headers, record.body or "")
            session.add(IdempotencyRecord(key=key, request_digest=request_digest, expires_at=now + KEEP_SECONDS))
    except IntegrityError:
        # Another first request with this key claimed it a moment ago, and is still running.
        return Stored(request_digest, None, [], "")
    return Claimed()


def complete(db: Database, key: str, status: int, headers: list[tuple[str, str]], body: str) -> None:
    with db.write() as session:
        record = session.get(IdempotencyRecord, key)
        if record is not None:
            record.status, record.headers, record.body = status, json.dumps(headers), body


def release(db: Database, key: str) -> None:
    """The first request failed: its retry runs again instead of replaying an error."""
    with db.write() as session:
        session.execute(delete(IdempotencyRecord).where(IdempotencyRecord.key == key))
