"""Hostile input: every operation of the spec, fed what an attacker sends (OWASP API8: what parsers let by).

Each case is answered with a clear 4xx problem+json, changes nothing (the rows are compared before and
after), and gives nothing away (no stack trace, no SQL, no secret echoed). SQL is stored literally or
refused, never run. test_http_protocol.py tries malformed bodies on sign-up; here every operation that
takes a body gets them, and every path, query and header parameter gets its own share."""

from __future__ import annotations

import base64
import hashlib
import json
import secrets
from collections.abc import Callable, Iterator
from typing import Any
from urllib.parse import urlencode

import httpx
import pytest

from tests.conftest import Account, basic
from tests.security.conftest import (
    BASE,
    Operation,
    Rows,
    World,
    assert_no_leak,
    assert_refused,
    deref,
    operations,
    properties,
    random_token,
)

JSON_BODIES = [
    (operation, media_type)
    for operation in operations(lambda operation: bool(operation.media_types))
    for media_type in operation.media_types
    if media_type.endswith("json")
]
WITH_BODY = operations(lambda operation: bool(operation.media_types))
WITH_PATH_PARAMETERS = operations(lambda operation: bool(operation.path_parameters))
NEEDS_BEARER = operations(lambda operation: operation.needs_bearer)
SQL = {
    "a quote and a comment": "' OR 1=1 --",
    "a statement after a quote": '"; DROP TABLE users; --',
    "a union": "1' UNION SELECT email, password_hash FROM users --",
    "LIKE wildcards": "%' OR '%'='",
}
# Email-shaped: every character is allowed in the local part of an address.
SQL_EMAILS = {"a quote and a comment": "admin'--@example.com", "a tautology": "x'or'1'='1'--@example.com"}


def caller_of(operation: Operation, world: World) -> Account | None:
    return None if operation.is_public and not operation.needs_password else world.rightful_caller(operation)


def auth_of(operation: Operation, world: World) -> dict[str, str] | None:
    caller = caller_of(operation, world)
    return world.credentials(operation, caller) if caller else None


def fields(operation: Operation, media_type: str, kind: str) -> list[tuple[str, dict[str, Any]]]:
    return [
        (name, schema)
        for name, schema in properties(operation.body_schema(media_type)).items()
        if schema.get("type") == kind
    ]


def query_parameters(kind: str) -> list[tuple[Operation, dict[str, Any]]]:
    return [
        (operation, parameter)
        for operation in operations(lambda operation: True)
        for parameter in operation.parameters_in("query")
        if deref(parameter["schema"]).get("type") == kind
    ]


def with_duplicate_name(example: dict[str, Any]) -> bytes:
    name, value = next(iter(example.items()))
    return json.dumps(example)[:-1].encode() + f", {json.dumps(name)}: {json.dumps(value)}}}".encode()


def with_value(literal: bytes) -> Callable[[dict[str, Any]], bytes]:
    """The example with its first field's value written as `literal`, bytes as they are."""

    def make(example: dict[str, Any]) -> bytes:
        name = next(iter(example))
        return json.dumps(example | {name: "<value>"}).encode().replace(b'"<value>"', literal)

    return make


# Bodies that are not acceptable JSON, on every operation that takes JSON.

NOT_JSON: dict[str, Callable[[dict[str, Any]], bytes]] = {
    "truncated": lambda example: json.dumps(example)[:-3].encode(),
    "a trailing comma": lambda example: json.dumps(example)[:-1].encode() + b",}",
    "single quotes": lambda example: json.dumps(example).replace('"', "'").encode(),
    "a comment": lambda example: b"/* hello */" + json.dumps(example).encode(),
    "NaN": with_value(b"NaN"),
    "-Infinity": with_value(b"-Infinity"),
    "a UTF-8 byte order mark": lambda example: b"\xef\xbb\xbf" + json.dumps(example).encode(),
    "UTF-16": lambda example: json.dumps(example).encode("utf-16"),
    "a Latin-1 byte": with_value(b'"caf\xe9"'),
    "an overlong UTF-8 quote": with_value(b'"\xc0\xa2"'),
    "the same name twice": with_duplicate_name,
    "half a UTF-16 surrogate pair": with_value(b'"half \\ud800 a pair"'),
    "arrays nested 10,000 deep": lambda example: b"[" * 10_000 + b"]" * 10_000,
    "objects nested 10,000 deep": lambda example: b'{"a":' * 10_000 + b"1" + b"}" * 10_000,
    "a top-level array": lambda example: json.dumps([example]).encode(),
    "a top-level string": lambda example: b'"hello"',
    "null": lambda example: b"null",
}


