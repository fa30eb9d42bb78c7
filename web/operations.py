"""Connexion's per-operation machinery, built once per operation at start instead of on every request.

Connexion rebuilds, on each call, things that depend on the operation alone. Request validation makes a
URI parser, a parameter validator and a body validator. The handler's operation builds its decorators
(parameter binding, response conversion, the hop to a thread for a plain function), inspecting the
handler's signature, and they ask the operation, through context-variable proxies, for its body schema
(looked up through a media-type dict each time) and its media types. Here each is made or answered once,
through the classes Connexion lets an app choose: its middleware list and its API class."""

from __future__ import annotations

import asyncio
import functools
import operator
import typing as t

from connexion.apps.asynchronous import AsyncApi, AsyncApp, AsyncOperation
from connexion.decorators import StarletteDecorator
from connexion.decorators.parameter import (
    CONTEXT_NAME,
    AsyncParameterDecorator,
    get_arguments,
    inspect_function_arguments,
    unwrap_decorators,
)
from connexion.decorators.response import AsyncResponseDecorator
from connexion.exceptions import NonConformingResponseHeaders
from connexion.http_facts import FORM_CONTENT_TYPES
from connexion.lifecycle import ConnexionRequest
from connexion.middleware.abstract import RoutedAPI
from connexion.middleware.context import ContextAPI, ContextMiddleware
from connexion.middleware.request_validation import (
    RequestValidationAPI,
    RequestValidationMiddleware,
    RequestValidationOperation,
)
from connexion.operations import AbstractOperation, OpenAPIOperation
from connexion.utils import is_nullable, split_content_type
from starlette.types import ASGIApp, Receive, Scope, Send

from web import services as serving
from web.threads import is_brief_read, is_brief_write, is_password_work

# Answers kept per operation, by media type and charset as the client names them: a client can name any
# number, so only the first few are kept (the spec's own; others are refused or rare).
MAX_KEPT_PER_OPERATION = 8


def content_type_of(headers: t.Iterable[tuple[t.Any, t.Any]]) -> str | None:
    """The Content-Type among a request's ASGI headers or a handler's, as Connexion's extract_content_type
    finds it (the first, by a case-insensitive name), without its work of typing on every call."""
    for name, value in headers:
        text = name.decode("latin-1") if isinstance(name, bytes) else name
        if text.lower() == "content-type":
            return value.decode("latin-1") if isinstance(value, bytes) else str(value)
    return None


class PreparedOperation(OpenAPIOperation):
    """An operation that works out the definition of its body once per media type."""

    def body_definition(self, content_type: str | None = None) -> dict[str, t.Any]:
        kept: dict[str | None, dict[str, t.Any]] = self.__dict__.setdefault("_body_definitions", {})
        definition = kept.get(content_type)
        if definition is None:
            definition = super().body_definition(content_type)
            if len(kept) < MAX_KEPT_PER_OPERATION:
                kept[content_type] = definition
        return definition


def add_prepared_operation(api: RoutedAPI[t.Any], path: str, method: str) -> None:
    """RoutedAPI.add_operation, with a PreparedOperation (Connexion's names the specification's class)."""
    operation = PreparedOperation.from_spec(
        api.specification, path=path, method=method, resolver=api.resolver, uri_parser_class=api.uri_parser_class
    )
    api.operations[operation.operation_id] = api.make_operation(operation)


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
        self._accepted: set[str] = set()  # media types found among the operation's, by Connexion's rules

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
        if len(self._bodies) < MAX_KEPT_PER_OPERATION:
            self._bodies[key] = validator
        return validator

    def extract_content_type(self, headers: list[tuple[bytes, bytes]]) -> tuple[str, str]:
        mime_type, encoding = split_content_type(content_type_of(headers))
        if mime_type is None:  # a request without a body: Connexion's own guess
            mime_type = self._operation.consumes[0] if self._operation.consumes else "application/octet-stream"
        return mime_type, "utf-8" if encoding is None else encoding

    def validate_mime_type(self, mime_type: str) -> None:
        """Connexion's check, which sorts the operation's media types on every call, made once per type."""
        if mime_type in self._accepted:
            return
        super().validate_mime_type(mime_type)  # refuses a type the operation does not take
        if len(self._accepted) < MAX_KEPT_PER_OPERATION:
            self._accepted.add(mime_type)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        self._parameters.validate(scope)
        mime_type, encoding = self.extract_content_type(scope["headers"])
        self.validate_mime_type(mime_type)
        validator = self._body_validator(mime_type, encoding)
        if validator is not None:
            receive, scope = await validator.wrap_receive(receive, scope=scope)
        await self.next_app(scope, receive, send)


class PreparedValidationAPI(RequestValidationAPI):
    add_operation = add_prepared_operation

    def make_operation(self, operation: AbstractOperation) -> RequestValidationOperation:
        return PreparedValidationOperation(
            self.next_app, operation=operation, strict_validation=self.strict_validation,
            validator_map=self.validator_map,
        )  # fmt: skip


class PreparedRequestValidation(RequestValidationMiddleware):
    """Takes the place of Connexion's RequestValidationMiddleware in the app's middleware list."""

    api_cls = PreparedValidationAPI


class PreparedContextAPI(ContextAPI):
    add_operation = add_prepared_operation


class PreparedContext(ContextMiddleware):
    """Connexion's ContextMiddleware, making the operation that handlers and security see a prepared one."""

    api_cls = PreparedContextAPI


