"""The rendered docs: Swagger UI at /ui/ (Connexion's) and Redoc at /docs/, both offline, both over the
spec as written: Connexion's openapi.json inlines every $ref, which leaves generated clients with
anonymous types instead of User, Post and Problem."""

from __future__ import annotations

import html
import json
import typing as t
from pathlib import Path

from connexion.middleware.swagger_ui import SwaggerUIAPI, SwaggerUIMiddleware
from connexion.spec import Specification
from starlette.requests import Request
from starlette.responses import FileResponse, HTMLResponse, RedirectResponse, Response
from starlette.types import Receive, Scope, Send

from web import requestid

# Copied from the pinned npm package `redoc` by `make` (see the Makefile); not kept in the repository.
REDOC_BUNDLE = Path(__file__).resolve().parent / "static" / "redoc.standalone.js"
REDOC_PATH = "/docs"
REDOC_PAGE = """<!DOCTYPE html>
<html lang="en">
<head>
  <meta charset="utf-8">
  <meta name="viewport" content="width=device-width, initial-scale=1">
  <title>{title} reference</title>
  <style>body {{ margin: 0; }}</style>
</head>
<body>
  <redoc spec-url="../openapi.json" required-props-first="true" expand-responses="200,201"></redoc>
  <script src="redoc.standalone.js"></script>
</body>
</html>
"""


class SpecAsWrittenAPI(SwaggerUIAPI):
    def __init__(self, *args: t.Any, **kwargs: t.Any) -> None:
        super().__init__(*args, **kwargs)
        if self.options.swagger_ui_available:
            self.add_redoc()

    def _spec_for_prefix(self, request: Request) -> dict[str, t.Any]:
        spec: dict[str, t.Any] = self.specification.with_base_path(self._base_path_for_prefix(request)).raw
        return spec

    def add_redoc(self) -> None:
        title = html.escape(str(self.specification.raw.get("info", {}).get("title", "API")))
        page = REDOC_PAGE.format(title=title)

        async def redoc_page(request: Request) -> Response:
            return HTMLResponse(page)

        async def redoc_bundle(request: Request) -> Response:
            if not REDOC_BUNDLE.is_file():
                problem = {
                    "type": "about:blank",
                    "title": "Service Unavailable",
                    "status": 503,
                    "detail": "Redoc's bundle is not installed on this server (make installs it).",
                    "request_id": requestid.current(),
                }
                return Response(json.dumps(problem), status_code=503, media_type="application/problem+json")
            return FileResponse(REDOC_BUNDLE, media_type="text/javascript")

        async def redirect(request: Request) -> Response:
            return RedirectResponse(url=request.scope.get("root_path", "").rstrip("/") + REDOC_PATH + "/")

        self.router.add_route(REDOC_PATH + "/", redoc_page, methods=["GET"])
        self.router.add_route(REDOC_PATH + "/redoc.standalone.js", redoc_bundle, methods=["GET"])
        self.router.add_route(REDOC_PATH, redirect, methods=["GET"])


class SpecAsWrittenSwaggerUI(SwaggerUIMiddleware):
    def add_api(
        self,
        specification: Specification,
        base_path: str | None = None,
        arguments: dict[str, t.Any] | None = None,
        **kwargs: t.Any,
    ) -> None:
        api = SpecAsWrittenAPI(
            specification, base_path=base_path, arguments=arguments, default=self.default_fn, **kwargs
        )
        self.router.mount(api.base_path, app=api.router)
        # Where the spec and the docs pages are served: the start of each route's path, up to a parameter.
        routes = [route.path.split("{")[0] for route in api.router.routes if hasattr(route, "path")]
        self.docs_prefixes = (*getattr(self, "docs_prefixes", ()), *(api.base_path + path for path in routes))

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Nearly every request is for the API, not its docs: those go on without a trip through this router."""
        if scope["type"] == "http" and not scope["path"].startswith(getattr(self, "docs_prefixes", ())):
            await self.app(scope, receive, send)
            return
        await super().__call__(scope, receive, send)
