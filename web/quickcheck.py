"""A schema's rules as plain Python checks, built once: the quick yes for a valid request.

jsonschema walks a schema anew for every value, and builds a validator object for every level it
descends to: for POST /posts, whose body is two strings, that was a tenth of the request's CPU under load.
A check built here answers only "valid, for sure" (True) or "ask jsonschema" (False). A value it passes is
one jsonschema passes too (tests/test_quickcheck.py holds every schema of the spec to that); any other
value goes to jsonschema as before, which decides and words the problem. So the contract's rules and its
error messages stay jsonschema's, and a keyword not handled here makes the whole schema jsonschema's.

The rules are jsonschema's Draft 4 keywords, as Connexion extends them for requests: `nullable: true`
lets `type` and `enum` take null (connexion.json_schema.allow_nullable)."""

from __future__ import annotations

import numbers
import re
from collections.abc import Callable
from typing import Any

from jsonschema import FormatChecker

Check = Callable[[Any], bool]

# Keywords that never fail a value: annotations, extensions jsonschema does not know (it ignores them), and
# the places a $ref points into (`components`, which Connexion adds to every body schema): a $ref itself
# leaves the schema to jsonschema.
_ANNOTATIONS = frozenset(
    {
        "description", "example", "examples", "default", "title", "readOnly", "writeOnly", "deprecated",
        "externalDocs", "xml", "nullable", "exclusiveMinimum", "exclusiveMaximum", "components", "definitions",
    }
)  # fmt: skip


class Unsupported(Exception):
    """The schema uses a keyword (or a form of one) that is left to jsonschema."""


def _is_number(value: Any) -> bool:
    return isinstance(value, numbers.Number) and not isinstance(value, bool)


def _is_integer(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)  # Draft 4: 1.0 is not an integer


_TYPES: dict[str, Check] = {
    "string": lambda value: isinstance(value, str),
    "object": lambda value: isinstance(value, dict),
    "array": lambda value: isinstance(value, list),
    "boolean": lambda value: isinstance(value, bool),
    "null": lambda value: value is None,
    "integer": _is_integer,
    "number": _is_number,
}


def build(schema: Any, format_checker: FormatChecker | None, *, nullable_keyword: bool) -> Check:
    """The quick check for `schema`; raises Unsupported when it is jsonschema's alone.

    `nullable_keyword`: honour OpenAPI's `nullable` (Connexion's request validator does, plain Draft 4
    does not)."""
    return _Builder(format_checker, nullable_keyword).schema(schema)


