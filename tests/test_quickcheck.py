"""The quick checks in front of jsonschema (web.quickcheck): a value a quick check passes is one jsonschema
passes, for every request body and parameter schema of the spec; the spec's own example bodies pass the
quick check alone; and whatever the quick check does not pass still gets jsonschema's answer."""

from __future__ import annotations

import string
from collections.abc import Iterator
from typing import Any

import pytest
from connexion.json_schema import Draft4RequestValidator
from connexion.operations import OpenAPIOperation
from connexion.resolver import Resolver
from connexion.spec import Specification
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from jsonschema import Draft4Validator, ValidationError

from app import HTTP_METHODS, load_spec
from web import quickcheck
from web.validation import FORMAT_CHECKER, compiled

JSON_TYPES = ("application/json", "application/merge-patch+json")


def operations() -> Iterator[tuple[str, OpenAPIOperation]]:
    """The spec's operations as Connexion reads them: their schemas are the ones its validators are given
    (a body's comes with the spec's `components` added)."""
    spec = Specification.from_dict(load_spec())
    resolver = Resolver(function_resolver=lambda _name: lambda: None)
    for path, path_item in spec["paths"].items():
        for method in path_item:
            if method in HTTP_METHODS:
                operation = OpenAPIOperation.from_spec(spec, path=path, method=method, resolver=resolver)
                yield f"{method.upper()} {path}", operation


OPERATIONS = list(operations())


def body_schemas() -> Iterator[tuple[str, dict[str, Any], Any]]:
    """(where, schema, example) for every JSON request body of the spec."""
    for where, operation in OPERATIONS:
        for media_type in operation.consumes:
            if media_type in JSON_TYPES:
                example = operation.request_body["content"][media_type].get("example")
                yield f"{where} {media_type}", operation.body_schema(media_type), example


def parameter_schemas() -> Iterator[tuple[str, dict[str, Any]]]:
    for where, operation in OPERATIONS:
        for parameter in operation.parameters:
            yield f"{where} {parameter['in']} {parameter['name']}", parameter["schema"]


BODIES = list(body_schemas())
PARAMETERS = list(parameter_schemas())
# (where, schema, the validator class Gateway checks it with)
ALL_SCHEMAS = [(where, schema, Draft4RequestValidator) for where, schema, _ in BODIES] + [
    (where, schema, Draft4Validator) for where, schema in PARAMETERS
]

# Characters around the edges the spec's patterns draw: controls, NUL, a newline (which `$` lets end a
# string in Python's re), DEL, a lone surrogate's neighbours, and plain text.
EDGE_CHARACTERS = st.sampled_from(["\x00", "\x01", "\x1f", "\x7f", "\n", "\t", " ", "é", "\u2028", "\ufffd", "𝄞"])
TEXT = st.text(st.one_of(st.sampled_from(string.ascii_letters + string.digits + "-_.@:+ "), EDGE_CHARACTERS))
SCALARS = st.one_of(
    st.none(), st.booleans(), st.integers(-(2**40), 2**40), st.floats(allow_nan=False), TEXT,
    st.sampled_from(["0b6c8f3e-4a5d-4f7e-9c1a-2d3e4f5a6b7c", "0B6C8F3E-4A5D-4F7E-9C1A-2D3E4F5A6B7C",
                     "2026-01-31T12:00:00Z", "2026-01-31T12:00:00", "ada@example.com", "ada@", "1", "1.0", ""]),
)  # fmt: skip
ANY_JSON = st.recursive(SCALARS, lambda inner: st.lists(inner, max_size=3) | st.dictionaries(TEXT, inner, max_size=3))


def near(schema: dict[str, Any]) -> st.SearchStrategy[Any]:
    """Values that meet the schema, nearly meet it, or miss it by one rule: where a quick check could be
    wrong."""
    options: list[st.SearchStrategy[Any]] = [SCALARS]
    if "pattern" in schema:
        options.append(st.from_regex(schema["pattern"]))
    if "minLength" in schema or "maxLength" in schema:
        for length in {schema.get("minLength", 0), schema.get("maxLength", 0)}:
            for size in (length - 1, length, length + 1):
                if 0 <= size <= 10_001:
                    options.append(st.text(st.sampled_from("ab\n\x00"), min_size=size, max_size=size))
    for bound in ("minimum", "maximum"):
        if bound in schema:
            options.append(st.sampled_from([schema[bound] - 1, schema[bound], schema[bound] + 1, float(schema[bound])]))
    if "enum" in schema:
        options.append(st.sampled_from([*schema["enum"], *(each.upper() for each in schema["enum"])]))
    if "items" in schema:
        options.append(st.lists(near(schema["items"]), max_size=4))
    if "properties" in schema:
        members = {name: near(subschema) for name, subschema in schema["properties"].items()}
        options.append(st.fixed_dictionaries({}, optional=members))
        options.append(
            st.fixed_dictionaries({}, optional=members).flatmap(
                lambda found: st.dictionaries(TEXT, ANY_JSON, max_size=2).map(lambda extra: {**extra, **found})
            )
        )
    for each in schema.get("allOf", []) + schema.get("anyOf", []):
        options.append(near(each))
    options.append(ANY_JSON)
    return st.one_of(options)


