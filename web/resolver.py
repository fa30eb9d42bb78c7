"""operationId `createUser` tagged `users` → `handlers.users.create_user`: ids stay client-friendly
(they become method names in generated clients) and each tag's operations live in one module."""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from connexion.operations import AbstractOperation
from connexion.resolver import Resolver


def snake_case(name: str) -> str:
    return re.sub(r"(?<!^)(?=[A-Z])", "_", name).lower()


def handler_name(operation: Mapping[str, Any]) -> str:
    """The function that serves an operation of the spec; Connexion's routing knows it by this name."""
    return f"handlers.{operation['tags'][0]}.{snake_case(operation['operationId'])}"


class TagResolver(Resolver):
    def resolve_operation_id(self, operation: AbstractOperation) -> str:
        return handler_name(operation._operation)  # the operation object as written in the spec