class BoundParameters(AsyncParameterDecorator):
    """Connexion's parameter binding for one operation: what the handler takes is read from its signature
    once, and the operation is asked directly instead of through the context's proxy."""

    def __init__(self, operation: AbstractOperation, **options: t.Any) -> None:
        super().__init__(**options)
        self.operation = operation
        self.sanitize: t.Callable[[str], str] = functools.lru_cache(maxsize=1024)(self.sanitize_fn)  # spec's names

    def __call__(self, function: t.Callable[..., t.Any]) -> t.Callable[..., t.Any]:
        operation = self.operation
        sanitize = self.sanitize
        arguments, has_kwargs = inspect_function_arguments(unwrap_decorators(function))
        takes_body = has_kwargs or sanitize(operation.body_name(None)) in arguments
        takes_form = any(media_type in FORM_CONTENT_TYPES for media_type in operation.consumes)

        @functools.wraps(function)
        async def wrapper(request: ConnexionRequest) -> t.Any:
            body = await request.get_body() if takes_body else None
            # Without a query string there is nothing to parse: the defaults come from the spec either way.
            query_params = request.query_params if request.scope.get("query_string") else {}
            bound = get_arguments(
                operation, path_params=request.path_params, query_params=query_params, body=body,
                files=await request.files() if takes_form else {}, arguments=arguments, has_kwargs=has_kwargs,
                sanitize=sanitize, content_type=request.mimetype,
            )  # fmt: skip
            kwargs = {sanitize(name): value for name, value in bound.items()}
            context = request.context  # what security found: the user, token_info
            kwargs.update((key, value) for key, value in context.items() if has_kwargs or key in arguments)
            if CONTEXT_NAME in arguments:
                kwargs[CONTEXT_NAME] = context
            return await function(**kwargs)

        return wrapper


class BoundResponse(AsyncResponseDecorator):
    """Connexion's response conversion for one operation, which knows the media types it may answer with."""

    def __init__(self, operation: AbstractOperation, **options: t.Any) -> None:
        super().__init__(**options)
        self.produces = sorted(set(operation.produces))

    def _infer_content_type(self, data: t.Any, headers: dict[str, str]) -> str | None:
        content_type = content_type_of(headers.items())
        if content_type is None and len(self.produces) > 1:  # Connexion picks by the type of the data
            choice: str | None = super()._infer_content_type(data, headers)
            return choice
        produces = self.produces or (["application/json"] if data is not None else [])
        if content_type and content_type not in produces:
            raise NonConformingResponseHeaders(
                f"Returned content type ({content_type}) is not defined in operation spec ({produces})."
            )
        return content_type or (produces[0] if produces else None)


class PreparedDecorator(StarletteDecorator):
    def __init__(self, operation: AbstractOperation, **options: t.Any) -> None:
        super().__init__(**options)
        self.operation = operation

    @property
    def _sync_async_decorator(self) -> t.Callable[[t.Callable[..., t.Any]], t.Callable[..., t.Any]]:
        """A plain handler runs in the app's worker threads (web.threads), as Connexion runs it in anyio's; one
        marked as a brief read or a brief write of the database runs where the app's placement puts it
        (`Workers.run_brief`, `Workers.run_brief_write`), and one marked as password work in the threads kept
        for Argon2."""

        def decorator(function: t.Callable[..., t.Any]) -> t.Callable[..., t.Any]:
            if asyncio.iscoroutinefunction(function):
                return function
            if is_brief_read(function):
                runner = operator.attrgetter("workers.run_brief")
            elif is_brief_write(function):
                runner = operator.attrgetter("workers.run_brief_write")
            elif is_password_work(function):
                runner = operator.attrgetter("hashing.run")
            else:
                runner = operator.attrgetter("workers.run")

            @functools.wraps(function)
            async def in_a_thread(*args: t.Any, **kwargs: t.Any) -> t.Any:
                return await runner(serving.current())(functools.partial(function, *args, **kwargs))

            return in_a_thread

        return decorator

    def decorate(self, function: t.Callable[..., t.Any]) -> t.Callable[..., t.Any]:
        function = self._sync_async_decorator(function)
        function = BoundParameters(self.operation, framework=self.framework, pythonic_params=self.pythonic_params)(
            function
        )
        decorated: t.Callable[..., t.Any] = BoundResponse(
            self.operation, framework=self.framework, jsonifier=self.jsonifier
        )(function)
        return decorated


class PreparedHandler(AsyncOperation):
    """The handler of one operation, its decorators built once, called with the request's own scope."""

    def __init__(self, operation: AbstractOperation, **options: t.Any) -> None:
        super().__init__(operation.function, operation_id=operation.operation_id, **options)
        self._uri_parser = operation.uri_parser_class(operation.parameters, operation.body_definition())
        decorator = PreparedDecorator(operation, pythonic_params=self.pythonic_params, jsonifier=self.jsonifier)
        self._decorated = decorator.decorate(self._fn)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        response = await self._decorated(ConnexionRequest(scope, receive, uri_parser=self._uri_parser))
        await response(scope, receive, send)


class PreparedHandlerApi(AsyncApi):
    add_operation = add_prepared_operation

    def make_operation(self, operation: AbstractOperation) -> AsyncOperation:
        return PreparedHandler(operation, pythonic_params=self.pythonic_params, jsonifier=self.jsonifier)


def prepare_handlers(app: AsyncApp) -> None:
    """Before add_api: the APIs the app builds from then on are PreparedHandlerApi."""
    app._middleware_app.api_cls = PreparedHandlerApi
