"""Stricter request parsing than Connexion's default: bad bytes and odd JSON are 400s, never 500s,
and the formats our contract relies on are really checked."""

from __future__ import annotations

import contextlib
import ipaddress
import json
import re
import typing as t
import uuid
from datetime import UTC, datetime

from connexion.datastructures import MediaTypeDict
from connexion.exceptions import BadRequestProblem, ExtraParameterProblem, UnsupportedMediaTypeProblem
from connexion.json_schema import Draft4RequestValidator
from connexion.validators import VALIDATOR_MAP, FormDataValidator, JSONRequestBodyValidator, ParameterValidator
from jsonschema import Draft4Validator, FormatChecker, ValidationError
from starlette.datastructures import Headers
from starlette.formparsers import FormParser
from starlette.types import Receive, Scope

from web import quickcheck
from web.quickcheck import Check

FORMAT_CHECKER: FormatChecker = Draft4Validator.FORMAT_CHECKER
# RFC 3339 date-time with a mandatory offset, as our schemas promise.
_DATE_TIME = re.compile(r"^\d{4}-\d{2}-\d{2}[Tt]\d{2}:\d{2}:\d{2}(\.\d+)?([Zz]|[+-]\d{2}:\d{2})$")


@FORMAT_CHECKER.checks("uuid", raises=ValueError)
def _is_uuid(value: object) -> bool:
    return not isinstance(value, str) or str(uuid.UUID(value)) == value


@FORMAT_CHECKER.checks("date-time", raises=ValueError)
def _is_date_time(value: object) -> bool:
    if not isinstance(value, str):
        return True
    if not _DATE_TIME.match(value):
        return False
    moment = datetime.fromisoformat(value.upper().replace("Z", "+00:00"))
    try:
        moment.astimezone(UTC)  # 9999-12-31T23:59:59-01:00 is past the last moment Python can hold
    except OverflowError:
        return False
    return True


# An RFC 5321 mailbox: dot-atom or quoted local part (at most 64 octets), then a host name or an
# address literal. Connexion's own check only looks for an "@".
_ATEXT = r"[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]"
_LOCAL = re.compile(rf'(?:{_ATEXT}+(?:\.{_ATEXT}+)*|"(?:[\x20\x21\x23-\x5b\x5d-\x7e]|\\[\x20-\x7e])*")')
_LABEL = r"[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?"
_HOST = re.compile(rf"{_LABEL}(?:\.{_LABEL})*")


@FORMAT_CHECKER.checks("email", raises=ValueError)
def _is_email(value: object) -> bool:
    if not isinstance(value, str):
        return True
    local, at, domain = value.rpartition("@")
    if not at or len(local.encode()) > 64 or not _LOCAL.fullmatch(local):
        return False
    if domain.startswith("[IPv6:") and domain.endswith("]"):
        return isinstance(ipaddress.ip_address(domain[6:-1]), ipaddress.IPv6Address)
    if domain.startswith("[") and domain.endswith("]"):
        return isinstance(ipaddress.ip_address(domain[1:-1]), ipaddress.IPv4Address)
    return _HOST.fullmatch(domain) is not None


class Compiled:
    """A schema's jsonschema validator behind its quick check (web.quickcheck): a value the check passes is
    valid; any other goes to jsonschema, which decides and says what is wrong."""

    def __init__(self, validator: Draft4Validator, quick: Check | None) -> None:
        self.validator = validator
        self.quick = quick

    def validate(self, instance: t.Any) -> None:
        if self.quick is None or not self.quick(instance):
            self.validator.validate(instance)


# Connexion builds a new validator for every parameter and body of every request; a schema's validator is
# built once here instead. Keyed by the schema's identity, kept with the schema so the identity cannot be
# reused; cleared when full (each app built, as the tests build many, brings its own schema dicts).
_COMPILED: dict[tuple[int, type[Draft4Validator]], tuple[t.Any, Compiled]] = {}
_MAX_COMPILED = 4096


