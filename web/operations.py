"""Connexion's AsyncApp, with each handler wrapped once instead of on every request.

Connexion's AsyncOperation builds its decorators (parameter binding, response conversion, the hop to a
thread for a plain function) anew on each call, inspecting the handler's signature every time. Nothing
in them depends on the request: the request and the operation are read from Connexion's context when
the wrapper runs. So the wrapper is built once per operation."""

from __future__ import annotations

import functools
import typing as t

from connexion.apps.asynchronous import AsyncApi, AsyncApp, AsyncOperation
from connexion.context import receive, scope
from connexion.decorators import StarletteDecorator
from connexion.operations import AbstractOperation


class DecoratingOnce(StarletteDecorator):
    def __call__(self, function: t.Callable[..., t.Any]) -> t.Callable[..., t.Any]:
        decorated = self.decorate(function)

        @functools.wraps(function)
        async def wrapper(*_args: t.Any, **_kwargs: t.Any) -> t.Any:
            request = self.framework.get_request(uri_parser=self.uri_parser, scope=scope, receive=receive)
            return await decorated(request)

        return wrapper


class DecoratedOnceOperation(AsyncOperation):
    @functools.cached_property
    def fn(self) -> t.Callable[..., t.Any]:
        return DecoratingOnce(pythonic_params=self.pythonic_params, jsonifier=self.jsonifier)(self._fn)


class DecoratedOnceApi(AsyncApi):
    def make_operation(self, operation: AbstractOperation) -> AsyncOperation:
        return DecoratedOnceOperation.from_operation(
            operation, pythonic_params=self.pythonic_params, jsonifier=self.jsonifier
        )


def decorate_handlers_once(app: AsyncApp) -> None:
    """Before add_api: the APIs the app builds from then on are DecoratedOnceApi."""
    app._middleware_app.api_cls = DecoratedOnceApi
