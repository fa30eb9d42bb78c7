"""Deprecation (RFC 9745) and Sunset (RFC 8594) headers on every answer of an operation the spec deprecates.

A deprecated operation (`deprecated: true`) states `x-deprecated-at`, when it was deprecated, and
`x-sunset`, when it may stop working: ISO dates (midnight UTC) or date-times. It may name a page on what
to use instead in `x-deprecation-link`. They are read once, at start; a deprecated operation without
both dates stops the service from starting, as Spectral stops the build (.spectral.yaml). Added to
every answer of the operation, errors too, by web.edge."""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from email.utils import format_datetime
from typing import Any

from web.resolver import handler_name

METHODS = ("get", "put", "post", "delete", "options", "head", "patch", "trace")
Headers = list[tuple[bytes, bytes]]


def deprecation_headers(spec: Mapping[str, Any]) -> dict[str, Headers]:
    """The headers the answers of each deprecated operation carry, keyed by the name Connexion's routing
    gives the operation."""
    found: dict[str, Headers] = {}
    for item in spec["paths"].values():
        for method in METHODS:
            operation = item.get(method)
            if not operation or not operation.get("deprecated"):
                continue
            name = operation["operationId"]
            try:
                deprecated_at = moment(operation["x-deprecated-at"])
                sunset = moment(operation["x-sunset"])
            except (KeyError, ValueError, TypeError) as error:
                raise ValueError(
                    f"{name} is deprecated: it needs x-deprecated-at and x-sunset, ISO dates ({error!r})"
                ) from None
            if sunset <= deprecated_at:
                raise ValueError(f"{name}: x-sunset must come after x-deprecated-at")
            headers = [
                (b"deprecation", f"@{int(deprecated_at.timestamp())}".encode()),
                (b"sunset", format_datetime(sunset, usegmt=True).encode()),
            ]
            if link := operation.get("x-deprecation-link"):
                headers.append((b"link", f'<{link}>; rel="deprecation"'.encode()))
            found[handler_name(operation)] = headers
    return found


def moment(value: object) -> dt.datetime:
    """An ISO date or date-time, in UTC. YAML may have read it as a date or datetime already."""
    if isinstance(value, str):
        value = dt.datetime.fromisoformat(value)
    if isinstance(value, dt.datetime):
        return value.replace(tzinfo=value.tzinfo or dt.UTC).astimezone(dt.UTC)
    if isinstance(value, dt.date):
        return dt.datetime.combine(value, dt.time(), tzinfo=dt.UTC)
    raise TypeError(f"not a date: {value!r}")