def compiled(schema: t.Any, kind: type[Draft4Validator] = Draft4Validator) -> Compiled:
    key = (id(schema), kind)
    found = _COMPILED.get(key)
    if found is not None and found[0] is schema:
        return found[1]
    quick: Check | None = None
    if kind in (Draft4Validator, Draft4RequestValidator):  # the two sets of rules the quick checks know
        with contextlib.suppress(quickcheck.Unsupported):
            quick = quickcheck.build(schema, FORMAT_CHECKER, nullable_keyword=kind is Draft4RequestValidator)
    result = Compiled(kind(schema, format_checker=FORMAT_CHECKER), quick)
    if len(_COMPILED) >= _MAX_COMPILED:
        _COMPILED.clear()
    _COMPILED[key] = (schema, result)
    return result


def _reject_constant(name: str) -> t.NoReturn:
    raise ValueError(f"{name} is not valid JSON")


def _reject_duplicate_names(pairs: list[tuple[str, t.Any]]) -> dict[str, t.Any]:
    """Parsers disagree on which of two equal names wins (RFC 8259 leaves it open): a gateway that let one
    through would check one value while whatever reads the document after it might act on the other."""
    document = dict(pairs)
    if len(document) != len(pairs):
        raise ValueError("an object has the same name twice")
    return document


_SURROGATE = re.compile(r"[\ud800-\udfff]")


def _has_lone_surrogate(document: t.Any) -> bool:
    """`"\\ud800"` is valid JSON syntax but no character: it cannot be stored or hashed as UTF-8."""
    pending = [document]
    while pending:
        item = pending.pop()
        if isinstance(item, str):
            if _SURROGATE.search(item):
                return True
        elif isinstance(item, dict):
            pending.extend(item)
            pending.extend(item.values())
        elif isinstance(item, list):
            pending.extend(item)
    return False


_RULES: dict[str, str] = {
    "maxLength": "must have at most {0} characters",
    "minLength": "must have at least {0} characters",
    "maximum": "must be at most {0}",
    "minimum": "must be at least {0}",
    "maxItems": "must have at most {0} items",
    "minItems": "must have at least {0} items",
    "uniqueItems": "must not repeat an item",
    "pattern": "contains characters that are not allowed",
    "format": "is not a valid {0}",
    "type": "must be of type {0}",
    "enum": "must be one of {0}",
}


def describe(error: ValidationError, where: str) -> str:
    """Names the field and the broken rule without echoing the value: it may be huge, or a secret."""
    path = "/".join(str(part) for part in error.absolute_path)
    field = f"{where} field '{path}'" if path else where
    template = _RULES.get(str(error.validator))
    if template is not None:
        return f"The {field} {template.format(error.validator_value)}."
    if error.validator == "additionalProperties" and isinstance(error.instance, dict):
        schema = error.schema if isinstance(error.schema, dict) else {}
        allowed = set(schema.get("properties", {}))
        unknown = sorted(str(key)[:40] for key in error.instance if key not in allowed)
        return f"The {field} has unknown fields: {', '.join(unknown[:5])}."
    return f"The {field} is invalid: {error.message[:200]}"


class StrictJSONBodyValidator(JSONRequestBodyValidator):
    def _validate(self, body: t.Any) -> dict[str, t.Any] | None:
        if not self._nullable and body is None:
            raise BadRequestProblem(detail="The request body must not be empty.")
        try:
            self._validator.validate(body)
        except ValidationError as error:
            raise BadRequestProblem(detail=describe(error, "body")) from None
        return None

    @property
    def _validator(self) -> Compiled:
        return compiled(self._schema, Draft4RequestValidator)

    async def wrap_receive(self, receive: Receive, *, scope: Scope) -> tuple[Receive, Scope]:
        if self._encoding not in ("utf-8", "utf8"):
            # JSON is UTF-8 (RFC 8259); the handler's parser would not honour another charset anyway.
            raise UnsupportedMediaTypeProblem(detail="JSON is read as UTF-8 only; send charset=utf-8 or none.")
        return await super().wrap_receive(receive, scope=scope)  # type: ignore[no-any-return]

    async def _parse(self, stream: t.AsyncGenerator[bytes, None], scope: Scope) -> t.Any:
        raw = b"".join([chunk async for chunk in stream])
        try:
            text = raw.decode("utf-8")
        except UnicodeDecodeError:
            raise BadRequestProblem(detail="The request body is not valid UTF-8 text.") from None
        if not text:
            return None
        try:
            document = json.loads(text, parse_constant=_reject_constant, object_pairs_hook=_reject_duplicate_names)
        except RecursionError:
            raise BadRequestProblem(detail="The JSON document is nested too deeply.") from None
        except ValueError as error:  # includes JSONDecodeError and numbers too long to convert
            raise BadRequestProblem(detail=f"The request body is not valid JSON: {error}") from None
        if _has_lone_surrogate(document):
            raise BadRequestProblem(detail="The request body is not valid JSON: it escapes half a UTF-16 pair.")
        return document