def not_json_cases() -> Iterator[Any]:
    for operation, media_type in JSON_BODIES:
        for case in NOT_JSON:
            yield pytest.param(operation, media_type, case, id=f"{operation}-{media_type}-{case}")
        if operation.body_required:
            yield pytest.param(operation, media_type, "empty", id=f"{operation}-{media_type}-empty")


@pytest.mark.parametrize(("operation", "media_type", "case"), not_json_cases())
def test_a_body_that_is_not_acceptable_json_is_a_400_and_changes_nothing(
    world: World, rows: Callable[[], Rows], operation: Operation, media_type: str, case: str
) -> None:
    example = world.body(operation, media_type, caller_of(operation, world))
    content = b"" if case == "empty" else NOT_JSON[case](example)
    before = rows()

    response = world.call(operation, auth=auth_of(operation, world), media_type=media_type, content=content)

    assert_refused(response, 400)
    assert rows() == before


# Media types.

WRONG_MEDIA_TYPES: dict[str, tuple[str | None, str]] = {
    "text/plain": ("text/plain", "utf-8"),
    "multipart/form-data": ("multipart/form-data; boundary=gateway", "utf-8"),
    "a form": ("application/x-www-form-urlencoded", "utf-8"),
    "XML": ("application/xml", "utf-8"),
    "JSON Patch": ("application/json-patch+json", "utf-8"),
    "no Content-Type at all": (None, "utf-8"),
    "JSON declared as Latin-1": ("application/json; charset=iso-8859-1", "latin-1"),
    "JSON declared as UTF-16": ("application/json;charset=utf-16", "utf-16"),
    "JSON with an unknown charset": ('application/json; charset="x-unknown"', "utf-8"),
}


def wrong_media_type_cases() -> Iterator[Any]:
    for operation in WITH_BODY:
        for case, (media_type, _) in WRONG_MEDIA_TYPES.items():
            if media_type not in operation.media_types:
                yield pytest.param(operation, case, id=f"{operation}-{case}")


@pytest.mark.parametrize(("operation", "case"), wrong_media_type_cases())
def test_a_body_of_another_media_type_is_a_415_and_changes_nothing(
    world: World, rows: Callable[[], Rows], operation: Operation, case: str
) -> None:
    media_type, encoding = WRONG_MEDIA_TYPES[case]
    example = world.body(operation, operation.media_types[0], caller_of(operation, world))
    headers = {"Content-Type": media_type} if media_type else {}
    before = rows()

    response = world.call(
        operation,
        auth=auth_of(operation, world),
        content=json.dumps(example, ensure_ascii=False).encode(encoding),
        headers=headers,
    )

    assert_refused(response, 415)
    assert rows() == before


def media_type_spellings() -> Iterator[Any]:
    for operation in WITH_BODY:
        for media_type in operation.media_types:
            for spelling in (media_type.upper(), media_type.title(), f"{media_type}; CHARSET=UTF-8"):
                yield pytest.param(operation, media_type, spelling, id=f"{operation}-{spelling}")


