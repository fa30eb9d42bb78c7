"""Builds the Gateway service: the spec, the handlers it names, and the HTTP edges around them."""

from __future__ import annotations

import copy
import functools
import json
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import yaml
from connexion import FlaskApp
from connexion.jsonifier import Jsonifier
from connexion.middleware import ConnexionMiddleware, MiddlewarePosition
from connexion.middleware.swagger_ui import SwaggerUIMiddleware
from starlette.middleware.cors import CORSMiddleware

from domain.passwords import Passwords
from loganalysis.index import Indexer
from loganalysis.service import LogCatalog
from settings import Settings
from storage.db import Database
from web import problems
from web.docs import SpecAsWrittenSwaggerUI
from web.head import HeadAsGet
from web.limits import BodyLimit
from web.resolver import TagResolver
from web.routing import OnlySpecOperations
from web.services import BindServices, Services
from web.validation import validator_map

SPEC_PATH = Path(__file__).resolve().parent / "spec" / "openapi.yaml"
# Headers a browser client must be allowed to send and to read.
CORS_REQUEST_HEADERS = ["Authorization", "Content-Type", "If-Match", "If-None-Match"]
CORS_EXPOSED_HEADERS = ["ETag", "Location", "WWW-Authenticate", "Cache-Control"]


@functools.cache
def _parsed_spec() -> dict[str, Any]:
    spec: dict[str, Any] = yaml.safe_load(SPEC_PATH.read_text(encoding="utf-8"))
    return spec


def load_spec() -> dict[str, Any]:
    """A private copy of the contract: Connexion annotates the dict it is given."""
    return copy.deepcopy(_parsed_spec())


def create_app(settings: Settings | None = None) -> FlaskApp:
    settings = settings or Settings.from_env()
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
    )

    indexer = Indexer(db, settings.log_sources, settings.log_index_seconds)

    @asynccontextmanager
    async def lifespan(_app: Any) -> AsyncIterator[None]:
        if settings.log_sources and settings.log_index_seconds > 0:
            indexer.start()
        yield
        if indexer.thread.is_alive():
            indexer.stop()
        services.db.dispose()

    app = FlaskApp(
        __name__,
        lifespan=lifespan,
        middlewares=[
            SpecAsWrittenSwaggerUI if middleware is SwaggerUIMiddleware else middleware
            for middleware in ConnexionMiddleware.default_middlewares
        ],
        jsonifier=Jsonifier(json, separators=(",", ":"), ensure_ascii=False),
        strict_validation=True,
        validate_responses=settings.validate_responses,
        validator_map=validator_map,
        resolver=TagResolver(),
        server_args={"static_folder": None},
    )
    # Let exceptions leave Flask so that the one error path (web.problems) answers them.
    app.app.config["PROPAGATE_EXCEPTIONS"] = True
    app.add_api(spec)
    app.add_middleware(BindServices, position=MiddlewarePosition.BEFORE_EXCEPTION, services=services)
    app.add_middleware(
        CORSMiddleware,
        position=MiddlewarePosition.BEFORE_EXCEPTION,
        allow_origins=list(settings.cors_origins),
        allow_methods=["GET", "POST", "PUT", "PATCH", "DELETE"],
        allow_headers=CORS_REQUEST_HEADERS,
        expose_headers=CORS_EXPOSED_HEADERS,
        max_age=600,
    )
    app.add_middleware(
        BodyLimit,
        position=MiddlewarePosition.BEFORE_ROUTING,
        max_bytes=spec["info"]["x-gateway-limits"]["maxRequestBodyBytes"],
    )
    app.add_middleware(OnlySpecOperations, position=MiddlewarePosition.BEFORE_SECURITY)
    app.add_middleware(HeadAsGet, position=MiddlewarePosition.BEFORE_SECURITY)
    problems.install(app, spec)
    return app
