"""The services of the app serving the current request, reachable from handlers and security functions."""

from __future__ import annotations

from contextvars import ContextVar, Token
from dataclasses import dataclass

from domain.passwords import Passwords
from loganalysis.service import LogCatalog
from settings import Settings
from storage.db import Database
from web.threads import Workers


@dataclass(frozen=True)
class Services:
    settings: Settings
    db: Database
    passwords: Passwords
    logs: LogCatalog
    workers: Workers  # the threads that run the requests' blocking work
    hashing: Workers  # the threads that hash and verify passwords (web.threads)


_current: ContextVar[Services] = ContextVar("gateway_services")


def current() -> Services:
    return _current.get()


def enter(services: Services) -> Token[Services]:
    """The app serving the request from now on (web.edge), for it and the threads it spawns, which copy the
    context: several apps can live in one process, as they do in tests. `leave` with the token after."""
    return _current.set(services)


def leave(token: Token[Services]) -> None:
    _current.reset(token)
