"""Who is calling, and what they may touch."""

from __future__ import annotations

from dataclasses import dataclass

from domain.errors import Forbidden

USERS_WRITE = "users:write"
POSTS_WRITE = "posts:write"
LOGS_READ = "logs:read"
ADMIN = "admin"
ALL_SCOPES = (USERS_WRITE, POSTS_WRITE, LOGS_READ, ADMIN)
DEFAULT_SCOPES = (USERS_WRITE, POSTS_WRITE)
ADMIN_ONLY_SCOPES = frozenset({ADMIN, LOGS_READ})


@dataclass(frozen=True)
class Actor:
    """The caller behind a bearer token."""

    user_id: str
    scopes: frozenset[str]
    is_admin: bool

    @property
    def acts_as_admin(self) -> bool:
        """An administrator's powers need both the account flag and a token granted `admin`."""
        return self.is_admin and ADMIN in self.scopes


def sees_private_fields(viewer: Actor | None, owner_id: str) -> bool:
    return viewer is not None and (viewer.user_id == owner_id or viewer.acts_as_admin)


def require_owner_or_admin(actor: Actor, owner_id: str, what: str) -> None:
    if actor.user_id != owner_id and not actor.acts_as_admin:
        raise Forbidden(f"Only the owner of this {what} or an administrator may change it.")
