"""A fresh database (a SQLite file, or a PostgreSQL database made for the run) in Gateway's current schema,
with one user, a token that may write posts and a few hundred posts to read, all made through the domain
layer so every stack finds the same rows."""

from __future__ import annotations

import secrets
from dataclasses import dataclass

from sqlalchemy import func, select

from domain import posts, tokens, users
from domain.access import POSTS_WRITE, Actor
from domain.passwords import Passwords
from storage.db import Database
from storage.migrate import upgrade
from storage.models import PostRow

TOKEN_SECONDS = 24 * 3600  # outlives any run


@dataclass(frozen=True)
class Dataset:
    database_url: str
    token: str  # the bearer secret, with posts:write
    post_id: str  # the post every `get` reads
    seeded: int


def prepare(database_url: str, count: int) -> Dataset:
    upgrade(database_url)  # what `manage.py migrate` does
    db = Database(database_url)
    try:
        # Nobody signs in during the benchmark: the cheapest Argon2 cost will do for the one account.
        passwords = Passwords(time_cost=1, memory_kib=8, parallelism=1)
        user = users.create(
            db, passwords, name="Benchmark", email="benchmark@example.com", password=secrets.token_urlsafe(16)
        )
        issued = tokens.issue(
            db, user.id, is_admin=False, name="benchmark", scopes=[POSTS_WRITE], expires_in=TOKEN_SECONDS
        )
        author = Actor(user.id, frozenset({POSTS_WRITE}), is_admin=False)
        ids = [
            posts.create(db, author, title=f"Seeded post {n}", body=f"Body of seeded post {n}. " * 8)["id"]
            for n in range(count)
        ]
    finally:
        db.dispose()
    return Dataset(database_url, str(issued["access_token"]), ids[len(ids) // 2], count)


def count_posts(database_url: str) -> int:
    """How many posts there are now: the creates of the runs add to the seeded ones."""
    db = Database(database_url)
    try:
        with db.read() as session:
            return session.scalar(select(func.count()).select_from(PostRow)) or 0
    finally:
        db.dispose()
