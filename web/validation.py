"""Stricter request parsing than Connexion's default: bad bytes and odd JSON are 400s, never 500s,
and the formats our contract relies on are really checked."""

from __future__ import annotations

import json
import re
import typing as t
import uuid
from datetime import datetime

from connexion.exceptions import BadRequestProblem
from connexion.json_schema import Draft4RequestValidator
from connexion.validators import VALIDATOR_MAP, JSONRequestBodyValidator, ParameterValidator
from connexion.datastructures import MediaTypeDict
from jsonschema import Draft4Validator, FormatChecker, ValidationError
from starlette.types import Scope

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
    datetime.fromisoformat(value.upper().replace("Z", "+00:00"))
    return True


def _reject_constant(name: str) -> t.NoReturn:
    raise ValueError(f"{name} is not valid JSON")


class StrictJSONBodyValidator(JSONRequestBodyValidator):
    @property
    def _validator(self) -> Draft4RequestValidator:
        return Draft4RequestValidator(self._schema, format_checker=FORMAT_CHECKER)

    async def _parse(self, stream: t.AsyncGenerator[bytes, None], scope: Scope) -> t.Any:
        raw = b"".join([chunk async for chunk in stream])
        try:
            text = raw.decode(self._encoding)
        except (UnicodeDecodeError, LookupError):
            raise BadRequestProblem(detail=f"The request body is not valid {self._encoding} text.") from None
        if not text:
            return None
        try:
            return json.loads(text, parse_constant=_reject_constant)
        except RecursionError:
            raise BadRequestProblem(detail="The JSON document is nested too deeply.") from None
        except ValueError as error:  # includes JSONDecodeError and numbers too long to convert
            raise BadRequestProblem(detail=f"The request body is not valid JSON: {error}") from None


class ConciseParameterValidator(ParameterValidator):
    """Names the parameter and the broken rule, instead of dumping the whole schema into the answer."""

    @staticmethod
    def validate_parameter(
        parameter_type: str, value: t.Any, param: dict[str, t.Any], param_name: str | None = None
    ) -> str | None:
        name = param_name or param.get("name")
        if value is not None:
            try:
                Draft4Validator(param.get("schema", param), format_checker=FORMAT_CHECKER).validate(value)
            except ValidationError as error:
                return f"The {parameter_type} parameter '{name}' is invalid: {error.message}"
        elif param.get("required"):
            return f"The {parameter_type} parameter '{name}' is required."
        return None


validator_map = dict(VALIDATOR_MAP)
validator_map["parameter"] = ConciseParameterValidator
validator_map["body"] = MediaTypeDict({**VALIDATOR_MAP["body"], "*/*json": StrictJSONBodyValidator})