@pytest.mark.parametrize(("operation", "media_type", "spelling"), media_type_spellings())
def test_a_media_type_in_another_case_is_read_and_checked_like_the_lower_case_one(
    world: World, rows: Callable[[], Rows], operation: Operation, media_type: str, spelling: str
) -> None:
    caller = caller_of(operation, world)
    example = world.body(operation, media_type, caller)
    encode: Callable[[dict[str, Any]], bytes] = (
        (lambda body: urlencode(body).encode()) if "form" in media_type else (lambda body: json.dumps(body).encode())
    )
    before = rows()

    headers = {"Content-Type": spelling}
    forged = world.call(
        operation, auth=auth_of(operation, world), content=encode(example | {"is_admin": "true"}), headers=headers
    )
    assert_refused(forged, 400)
    assert rows() == before

    accepted = world.call(operation, auth=auth_of(operation, world), content=encode(example), headers=headers)
    assert 200 <= accepted.status_code < 300, accepted.text


# Numbers that do not fit.

NUMBERS = {
    "1e400": "1e400",
    "2 to the 64th": str(2**64),
    "minus zero": "-0",
    "5,000 digits": "9" * 5000,
    "a fraction": "1.5",
    "an exponent": "1e2",
    "a negative number": "-1",
    "true": "true",
}


def integer_targets() -> Iterator[Any]:
    for operation, media_type in JSON_BODIES:
        for name, _ in fields(operation, media_type, "integer"):
            yield pytest.param(operation, media_type, name, id=f"{operation}-body-{name}")
    for operation, parameter in query_parameters("integer"):
        yield pytest.param(operation, None, parameter["name"], id=f"{operation}-query-{parameter['name']}")


@pytest.mark.parametrize("number", NUMBERS)
@pytest.mark.parametrize(("operation", "media_type", "name"), integer_targets())
def test_a_number_that_does_not_fit_is_a_400(
    world: World, rows: Callable[[], Rows], operation: Operation, media_type: str | None, name: str, number: str
) -> None:
    before = rows()
    if media_type is None:
        response = world.call(operation, auth=auth_of(operation, world), params={name: NUMBERS[number]})
    else:
        example = world.body(operation, media_type, caller_of(operation, world))
        example.pop(name, None)
        content = json.dumps(example)[:-1].encode() + f', "{name}": {NUMBERS[number]}}}'.encode()
        response = world.call(operation, auth=auth_of(operation, world), media_type=media_type, content=content)

    assert_refused(response, 400)
    assert rows() == before


# Strings: NUL bytes, overlong values, SQL.


def string_targets() -> Iterator[Any]:
    for operation, media_type in JSON_BODIES:
        for name, schema in fields(operation, media_type, "string"):
            yield pytest.param(operation, media_type, name, schema, id=f"{operation}-{media_type}-{name}")


@pytest.mark.parametrize(("operation", "media_type", "name", "schema"), string_targets())
def test_a_nul_byte_in_a_string_field_is_a_400(
    world: World, rows: Callable[[], Rows], operation: Operation, media_type: str, name: str, schema: dict[str, Any]
) -> None:
    caller = caller_of(operation, world)
    body = world.body(operation, media_type, caller)
    body[name] = "user\x00@example.com" if schema.get("format") == "email" else "before\x00after"
    before = rows()

    response = world.call(operation, auth=auth_of(operation, world), media_type=media_type, body=body)

    assert_refused(response, 400)
    assert rows() == before


