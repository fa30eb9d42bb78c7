"""Builds the Gateway service: the spec, the handlers it names, and the HTTP edges around them."""

from __future__ import annotations

import copy
import functools
import gc
import logging
import os
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from functools import partial
from pathlib import Path
from typing import Any

import yaml
from anyio import to_thread
from connexion import AsyncApp
from connexion.middleware.exceptions import ExceptionMiddleware
from connexion.middleware.lifespan import LifespanMiddleware
from connexion.middleware.response_validation import ResponseValidationMiddleware
from connexion.middleware.security import SecurityMiddleware
from connexion.middleware.server_error import ServerErrorMiddleware
from connexion.options import SwaggerUIOptions

from domain.passwords import Passwords
from loganalysis.index import Indexer
from loganalysis.service import LogCatalog
from settings import Settings
from storage.db import Database
from storage.ratecounters import Counters, counters_for
from web import problems
from web.crossorigin import CrossOrigin
from web.docs import SpecAsWrittenSwaggerUI
from web.edge import Edge
from web.head import HeadAsGet
from web.idempotency import Idempotency
from web.jsonbody import OrjsonJsonifier
from web.limits import BodyLimit
from web.logconfig import configure_logging
from web.metrics import MetricsSwitch
from web.operations import PreparedContext, PreparedRequestValidation, prepare_handlers
from web.ratelimit import RateLimit
from web.resolver import TagResolver
from web.routing import MethodFirstRouting, NoTrailingSlash, OnlySpecOperations
from web.securitymap import security_map
from web.services import Services
from web.threads import Placement, Workers
from web.validation import validator_map

SPEC_PATH = Path(__file__).resolve().parent / "spec" / "openapi.yaml"
HTTP_METHODS = frozenset({"get", "put", "post", "delete", "options", "head", "patch", "trace"})
# Headers a browser client must be allowed to send and to read.
CORS_REQUEST_HEADERS = ["Authorization", "Content-Type", "If-Match", "If-None-Match", "Idempotency-Key", "X-Request-ID"]
CORS_EXPOSED_HEADERS = [
    "ETag", "Location", "WWW-Authenticate", "Cache-Control", "Retry-After", "RateLimit", "RateLimit-Policy",
    "Idempotent-Replayed", "Deprecation", "Sunset", "Link", "X-Request-ID",
]  # fmt: skip
# Threads for the requests' blocking work and for Argon2 (web.threads: why so few). Together, and with the
# event loop's own brief reads of SQLite, they never want more connections than the database pool has.
REQUEST_THREADS = 8
PASSWORD_THREADS = 4
# Swagger UI shows each operationId (the method name in generated clients) and has "Try it out" on.
SWAGGER_UI_CONFIG = {"displayOperationId": True, "tryItOutEnabled": True, "docExpansion": "list"}


def _drop_content_type_nag(record: logging.LogRecord) -> bool:
    """Connexion warns on every request to an operation with two body types (POST /tokens takes JSON and
    a form), although it picks the request's own type: noise that would bury real warnings."""
    return not record.getMessage().startswith("this operation accepts multiple content types")


logging.getLogger("connexion.operations.openapi3").addFilter(_drop_content_type_nag)


@functools.cache
def _parsed_spec() -> dict[str, Any]:
    spec: dict[str, Any] = yaml.safe_load(SPEC_PATH.read_text(encoding="utf-8"))
    return spec


def load_spec() -> dict[str, Any]:
    """A private copy of the contract: Connexion annotates the dict it is given."""
    return parameters_in_operations(copy.deepcopy(_parsed_spec()))


def parameters_in_operations(spec: dict[str, Any]) -> dict[str, Any]:
    """Moves each path's shared parameters into its operations, as OpenAPI merges them (an operation's own
    parameter of the same name and location wins). Connexion appends a path's parameters to the operation's
    own list in place, once for each of its middlewares: an operation with parameters of its own would
    otherwise validate the path's six times on every request."""

    def key(parameter: dict[str, Any]) -> tuple[str, str]:
        if "$ref" in parameter:
            parameter = spec["components"]["parameters"][parameter["$ref"].rsplit("/", 1)[1]]
        return parameter["name"], parameter["in"]

    for path_item in spec["paths"].values():
        shared = path_item.pop("parameters", [])
        for method, operation in path_item.items():
            if method not in HTTP_METHODS:
                continue
            own = operation.get("parameters", [])
            taken = {key(parameter) for parameter in own}
            operation["parameters"] = own + [parameter for parameter in shared if key(parameter) not in taken]
    return spec


