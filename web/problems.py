"""Every error leaves as application/problem+json (RFC 9457), from this one module."""

from __future__ import annotations

import logging
from collections.abc import Mapping

from connexion import FlaskApp
from connexion.exceptions import Unauthorized
from connexion.lifecycle import ConnexionRequest, ConnexionResponse
from connexion.problem import problem

from domain import errors

log = logging.getLogger("gateway.errors")

STATUS = {
    errors.InvalidInput: 400,
    errors.NotAuthenticated: 401,
    errors.Forbidden: 403,
    errors.NotFound: 404,
    errors.Conflict: 409,
    errors.PreconditionFailed: 412,
}
REALM = 'realm="gateway"'


def install(app: FlaskApp, challenges: Mapping[str | None, str]) -> None:
    """`challenges` maps an operationId to the WWW-Authenticate value its 401 answers carry."""

    def operation_of(request: ConnexionRequest) -> str | None:
        routing = request.scope.get("extensions", {}).get("connexion_routing", {})
        return routing.get("operation_id")

    def challenge(request: ConnexionRequest) -> dict[str, str]:
        value = challenges.get(operation_of(request)) or f"Bearer {REALM}"
        return {"WWW-Authenticate": value}

    def domain_error(request: ConnexionRequest, error: Exception) -> ConnexionResponse:
        assert isinstance(error, errors.GatewayError)
        status = STATUS.get(type(error), 400)
        headers = challenge(request) if status == 401 else None
        return problem(status, error.title, error.detail, headers=headers)

    def unauthorized(request: ConnexionRequest, error: Exception) -> ConnexionResponse:
        assert isinstance(error, Unauthorized)
        return problem(401, "Unauthorized", error.detail, headers=challenge(request))

    def unexpected(request: ConnexionRequest, error: Exception) -> ConnexionResponse:
        log.error("unhandled error in %s %s", request.method, request.url.path, exc_info=error)
        return problem(500, "Internal Server Error", "The server failed unexpectedly. Nothing was changed.")

    app.add_error_handler(errors.GatewayError, domain_error)
    app.add_error_handler(Unauthorized, unauthorized)
    app.add_error_handler(Exception, unexpected)


def challenges_from_spec(spec: Mapping[str, object]) -> dict[str | None, str]:
    """The 401 challenge of each operation, from the security schemes the spec gives it."""
    schemes: dict = spec["components"]["securitySchemes"]  # type: ignore[index]
    default = spec.get("security", [])
    found: dict[str | None, str] = {}
    for path_item in spec["paths"].values():  # type: ignore[attr-defined]
        for method, operation in path_item.items():
            if method == "parameters":
                continue
            names = [name for requirement in operation.get("security", default) for name in requirement]
            kinds = []
            for name in names:
                scheme = schemes[name]
                kinds.append("Basic" if scheme.get("scheme") == "basic" else "Bearer")
            if kinds:
                found[operation["operationId"]] = ", ".join(f"{kind} {REALM}" for kind in dict.fromkeys(kinds))
    return found
