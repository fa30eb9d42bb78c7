"""Routing: Connexion's router, quicker to find a request's route, and the requests it must not route.
Only operations of the spec are served, by their own path: Connexion's router and Starlette's disagree on a
few exotic paths (odd Unicode in a path segment)."""

from __future__ import annotations

from typing import Any

from connexion.exceptions import ProblemException
from connexion.middleware.routing import RoutingAPI, RoutingMiddleware
from connexion.spec import Specification
from starlette._utils import get_route_path
from starlette.routing import BaseRoute, Match, Mount, Router
from starlette.types import ASGIApp, Receive, Scope, Send


class OnlySpecOperations:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        routing = scope.get("extensions", {}).get("connexion_routing", {})
        if scope["type"] == "http" and (routing.get("operation_id") is None or _encodes_a_slash(scope)):
            raise ProblemException(status=404, title="Not Found", detail="There is no such resource.")
        await self.app(scope, receive, send)


def _encodes_a_slash(scope: Scope) -> bool:
    """The router matches the decoded path, so `/users%2F<id>` would reach getUser: a path that a proxy
    or a log reads as one resource must not be served as another."""
    return b"%2f" in scope.get("raw_path", b"").lower()


class NoTrailingSlash:
    """A path ending in `/` names no operation. Starlette's router would answer it with a 307 to the path
    without the slash, its Location built from the Host header the client sent. The docs pages (which
    do end in `/`) are served before this point."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and scope["path"].endswith("/"):
            raise ProblemException(status=404, title="Not Found", detail="There is no such resource.")
        await self.app(scope, receive, send)


class MethodFirstRouter(Router):
    """Starlette's router tries its routes one by one until one matches both path and method, and Connexion
    adds a route per path and method: a request tried most of the API's paths before its own. This router
    tries only the routes of the request's method whose path can start as the request's does; should none
    match, Starlette's full search still decides (a 405 for a known path, else the default). The first
    full match is the same either way: the candidates keep their order."""

    _index: dict[str, tuple[dict[str, list[BaseRoute]], list[BaseRoute]]] | None = None

    def candidates(self, method: str, route_path: str) -> list[BaseRoute]:
        if self._index is None:  # built at the first request: every route has been added by then
            self._index = index_routes(self.routes)
        by_segment, any_segment = self._index.get(method, ({}, []))
        return by_segment.get(first_segment(route_path), any_segment)

    async def app(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            for route in self.candidates(scope["method"], get_route_path(scope)):
                match, child_scope = route.matches(scope)
                if match is Match.FULL:
                    scope.setdefault("router", self)
                    scope["route"] = route
                    scope.update(child_scope)
                    await route.handle(scope, receive, send)
                    return
        await super().app(scope, receive, send)


def first_segment(path: str) -> str:
    return path.split("/", 2)[1] if path.startswith("/") else ""


def index_routes(routes: list[BaseRoute]) -> dict[str, tuple[dict[str, list[BaseRoute]], list[BaseRoute]]]:
    """Per method: the routes by the first segment of their path, and those whose path starts with a
    parameter (a candidate for every request), all in their order."""
    index: dict[str, tuple[dict[str, list[BaseRoute]], list[BaseRoute]]] = {}
    for route in routes:
        path = getattr(route, "path", "")
        segment = first_segment(path)
        for method in getattr(route, "methods", None) or ():
            by_segment, any_segment = index.setdefault(method, ({}, []))
            if "{" in segment or not path:
                any_segment.append(route)
                for candidates in by_segment.values():
                    candidates.append(route)
            else:
                by_segment.setdefault(segment, list(any_segment)).append(route)
    return index


class MethodFirstRoutingAPI(RoutingAPI):
    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        built: Router = self.router  # type: ignore[has-type]  # set by RoutingAPI.__init__
        self.router = MethodFirstRouter(routes=built.routes, default=built.default)


class MethodFirstRouting(RoutingMiddleware):
    """Connexion's RoutingMiddleware, with each API's operations behind a MethodFirstRouter."""

    def add_api(
        self, specification: Specification, base_path: str | None = None, arguments: Any = None, **kwargs: Any
    ) -> None:
        # As RoutingMiddleware.add_api, which names its API class instead of letting a subclass choose it.
        api = MethodFirstRoutingAPI(
            specification, base_path=base_path, arguments=arguments, next_app=self.app, **kwargs
        )
        for route in self.router.routes:
            if isinstance(route, Mount) and route.path == api.base_path:
                route.app.default = api.router  # type: ignore[attr-defined]  # a second API on the same base path: tried after the first
        self.router.mount(api.base_path, app=api.router)