class _Builder:
    def __init__(self, format_checker: FormatChecker | None, nullable_keyword: bool) -> None:
        self.format_checker = format_checker
        self.nullable_keyword = nullable_keyword

    def schema(self, schema: Any) -> Check:
        if not isinstance(schema, dict):
            raise Unsupported("a schema that is not an object")
        nullable = self.nullable_keyword and (schema.get("x-nullable") is True or bool(schema.get("nullable")))
        checks: list[Check] = []
        for keyword, value in schema.items():
            if keyword in _ANNOTATIONS or keyword.startswith("x-"):  # x-nullable is read above
                continue
            maker = getattr(self, "k_" + keyword, None)
            if maker is None:
                raise Unsupported(keyword)
            made = maker(value, schema, nullable)
            if made is not None:
                checks.append(made)
        return _all(checks)

    # Each k_<keyword> returns the check of that keyword, or None when it cannot fail.

    def k_type(self, value: Any, _schema: dict[str, Any], nullable: bool) -> Check:
        names = [value] if isinstance(value, str) else value
        if not isinstance(names, list) or not all(isinstance(name, str) and name in _TYPES for name in names):
            raise Unsupported("type")
        if names == ["string"] and not nullable:
            return lambda instance: isinstance(instance, str)
        tests = [_TYPES[name] for name in names]
        return lambda instance: (nullable and instance is None) or any(test(instance) for test in tests)

    def k_enum(self, value: Any, _schema: dict[str, Any], nullable: bool) -> Check:
        # jsonschema compares a string to a string by ==; other members follow rules of their own.
        if not isinstance(value, list) or not all(isinstance(each, str) for each in value):
            raise Unsupported("enum")
        members = frozenset(value)
        return lambda instance: (nullable and instance is None) or (isinstance(instance, str) and instance in members)

    def k_maxLength(self, value: Any, _schema: dict[str, Any], _nullable: bool) -> Check:
        return lambda instance: not isinstance(instance, str) or len(instance) <= value

    def k_minLength(self, value: Any, _schema: dict[str, Any], _nullable: bool) -> Check:
        return lambda instance: not isinstance(instance, str) or len(instance) >= value

    def k_pattern(self, value: Any, _schema: dict[str, Any], _nullable: bool) -> Check:
        search = re.compile(value).search  # as jsonschema: re.search, anywhere in the string
        return lambda instance: not isinstance(instance, str) or search(instance) is not None

    def k_format(self, value: Any, _schema: dict[str, Any], _nullable: bool) -> Check | None:
        checker = self.format_checker
        if checker is None:
            return None
        return lambda instance: checker.conforms(instance, value)

    def k_minimum(self, value: Any, schema: dict[str, Any], _nullable: bool) -> Check:
        if schema.get("exclusiveMinimum", False):
            return lambda instance: not _is_number(instance) or instance > value
        return lambda instance: not _is_number(instance) or instance >= value

    def k_maximum(self, value: Any, schema: dict[str, Any], _nullable: bool) -> Check:
        if schema.get("exclusiveMaximum", False):
            return lambda instance: not _is_number(instance) or instance < value
        return lambda instance: not _is_number(instance) or instance <= value

    def k_items(self, value: Any, _schema: dict[str, Any], _nullable: bool) -> Check:
        if not isinstance(value, dict):
            raise Unsupported("items as a list")  # with additionalItems: left to jsonschema
        item = self.schema(value)
        return lambda instance: not isinstance(instance, list) or all(item(each) for each in instance)

    def k_minItems(self, value: Any, _schema: dict[str, Any], _nullable: bool) -> Check:
        return lambda instance: not isinstance(instance, list) or len(instance) >= value

    def k_maxItems(self, value: Any, _schema: dict[str, Any], _nullable: bool) -> Check:
        return lambda instance: not isinstance(instance, list) or len(instance) <= value

    def k_uniqueItems(self, value: Any, _schema: dict[str, Any], _nullable: bool) -> Check | None:
        if not value:
            return None

        def unique(instance: Any) -> bool:
            if not isinstance(instance, list):
                return True
            # Strings are equal only to equal strings; other items follow jsonschema's rules: ask it.
            return all(isinstance(each, str) for each in instance) and len(set(instance)) == len(instance)

        return unique

    def k_properties(self, value: Any, _schema: dict[str, Any], _nullable: bool) -> Check:
        if not isinstance(value, dict):
            raise Unsupported("properties")
        members = [(name, self.schema(subschema)) for name, subschema in value.items()]

        def properties(instance: Any) -> bool:
            if not isinstance(instance, dict):
                return True
            for name, check in members:  # noqa: SIM110 - a loop: all() over a generator costs more
                if name in instance and not check(instance[name]):
                    return False
            return True

        return properties

    def k_additionalProperties(self, value: Any, schema: dict[str, Any], _nullable: bool) -> Check | None:
        if "patternProperties" in schema:
            raise Unsupported("additionalProperties with patternProperties")
        named = frozenset(schema.get("properties", {}))
        if value is True:
            return None
        if value is False:
            return lambda instance: not isinstance(instance, dict) or named.issuperset(instance)
        if not isinstance(value, dict):
            raise Unsupported("additionalProperties")
        extra = self.schema(value)
        return lambda instance: (
            not isinstance(instance, dict)
            or all(extra(member) for name, member in instance.items() if name not in named)
        )

    def k_required(self, value: Any, _schema: dict[str, Any], _nullable: bool) -> Check:
        if not isinstance(value, list):
            raise Unsupported("required")
        names = tuple(value)
        return lambda instance: not isinstance(instance, dict) or all(name in instance for name in names)

    def k_minProperties(self, value: Any, _schema: dict[str, Any], _nullable: bool) -> Check:
        return lambda instance: not isinstance(instance, dict) or len(instance) >= value

    def k_maxProperties(self, value: Any, _schema: dict[str, Any], _nullable: bool) -> Check:
        return lambda instance: not isinstance(instance, dict) or len(instance) <= value

    def k_allOf(self, value: Any, _schema: dict[str, Any], _nullable: bool) -> Check:
        if not isinstance(value, list):
            raise Unsupported("allOf")
        return _all([self.schema(each) for each in value])

    def k_anyOf(self, value: Any, _schema: dict[str, Any], _nullable: bool) -> Check:
        # One branch passed for sure: anyOf holds. None did: only jsonschema can tell whether one holds.
        if not isinstance(value, list):
            raise Unsupported("anyOf")
        branches = [self.schema(each) for each in value]
        return lambda instance: any(branch(instance) for branch in branches)


def _all(checks: list[Check]) -> Check:
    if not checks:
        return lambda _instance: True
    if len(checks) == 1:
        return checks[0]

    def every(instance: Any) -> bool:
        for check in checks:  # noqa: SIM110 - a loop: all() over a generator costs more
            if not check(instance):
                return False
        return True

    return every