def middleware_stack(settings: Settings, spec: dict[str, Any], services: Services, counters: Counters) -> list[Any]:
    """Every layer a request passes through, outermost first: Connexion's own (routing, security,
    validation, the handler's context) with Gateway's between them."""
    limits = spec["info"]["x-gateway-limits"]
    rate_limits = [partial(RateLimit, spec=spec, counters=counters)] if settings.rate_limits else []
    # Connexion's response validation passes answers through untouched when it is off: then it is left out.
    response_validation = [ResponseValidationMiddleware] if settings.validate_responses else []
    return [
        ServerErrorMiddleware,
        # Outside the exception handling, so that they see every answer, problems included: the request's id,
        # the app's services, security and deprecation headers, metrics and the access line.
        partial(Edge, spec=spec, services=services, hsts=settings.environment == "production"),
        partial(
            CrossOrigin,  # Starlette's CORS, for requests with an Origin header
            allow_origins=list(settings.cors_origins),
            allow_methods=["GET", "POST", "PUT", "PATCH", "DELETE"],
            allow_headers=CORS_REQUEST_HEADERS,
            expose_headers=CORS_EXPOSED_HEADERS,
            max_age=600,
        ),
        ExceptionMiddleware,
        SpecAsWrittenSwaggerUI,  # the docs pages, over the spec as written
        partial(BodyLimit, max_bytes=limits["maxRequestBodyBytes"], max_seconds=limits["requestBodySeconds"]),
        NoTrailingSlash,
        MethodFirstRouting,  # Connexion's routing, trying only the routes of the request's method
        *rate_limits,
        OnlySpecOperations,
        HeadAsGet,
        partial(MetricsSwitch, enabled=bool(settings.metrics_token)),
        SecurityMiddleware,
        partial(Idempotency, spec=spec, db=services.db),  # knows the caller, sees the body before validation
        PreparedRequestValidation,  # Connexion's validation, its validators built once per operation
        *response_validation,
        LifespanMiddleware,
        PreparedContext,  # the operation handlers see, its answers worked out once
    ]


def placement_of_database_work(settings: Settings, db: Database, cores: int | None = None) -> Placement:
    """Where brief database work runs (web.threads.Placement). SQLite's own rule, or as GATEWAY_DATABASE_WORK
    says; by default, PostgreSQL's on the event loop once the worker processes take every core of the machine
    and the server runs on it too, so that its work takes those cores as well. A server elsewhere answers
    after a round trip of the network, which the loop must not wait out: threads."""
    if db.is_sqlite:
        return Placement.SQLITE
    if settings.database_work != "auto":
        return Placement(settings.database_work)
    cores = cores or os.cpu_count() or 1
    if db.on_this_machine and settings.worker_processes >= cores:
        return Placement.EVENT_LOOP
    return Placement.THREADS


def create_app(settings: Settings | None = None) -> AsyncApp:
    settings = settings or Settings.from_env()
    configure_logging(settings.log_format, settings.log_level)
    spec = load_spec()
    hashing = settings.password_hashing
    db = Database(settings.database_url)
    services = Services(
        settings=settings,
        db=db,
        passwords=Passwords(
            time_cost=hashing.time_cost, memory_kib=hashing.memory_kib, parallelism=hashing.parallelism
        ),
        logs=LogCatalog(settings.log_sources, db),
        # Brief database work may run on the event loop (web.threads), which then holds a connection too.
        workers=Workers(REQUEST_THREADS, placement=placement_of_database_work(settings, db), write_turn=db.writer_turn),
        hashing=Workers(PASSWORD_THREADS, name="gateway-hashing"),
    )

    indexer = Indexer(db, settings.log_sources, settings.log_index_seconds)
    counters = counters_for(settings.rate_limit_store, db)

    @asynccontextmanager
    async def lifespan(_app: Any) -> AsyncIterator[None]:
        # Gateway's blocking work runs in its own threads (web.threads); whatever runs in anyio's (40 by
        # default, such as the database's rate-limit counters) is held to the same bound.
        to_thread.current_default_thread_limiter().total_tokens = db.max_connections
        if settings.log_sources and settings.log_index_seconds > 0:
            indexer.start()
        # What exists now (the spec, routes, validators, pools) lives as long as the app. Frozen, it is out of
        # the collector's sight: a full collection stops walking it, which paused a worker for ~90 ms (the
        # tail of its latency). Thawed at shutdown, so that a process that builds many apps frees them. No
        # collection first: freezing is instant, a collection in a test process holding many apps is not.
        gc.freeze()
        yield
        gc.unfreeze()
        if indexer.thread.is_alive():
            indexer.stop()
        await counters.close()
        services.workers.shutdown()
        services.hashing.shutdown()
        services.db.dispose()

    app = AsyncApp(
        __name__,
        lifespan=lifespan,
        middlewares=middleware_stack(settings, spec, services, counters),
        jsonifier=OrjsonJsonifier(),
        strict_validation=True,
        validate_responses=settings.validate_responses,
        validator_map=validator_map,
        security_map=security_map,
        resolver=TagResolver(),
    )
    prepare_handlers(app)
    app.add_api(
        spec, swagger_ui_options=SwaggerUIOptions(swagger_ui=settings.docs, swagger_ui_config=SWAGGER_UI_CONFIG)
    )
    problems.install(app, spec)
    return app