class ConciseFormValidator(FormDataValidator):
    """Connexion's own answer (and log line) quotes the rejected value: for the password grant, the password.
    And it reads every field by the schema of the operation's first media type (JSON for POST /tokens), where
    a field such as `name` has no type: it failed with a 500. Unknown fields are refused before that."""

    async def _parse(self, stream: t.AsyncGenerator[bytes, None], scope: Scope) -> dict[str, t.Any]:
        data = await FormParser(Headers(scope=scope), stream).parse()
        form: dict[str, t.Any] = {key: data.getlist(key) for key in data}
        unknown = set(form) - set(self._schema.get("properties", {}))
        if self._strict_validation and unknown:
            raise ExtraParameterProblem(param_type="formData", extra_params=unknown)
        return self._uri_parser.resolve_form(form) if self._uri_parser is not None else form

    def _validate(self, body: t.Any) -> dict[str, t.Any] | None:
        if not isinstance(body, dict):
            raise BadRequestProblem(detail="The form could not be read.")
        if self._strict_validation:
            self._validate_params_strictly(body)
        try:
            self._validator.validate(body)
        except ValidationError as error:
            raise BadRequestProblem(detail=describe(error, "form")) from None
        return None


class ConciseParameterValidator(ParameterValidator):
    """Names the parameter and the broken rule, instead of dumping the whole schema into the answer.

    A request without a query string, to an operation without cookie parameters (a read by id, a create),
    is checked from its scope alone, in Connexion's order and with its rules: Connexion would wrap the scope
    in a Starlette request and its own, parse the empty query string and build a header map for it."""

    def __init__(
        self,
        parameters: list[dict[str, t.Any]],
        uri_parser: t.Any,
        strict_validation: bool = False,
        security_query_params: list[str] | None = None,
    ) -> None:
        super().__init__(parameters, uri_parser, strict_validation, security_query_params)
        self._from_scope = not self.parameters.get("cookie")
        # As Starlette's Headers.get finds them: the first header of that name (ASGI's are in lower case).
        headers = self.parameters.get("header", [])
        self._headers = [(param["name"].lower().encode("latin-1"), param) for param in headers]

    def validate(self, scope: Scope) -> None:
        if not self._from_scope or scope.get("query_string"):
            super().validate(scope)
            return
        for param in self.parameters.get("query", []):  # none was given: only `required` can fail
            error = self.validate_parameter("query", None, param)
            if error:
                raise BadRequestProblem(detail=error)
        path_params = self.uri_parser.resolve_path(scope.get("path_params", {}))
        for param in self.parameters.get("path", []):
            error = self.validate_parameter("path", path_params.get(param["name"].replace("-", "_")), param)
            if error:
                raise BadRequestProblem(detail=error)
        for wanted, param in self._headers:
            value = next((value for name, value in scope["headers"] if name == wanted), None)
            error = self.validate_parameter("header", None if value is None else value.decode("latin-1"), param)
            if error:
                raise BadRequestProblem(detail=error)

    @staticmethod
    def validate_parameter(
        parameter_type: str, value: t.Any, param: dict[str, t.Any], param_name: str | None = None
    ) -> str | None:
        name = param_name or param.get("name")
        if value is not None:
            try:
                compiled(param.get("schema", param)).validate(value)
            except ValidationError as error:
                return describe(error, f"{parameter_type} parameter '{name}'")
        elif param.get("required"):
            return f"The {parameter_type} parameter '{name}' is required."
        return None


validator_map = dict(VALIDATOR_MAP)
validator_map["parameter"] = ConciseParameterValidator
validator_map["body"] = MediaTypeDict(
    {
        **VALIDATOR_MAP["body"],
        "*/*json": StrictJSONBodyValidator,
        "application/x-www-form-urlencoded": ConciseFormValidator,
    }
)
