"""Serve the spec as written: Connexion's openapi.json inlines every $ref, which leaves generated
clients with anonymous types instead of User, Post and Problem."""

from __future__ import annotations

import typing as t

from connexion.middleware.swagger_ui import SwaggerUIAPI, SwaggerUIMiddleware
from connexion.spec import Specification
from starlette.requests import Request


class SpecAsWrittenAPI(SwaggerUIAPI):
    def _spec_for_prefix(self, request: Request) -> dict[str, t.Any]:
        spec: dict[str, t.Any] = self.specification.with_base_path(self._base_path_for_prefix(request)).raw
        return spec


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
