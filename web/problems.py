"""Every error leaves as application/problem+json (RFC 9457), from this one module."""

from __future__ import annotations

import logging
import re
from collections.abc import Mapping
from typing import Any, NamedTuple

from connexion import AsyncApp
from connexion.exceptions import ProblemException, Unauthorized
from connexion.lifecycle import ConnexionRequest, ConnexionResponse
from connexion.problem import problem as connexion_problem
from sqlalchemy.exc import InterfaceError, OperationalError
from sqlalchemy.exc import TimeoutError as PoolTimeout

from domain import errors
from web import requestid

log = logging.getLogger("gateway.errors")

STATUS = {
    errors.InvalidInput: 400,
    errors.NotAuthenticated: 401,
    errors.Forbidden: 403,
    errors.NotFound: 404,
    errors.Conflict: 409,
    errors.PreconditionFailed: 412,
    errors.Unavailable: 503,
}
# What a client should wait before retrying when the database is away or busy.
RETRY_AFTER_SECONDS = 5
# The database cannot be reached, refused the connection, or stayed locked past the busy timeout.
DATABASE_UNAVAILABLE = (OperationalError, InterfaceError, PoolTimeout)
REALM = 'realm="gateway"'
# Details name what is wrong; they never echo a whole request back.
MAX_DETAIL = 500


def problem(
    status: int, title: str, detail: str | None, type: str | None = None, headers: Mapping[str, str] | None = None
) -> ConnexionResponse:
    """A problem+json answer carrying the request's id, the one a client quotes when reporting it."""
    request_id = requestid.current()
    extension = {"request_id": request_id} if request_id is not None else None
    return connexion_problem(status, title, detail, type, headers=headers, ext=extension)


class Route(NamedTuple):
    path: re.Pattern[str]
    operations: dict[str, dict[str, Any]]  # upper-case method -> the operation in the spec


def routes_from_spec(spec: Mapping[str, Any]) -> list[Route]:
    base = spec["servers"][0]["url"].rstrip("/")
    routes = []
    for template, path_item in spec["paths"].items():
        pattern = re.sub(r"\\\{[^}]+\\\}", "[^/]+", re.escape(template))
        operations = {method.upper(): op for method, op in path_item.items() if method != "parameters"}
        routes.append(Route(re.compile(re.escape(base) + pattern), operations))
    return routes


def install(app: AsyncApp, spec: Mapping[str, Any]) -> None:
    routes = routes_from_spec(spec)
    schemes = spec["components"]["securitySchemes"]
    default_security = spec.get("security", [])

    def route_of(request: ConnexionRequest) -> Route | None:
        return next((route for route in routes if route.path.fullmatch(request.url.path)), None)

    def challenge(request: ConnexionRequest) -> dict[str, str]:
        """WWW-Authenticate names the schemes the spec gives the operation: Basic or Bearer."""
        route = route_of(request)
        operation = route.operations.get(request.method, {}) if route else {}
        kinds = [
            "Basic" if schemes[name].get("scheme") == "basic" else "Bearer"
            for requirement in operation.get("security", default_security)
            for name in requirement
        ]
        return {"WWW-Authenticate": ", ".join(f"{kind} {REALM}" for kind in dict.fromkeys(kinds or ["Bearer"]))}

    async def method_not_allowed(request: ConnexionRequest, error: Exception) -> ConnexionResponse:
        route = route_of(request)
        methods = list(route.operations) if route else []
        if "GET" in methods:
            methods.append("HEAD")
        detail = f"{request.method} is not allowed here. Allowed: {', '.join(methods)}."
        return problem(405, "Method Not Allowed", detail, headers={"Allow": ", ".join(methods)})

    async def domain_error(request: ConnexionRequest, error: Exception) -> ConnexionResponse:
        assert isinstance(error, errors.GatewayError)
        status = STATUS.get(type(error), 400)
        headers = challenge(request) if status == 401 else None
        if status == 503:
            headers = {"Retry-After": str(RETRY_AFTER_SECONDS)}
        return problem(status, error.title, error.detail, headers=headers)

    async def database_unavailable(request: ConnexionRequest, error: Exception) -> ConnexionResponse:
        # The driver's own words name the cause (refused, timed out, locked); never the statement.
        cause = str(getattr(error, "orig", None) or type(error).__name__).strip().splitlines()[0][:200]
        log.warning("database unavailable in %s %s: %s", request.method, request.url.path, cause)
        detail = "The database cannot be reached or is busy. Nothing was changed; retry shortly."
        return problem(503, "Service Unavailable", detail, headers={"Retry-After": str(RETRY_AFTER_SECONDS)})

    async def client_problem(request: ConnexionRequest, error: Exception) -> ConnexionResponse:
        assert isinstance(error, ProblemException)
        detail = error.detail if len(error.detail or "") <= MAX_DETAIL else error.detail[:MAX_DETAIL] + "..."
        return problem(error.status, error.title, detail, error.type, headers=error.headers)

    async def unauthorized(request: ConnexionRequest, error: Exception) -> ConnexionResponse:
        assert isinstance(error, Unauthorized)
        return problem(401, "Unauthorized", error.detail, headers=challenge(request))

    async def unexpected(request: ConnexionRequest, error: Exception) -> ConnexionResponse:
        log.error("unhandled error in %s %s", request.method, request.url.path, exc_info=error)
        return problem(500, "Internal Server Error", "The server failed unexpectedly. Nothing was changed.")

    app.add_error_handler(errors.GatewayError, domain_error)
    for unavailable in DATABASE_UNAVAILABLE:
        app.add_error_handler(unavailable, database_unavailable)
    app.add_error_handler(ProblemException, client_problem)
    app.add_error_handler(Unauthorized, unauthorized)
    app.add_error_handler(405, method_not_allowed)
    app.add_error_handler(Exception, unexpected)
