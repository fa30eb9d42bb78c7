"""Fixed-window request counters that every worker and host shares: in the database (the default) or
in Redis. One round trip per key: the count and the window's end come back with the increment.

(The `limits` library's storage API needs three calls for the same answer: hit, then window stats.)"""

from __future__ import annotations

import time
from typing import Protocol

import redis.asyncio as aioredis
from anyio import to_thread
from sqlalchemy import delete, text

from storage.db import Database
from storage.models import RateCounter

# The increment and the new window in one statement: SQLite 3.35+ and PostgreSQL share this syntax.
_HIT = text(
    """
    INSERT INTO rate_counters (key, count, resets_at) VALUES (:key, 1, :resets_at)
    ON CONFLICT (key) DO UPDATE SET
        count = CASE WHEN rate_counters.resets_at <= :now THEN 1 ELSE rate_counters.count + 1 END,
        resets_at = CASE WHEN rate_counters.resets_at <= :now THEN :resets_at ELSE rate_counters.resets_at END
    RETURNING count, resets_at
    """
)
# Expired windows are swept now and then, not on every request.
SWEEP_EVERY = 1000


class Counters(Protocol):
    async def hit(self, key: str, window_seconds: int) -> tuple[int, float]:
        """Count one request; return the count so far in this window and when the window ends (epoch s)."""
        ...

    async def close(self) -> None: ...


class DatabaseCounters:
    def __init__(self, db: Database) -> None:
        self.db = db
        self._hits = 0

    def _hit(self, key: str, window_seconds: int) -> tuple[int, float]:
        now = time.time()
        with self.db.write() as session:  # on SQLite, in turn with the process's other writers
            count, resets_at = session.execute(_HIT, {"key": key, "now": now, "resets_at": now + window_seconds}).one()
            self._hits += 1
            if self._hits % SWEEP_EVERY == 0:
                session.execute(delete(RateCounter).where(RateCounter.resets_at <= now))
        return int(count), float(resets_at)

    async def hit(self, key: str, window_seconds: int) -> tuple[int, float]:
        return await to_thread.run_sync(self._hit, key, window_seconds)

    async def close(self) -> None:
        return None


class RedisCounters:
    def __init__(self, url: str) -> None:
        self.client = aioredis.Redis.from_url(url, socket_timeout=1.0, socket_connect_timeout=1.0)

    async def hit(self, key: str, window_seconds: int) -> tuple[int, float]:
        name = f"gateway:rate:{key}"
        async with self.client.pipeline(transaction=True) as pipe:
            pipe.incr(name)
            pipe.expire(name, window_seconds, nx=True)
            pipe.pttl(name)
            count, _, ttl_ms = await pipe.execute()
        return int(count), time.time() + max(int(ttl_ms), 0) / 1000

    async def close(self) -> None:
        await self.client.aclose()


def counters_for(store: str, db: Database) -> Counters:
    """`database` or a redis:// URL, as GATEWAY_RATE_LIMIT_STORE says."""
    if store == "database":
        return DatabaseCounters(db)
    return RedisCounters(store)