def valid(validator_class: type[Draft4Validator], schema: dict[str, Any], value: Any) -> bool:
    return validator_class(schema, format_checker=FORMAT_CHECKER).is_valid(value)


@pytest.mark.parametrize(("where", "schema", "validator_class"), ALL_SCHEMAS, ids=[each[0] for each in ALL_SCHEMAS])
def test_every_request_schema_of_the_spec_has_a_quick_check(
    where: str, schema: dict[str, Any], validator_class: type[Draft4Validator]
) -> None:
    assert compiled(schema, validator_class).quick is not None, f"{where}: left to jsonschema alone"


@pytest.mark.parametrize(("where", "schema", "validator_class"), ALL_SCHEMAS, ids=[each[0] for each in ALL_SCHEMAS])
@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data())
def test_a_value_the_quick_check_passes_is_one_jsonschema_passes(
    where: str, schema: dict[str, Any], validator_class: type[Draft4Validator], data: st.DataObject
) -> None:
    quick = quickcheck.build(schema, FORMAT_CHECKER, nullable_keyword=validator_class is Draft4RequestValidator)
    value = data.draw(near(schema))
    if quick(value):
        assert valid(validator_class, schema, value), f"{where}: the quick check passed {value!r}"


@pytest.mark.parametrize(("where", "schema", "example"), BODIES, ids=[each[0] for each in BODIES])
def test_the_spec_example_bodies_pass_the_quick_check_alone(where: str, schema: dict[str, Any], example: Any) -> None:
    assert example is not None, f"{where}: the spec gives no example"
    quick = quickcheck.build(schema, FORMAT_CHECKER, nullable_keyword=True)
    assert quick(example)
    assert valid(Draft4RequestValidator, schema, example)


def test_nullable_lets_type_and_enum_take_null_only_where_connexion_does() -> None:
    schema = {"type": "string", "enum": ["a", "b"], "nullable": True}
    assert quickcheck.build(schema, FORMAT_CHECKER, nullable_keyword=True)(None)
    assert not quickcheck.build(schema, FORMAT_CHECKER, nullable_keyword=False)(None)  # plain Draft 4
    assert not quickcheck.build(schema, FORMAT_CHECKER, nullable_keyword=True)("c")


def test_the_quick_check_honours_the_formats_gateway_checks() -> None:
    quick = quickcheck.build({"type": "string", "format": "uuid"}, FORMAT_CHECKER, nullable_keyword=False)
    assert quick("0b6c8f3e-4a5d-4f7e-9c1a-2d3e4f5a6b7c")
    assert not quick("0B6C8F3E-4A5D-4F7E-9C1A-2D3E4F5A6B7C")  # uuid.UUID accepts it; our contract does not


@pytest.mark.parametrize(
    "schema",
    [
        {"oneOf": [{"type": "string"}, {"type": "integer"}]},
        {"$ref": "#/definitions/thing"},
        {"type": "object", "patternProperties": {"^x": {}}, "additionalProperties": False},
        {"type": "integer", "multipleOf": 3},
    ],
    ids=["oneOf", "$ref", "patternProperties", "multipleOf"],
)
def test_a_keyword_the_quick_checks_do_not_know_leaves_the_schema_to_jsonschema(schema: dict[str, Any]) -> None:
    with pytest.raises(quickcheck.Unsupported):
        quickcheck.build(schema, FORMAT_CHECKER, nullable_keyword=False)


def test_what_the_quick_check_does_not_pass_gets_jsonschemas_answer() -> None:
    schema = {"type": "array", "items": {"type": "integer"}, "uniqueItems": True}
    checked = compiled(schema)
    assert checked.quick is not None
    assert not checked.quick([1, 2])  # unique, but not strings: left to jsonschema
    checked.validate([1, 2])  # jsonschema: valid
    with pytest.raises(ValidationError) as refused:
        checked.validate([1, 1])
    assert refused.value.validator == "uniqueItems"
