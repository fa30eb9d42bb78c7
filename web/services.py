"""The services of the app serving the current request, reachable from handlers and security functions."""

from __future__ import annotations

from contextvars import ContextVar
from dataclasses import dataclass

from starlette.types import ASGIApp, Receive, Scope, Send

from domain.passwords import Passwords
from loganalysis.service import LogCatalog
from settings import Settings
from storage.db import Database


@dataclass(frozen=True)
class Services:
    settings: Settings
    db: Database
    passwords: Passwords
    logs: LogCatalog


_current: ContextVar[Services] = ContextVar("gateway_services")


def current() -> Services:
    return _current.get()


class BindServices:
    """Outermost middleware: makes this app's services current for the request (and the threads it spawns,
    which copy the context), so that several apps can live in one process, as they do in tests."""

    def __init__(self, app: ASGIApp, services: Services) -> None:
        self.app = app
        self.services = services

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        token = _current.set(self.services)
        try:
            await self.app(scope, receive, send)
        finally:
            _current.reset(token)