@pytest.mark.parametrize(("operation", "media_type", "name", "schema"), string_targets())
def test_a_string_one_character_too_long_is_a_400_that_does_not_quote_it(
    world: World, rows: Callable[[], Rows], operation: Operation, media_type: str, name: str, schema: dict[str, Any]
) -> None:
    body = world.body(operation, media_type, caller_of(operation, world))
    body[name] = "S3cret-" * (schema["maxLength"] // 7) + "S3cret-"[: schema["maxLength"] % 7 + 1]
    assert len(body[name]) == schema["maxLength"] + 1
    before = rows()

    response = world.call(operation, auth=auth_of(operation, world), media_type=media_type, body=body)

    assert_refused(response, 400)
    assert body[name][:20] not in response.text
    assert rows() == before


def sql_cases() -> Iterator[Any]:
    for operation, media_type, name, schema in (param.values for param in string_targets()):
        payloads = SQL_EMAILS if schema.get("format") == "email" else SQL
        for case in payloads:
            yield pytest.param(
                operation, media_type, name, payloads[case], id=f"{operation}-{media_type}-{name}-{case}"
            )


@pytest.mark.parametrize(("operation", "media_type", "name", "payload"), sql_cases())
def test_sql_in_a_string_field_is_stored_as_text(
    world: World, rows: Callable[[], Rows], operation: Operation, media_type: str, name: str, payload: str
) -> None:
    caller = caller_of(operation, world)
    body = world.body(operation, media_type, caller) | {name: payload}

    response = world.call(operation, auth=auth_of(operation, world), media_type=media_type, body=body)

    assert 200 <= response.status_code < 300, response.text
    stored = response.json()
    if name == "password":
        # Write-only: the proof is that it now opens the account, as typed.
        assert world.client.post(f"{BASE}/tokens", headers=basic(stored["email"], payload)).status_code == 201
    else:
        assert stored[name] == payload
        # Read back by an administrator, who may see every field of every object.
        read_back = world.client.get(response.headers.get("Location") or response.url.path, headers=world.admin.auth)
        assert read_back.json()[name] == payload
    assert {world.ada.id, world.bob.id, world.admin.id} <= {row[0] for row in rows()["users"]}


def text_query_cases() -> Iterator[Any]:
    for operation, parameter in query_parameters("string"):
        yield pytest.param(operation, parameter, id=f"{operation}-{parameter['name']}")


# A pattern that only keeps NUL out still leaves the text free.
NO_NUL = r"^[^\u0000]*$"  # as written in the spec (YAML single quotes keep the backslash)


def is_free_text(parameter: dict[str, Any]) -> bool:
    schema = deref(parameter["schema"])
    return not ({"format", "enum"} & set(schema)) and schema.get("pattern", NO_NUL) == NO_NUL


@pytest.mark.parametrize("payload", [*SQL.values(), "a NUL \x00 byte"], ids=[*SQL, "a NUL byte"])
@pytest.mark.parametrize(("operation", "parameter"), text_query_cases())
def test_sql_or_a_nul_in_a_query_parameter_is_refused_or_matched_literally(
    world: World, operation: Operation, parameter: dict[str, Any], payload: str
) -> None:
    response = world.call(operation, auth=auth_of(operation, world), params={parameter["name"]: payload})

    if is_free_text(parameter) and "\x00" not in payload:
        assert response.status_code == 200, response.text
        assert response.json()["items"] == []  # nothing in the data contains it: it was not run as code
        assert_no_leak(response)
    else:
        assert_refused(response, 400)


@pytest.mark.parametrize("payload", [*SQL.values(), "a NUL \x00 byte"], ids=[*SQL, "a NUL byte"])
def test_sql_or_a_nul_in_a_path_segment_is_refused(world: World, rows: Callable[[], Rows], payload: str) -> None:
    before = rows()
    for operation in WITH_PATH_PARAMETERS:
        for name in operation.path_parameters:
            segment = payload.replace("\x00", "%00")  # a client cannot even send a raw NUL in a URL
            response = world.call(operation, auth=auth_of(operation, world), values={name: segment})
            assert_refused(response, 400, 404, where=f"{operation} {name}")
    assert rows() == before


# Paths that try to be another path.

SEGMENT_TRICKS: dict[str, Callable[[str], str]] = {
    "dot-dot and an encoded slash": lambda value: f"..%2f..%2f{value}",
    "a double-encoded slash": lambda value: f"..%252f{value}",
    "encoded dots": lambda value: f"%2e%2e/{value}",
    "a NUL after the value": lambda value: f"{value}%00",
    "a NUL alone": lambda value: "%00",
    "overlong UTF-8 dots and slash": lambda value: f"%c0%ae%c0%ae%c0%af{value}",
    "fullwidth dots and slash": lambda value: f"\uff0e\uff0e\uff0f{value}",
    "the value in capitals": lambda value: value.upper() if value != value.upper() else value + "X",
    "Unicode hyphens": lambda value: value.replace("-", "\u2010") if "-" in value else value + "\u2010",
    "a trailing space": lambda value: f"{value}%20",
    "a matrix parameter": lambda value: f"{value};.json",
    "invalid UTF-8": lambda value: f"{value}%ff%fe",
    "a path to a file": lambda value: "..%2f..%2f..%2fetc%2fpasswd",
}


@pytest.mark.parametrize("trick", SEGMENT_TRICKS)
def test_a_path_segment_that_tries_to_be_another_is_refused(world: World, rows: Callable[[], Rows], trick: str) -> None:
    before = rows()
    for operation in WITH_PATH_PARAMETERS:
        name = operation.path_parameters[0]
        value = SEGMENT_TRICKS[trick](world.path_value(name))
        response = world.call(operation, auth=auth_of(operation, world), values={name: value})
        assert_refused(response, 400, 404, where=operation)
        assert "root:" not in response.text
    assert rows() == before


def test_an_encoded_slash_is_not_a_slash(world: World, rows: Callable[[], Rows]) -> None:
    before = rows()
    for operation in WITH_PATH_PARAMETERS:
        path = operation.template.format_map({name: world.path_value(name) for name in operation.path_parameters})
        head, _, tail = path.rpartition("/")
        response = world.client.request(operation.method, f"{BASE}{head}%2F{tail}", headers=auth_of(operation, world))
        assert_refused(response, 404, where=operation)
    assert rows() == before


def test_a_trailing_slash_is_not_another_route(world: World) -> None:
    for operation in operations(lambda operation: True):
        path = operation.template.format_map({name: world.path_value(name) for name in operation.path_parameters})
        response = world.client.request(
            operation.method, f"{BASE}{path}/", headers=auth_of(operation, world), follow_redirects=False
        )
        assert_refused(response, 404, where=operation)


# Headers: CR/LF and NUL smuggled into values.

INJECTIONS = {"CR/LF and a header": "\r\nX-Injected: yes", "a NUL": "\x00", "a lone LF": "\n"}


def conditional_cases() -> Iterator[Any]:
    for operation in operations(lambda operation: True):
        for header in ("If-Match", "If-None-Match"):
            if any(parameter["name"] == header for parameter in operation.parameters_in("header")):
                yield pytest.param(operation, header, id=f"{operation}-{header}")


@pytest.mark.parametrize("injection", INJECTIONS)
@pytest.mark.parametrize(("operation", "header"), conditional_cases())
def test_a_control_character_in_a_conditional_header_is_a_400(
    world: World, rows: Callable[[], Rows], operation: Operation, header: str, injection: str
) -> None:
    path = operation.template.format_map({name: world.path_value(name) for name in operation.path_parameters})
    etag = world.client.get(BASE + path, headers=world.ada.auth).headers["ETag"]
    before = rows()

    response = world.call(operation, auth=auth_of(operation, world), headers={header: etag + INJECTIONS[injection]})

    assert_refused(response, 400)
    assert "X-Injected" not in response.headers
    assert rows() == before


@pytest.mark.parametrize("injection", INJECTIONS)
def test_a_control_character_in_the_authorization_header_is_a_401(
    world: World, rows: Callable[[], Rows], injection: str
) -> None:
    before = rows()
    for operation in NEEDS_BEARER:
        token = world.rightful_caller(operation).token
        headers = {"Authorization": f"Bearer {token}{INJECTIONS[injection]}"}
        response = world.call(operation, auth=headers, caller=world.rightful_caller(operation))
        assert_refused(response, 401, where=operation)
    assert rows() == before


@pytest.mark.parametrize("injection", INJECTIONS)
def test_a_control_character_in_the_content_type_is_a_415(
    world: World, rows: Callable[[], Rows], injection: str
) -> None:
    before = rows()
    for operation in WITH_BODY:
        media_type = operation.media_types[0]
        example = world.body(operation, media_type, caller_of(operation, world))
        response = world.call(
            operation,
            auth=auth_of(operation, world),
            content=json.dumps(example).encode(),
            headers={"Content-Type": media_type + INJECTIONS[injection]},
        )
        assert_refused(response, 415, where=operation)
    assert rows() == before


def test_two_content_types_are_a_400(world: World, rows: Callable[[], Rows]) -> None:
    before = rows()
    for operation in WITH_BODY:
        example = world.body(operation, "application/json", caller_of(operation, world))
        headers = httpx.Headers([("Content-Type", "application/json"), ("Content-Type", "text/plain")])
        headers.update(auth_of(operation, world) or {})
        path = operation.template.format_map({name: world.path_value(name) for name in operation.path_parameters})
        response = world.client.request(
            operation.method, BASE + path, content=json.dumps(example).encode(), headers=headers
        )
        assert_refused(response, 400, where=operation)
    assert rows() == before


# Forged bearer tokens, on every operation that needs one.

FORGERIES: dict[str, Callable[[str], str]] = {
    "no gw_ prefix": lambda real: "Bearer " + secrets.token_urlsafe(32),
    "the right prefix and random": lambda real: "Bearer " + random_token(),
    "10,000 characters": lambda real: "Bearer gw_" + "a" * 10_000,
    "a NUL inside a real token": lambda real: f"Bearer {real[:10]}\x00{real[10:]}",
    "a real token with a NUL appended": lambda real: f"Bearer {real}\x00",
    "a real token with a character appended": lambda real: f"Bearer {real}x",
    "a real token cut short": lambda real: f"Bearer {real[:-1]}",
    "a real token with one character changed": lambda real: f"Bearer {real[:-1]}{'A' if real[-1] != 'A' else 'B'}",
    "the SHA-256 the server stores": lambda real: "Bearer " + hashlib.sha256(real.encode()).hexdigest(),
    "a real token in another scheme": lambda real: f"Token {real}",
    "a real token as Basic credentials": lambda real: "Basic " + base64.b64encode(f"{real}:".encode()).decode(),
    "a real token after a forged one": lambda real: f"Bearer {random_token()} {real}",
    "a real token smuggled after a CR/LF": lambda real: f"Bearer {random_token()}\r\nAuthorization: Bearer {real}",
}


@pytest.mark.parametrize("forgery", FORGERIES)
def test_a_forged_token_opens_no_operation(world: World, rows: Callable[[], Rows], forgery: str) -> None:
    before = rows()
    for operation in NEEDS_BEARER:
        caller = world.rightful_caller(operation)
        headers = {"Authorization": FORGERIES[forgery](caller.token)}
        response = world.call(operation, auth=headers, caller=caller)
        assert_refused(response, 401, where=operation)
        assert "Bearer" in response.headers["WWW-Authenticate"]
    assert rows() == before


# Passwords: hostile credentials, and a refused password never quoted back.

HOSTILE_EMAILS = {"a NUL": "ada\x00@example.com", **{f"SQL: {case}": payload for case, payload in SQL.items()}}


@pytest.mark.parametrize("email", HOSTILE_EMAILS)
def test_hostile_credentials_are_a_401(world: World, rows: Callable[[], Rows], email: str) -> None:
    before = rows()
    for operation in operations(lambda operation: operation.needs_password):
        by_basic = world.call(operation, auth=basic(HOSTILE_EMAILS[email], world.ada.password))
        grant = {"grant_type": "password", "username": HOSTILE_EMAILS[email], "password": world.ada.password}
        by_form = world.call(operation, media_type="application/x-www-form-urlencoded", body=grant)
        assert_refused(by_basic, 401, where=f"{operation} with Basic")
        # The grant's schema keeps NUL out of its fields (400); anything else is a wrong login (401).
        assert_refused(by_form, 400 if "\x00" in HOSTILE_EMAILS[email] else 401, where=f"{operation} with a grant")
    assert rows() == before


def test_a_nul_in_a_granted_password_is_refused(world: World) -> None:
    grant = {"grant_type": "password", "username": world.ada.email, "password": world.ada.password + "\x00"}

    response = world.client.post(f"{BASE}/tokens", data=grant)

    assert_refused(response, 400)


def form_fields() -> Iterator[Any]:
    for operation in operations(lambda operation: "application/x-www-form-urlencoded" in operation.media_types):
        for name, schema in properties(operation.body_schema("application/x-www-form-urlencoded")).items():
            if "maxLength" in schema:
                yield pytest.param(operation, name, schema["maxLength"], id=f"{operation}-{name}")


@pytest.mark.parametrize(("operation", "name", "limit"), form_fields())
def test_a_refused_form_field_is_never_quoted_back(world: World, operation: Operation, name: str, limit: int) -> None:
    secret = ("S3cret-" * (limit // 7 + 1))[: limit + 1]
    body = world.body(operation, "application/x-www-form-urlencoded", world.ada) | {name: secret}

    response = world.call(operation, media_type="application/x-www-form-urlencoded", body=body)

    assert_refused(response, 400)
    assert "S3cret-S3cret" not in response.text


# Forged cursors and moments the calendar cannot hold.


def cursor_of(document: Any) -> str:
    return base64.urlsafe_b64encode(json.dumps(document).encode()).rstrip(b"=").decode()


CURSORS = {
    "the year 10000 by its offset": cursor_of(["9999-12-31T23:59:59-23:59", "0b6c8f3e-4a5d-4f7e-9c1a-2d3e4f5a6b7c"]),
    "before the year 1 by its offset": cursor_of(["0001-01-01T00:00:00+23:59", "0b6c8f3e-4a5d-4f7e-9c1a-2d3e4f5a6b7c"]),
    "a NUL for an id": cursor_of(["2026-01-01T00:00:00+00:00", "\x00"]),
    "SQL for an id": cursor_of(["2026-01-01T00:00:00+00:00", SQL["a quote and a comment"]]),
    "a moment without an offset": cursor_of(["2026-01-01T00:00:00", "0b6c8f3e-4a5d-4f7e-9c1a-2d3e4f5a6b7c"]),
    "numbers for both": cursor_of([1, 2]),
    "an object of numbers": cursor_of({"created_at": 1, "id": 2}),
    "not base64 JSON": "bm90IGpzb24",
}


def cursor_operations() -> list[Operation]:
    return operations(lambda operation: any(p["name"] == "cursor" for p in operation.parameters_in("query")))


@pytest.mark.parametrize("cursor", CURSORS)
def test_a_forged_cursor_is_a_400(world: World, cursor: str) -> None:
    for operation in cursor_operations():
        response = world.call(operation, auth=auth_of(operation, world), params={"cursor": CURSORS[cursor]})
        assert_refused(response, 400, where=operation)


def moment_parameters() -> list[tuple[Operation, str]]:
    return [
        (operation, parameter["name"])
        for operation, parameter in query_parameters("string")
        if deref(parameter["schema"]).get("format") == "date-time"
    ]


@pytest.mark.parametrize(
    ("moment", "status"),
    [
        pytest.param("9999-12-31T23:59:59-23:59", 400, id="after the last moment Python holds"),
        pytest.param("0001-01-01T00:00:00+23:59", 400, id="before the first moment Python holds"),
        pytest.param("9999-12-31T23:59:59.999999Z", 200, id="the last moment"),
        pytest.param("0001-01-01T00:00:00Z", 200, id="the first moment"),
    ],
)
def test_a_moment_at_the_edge_of_the_calendar_is_answered(world: World, moment: str, status: int) -> None:
    assert moment_parameters()
    for operation, name in moment_parameters():
        response = world.call(operation, auth=auth_of(operation, world), params={name: moment})
        if status == 200:
            assert response.status_code == 200, f"{operation} {name}: {response.text}"
        else:
            assert_refused(response, status, where=f"{operation} {name}")


def test_the_battery_reaches_every_kind_of_input() -> None:
    # If the spec loses what these tests feed on, they would pass by trying nothing.
    for found in (JSON_BODIES, WITH_PATH_PARAMETERS, NEEDS_BEARER, cursor_operations(), moment_parameters()):
        assert found
    for cases in (integer_targets(), string_targets(), text_query_cases(), form_fields(), conditional_cases()):
        assert list(cases)
    assert any(is_free_text(parameter) for _, parameter in query_parameters("string"))
