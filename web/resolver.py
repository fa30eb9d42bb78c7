"""operationId `createUser` tagged `users` → `handlers.users.create_user`: ids stay client-friendly
(they become method names in generated clients) and each tag's operations live in one module."""

from __future__ import annotations

import re

from connexion.operations import AbstractOperation
from connexion.resolver import Resolver


def snake_case(name: str) -> str:
    return re.sub(r"(?<!^)(?=[A-Z])", "_", name).lower()


class TagResolver(Resolver):
    def resolve_operation_id(self, operation: AbstractOperation) -> str:
        spec = operation._operation  # the operation object as written in the spec
        return f"handlers.{spec['tags'][0]}.{snake_case(spec['operationId'])}"
