"""Connexion's per-operation machinery, built once per operation at start instead of on every request.

Connexion rebuilds, on each call, things that depend on the operation alone: request validation makes a
URI parser, a parameter validator and a body validator (looking the body's schema up through a media-type
dict every time), and AsyncOperation builds its decorators (parameter binding, response conversion, the hop
to a thread for a plain function), inspecting the handler's signature. Here each is made once, through
the classes Connexion lets an app replace: its middleware list and its API class."""

from __future__ import annotations

import functools
import typing as t

from connexion.apps.asynchronous import AsyncApi, AsyncApp, AsyncOperation
from connexion.context import receive, scope
from connexion.decorators import StarletteDecorator
from connexion.middleware.request_validation import (
    RequestValidationAPI,
    RequestValidationMiddleware,
    RequestValidationOperation,
)
from connexion.operations import AbstractOperation
from connexion.utils import is_nullable
from starlette.types import ASGIApp, Receive, Scope, Send

# Body validators kept per operation, by media type and charset as the client names them: a client can
# name any number, so only the first few are kept (the spec's own; others are refused or rare).
MAX_BODY_VALIDATORS = 8


class PreparedValidationOperation(RequestValidationOperation):
    def __init__(self, next_app: ASGIApp, *, operation: AbstractOperation, **options: t.Any) -> None:
        super().__init__(next_app, operation=operation, **options)
        self._uri_parser = operation.uri_parser_class(operation.parameters, operation.body_definition())
        self._parameters = self._validator_map["parameter"](
            operation.parameters,
            uri_parser=self._uri_parser,
            strict_validation=self.strict_validation,
            security_query_params=self.security_query_params,
        )
        self._bodies: dict[tuple[str, str], t.Any] = {}

    def _body_validator(self, mime_type: str, encoding: str) -> t.Any:
        """The validator for a body of this media type and charset; None when there is nothing to check."""
        key = (mime_type, encoding)
        if key in self._bodies:
            return self._bodies[key]
        operation = self._operation
        validator = None
        schema = operation.body_schema(mime_type)
        validator_cls = self._validator_map["body"].get(mime_type) if schema else None
        if validator_cls is not None:
            validator = validator_cls(
                schema=schema,
                required=operation.request_body.get("required", False),
                nullable=is_nullable(operation.body_definition(mime_type)),
                encoding=encoding,
                strict_validation=self.strict_validation,
                uri_parser=self._uri_parser,
            )
        if len(self._bodies) < MAX_BODY_VALIDATORS:
            self._bodies[key] = validator
        return validator

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        self._parameters.validate(scope)
        mime_type, encoding = self.extract_content_type(scope["headers"])
        self.validate_mime_type(mime_type)
        validator = self._body_validator(mime_type, encoding)
        if validator is not None:
            receive, scope = await validator.wrap_receive(receive, scope=scope)
        await self.next_app(scope, receive, send)


class PreparedValidationAPI(RequestValidationAPI):
    def make_operation(self, operation: AbstractOperation) -> RequestValidationOperation:
        return PreparedValidationOperation(
            self.next_app, operation=operation, strict_validation=self.strict_validation,
            validator_map=self.validator_map,
        )  # fmt: skip


class PreparedRequestValidation(RequestValidationMiddleware):
    """Takes the place of Connexion's RequestValidationMiddleware in the app's middleware list."""

    api_cls = PreparedValidationAPI


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
