"""Rate limits as the spec declares them (info.x-gateway-limits.rateLimits, x-rate-limit): counted
before authentication, so that a password cannot be guessed at speed, in a store every worker shares.

Headers follow draft-ietf-httpapi-ratelimit-headers: `RateLimit-Policy` lists the policies a request
counted against, `RateLimit` tells what is left of the one nearest its limit, and a 429 carries
`Retry-After`. If the store cannot be reached the request passes (and the failure is logged): the
limits protect the service, they do not decide who may do what."""

from __future__ import annotations

import hashlib
import logging
import math
import time
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from connexion.exceptions import ProblemException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from storage.ratecounters import Counters
from web.resolver import handler_name

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Policy:
    name: str
    requests: int
    window_seconds: int


@dataclass(frozen=True)
class Count:
    policy: Policy
    count: int
    resets_at: float

    @property
    def remaining(self) -> int:
        return max(self.policy.requests - self.count, 0)


def policies_from_spec(spec: Mapping[str, Any]) -> tuple[dict[str, Policy], dict[str, Policy]]:
    """The declared policies by name, and the extra policy of each operation that names one (keyed by
    the name Connexion's routing gives the operation)."""
    declared = spec["info"]["x-gateway-limits"]["rateLimits"]
    policies = {name: Policy(name, rule["requests"], rule["windowSeconds"]) for name, rule in declared.items()}
    per_operation = {
        handler_name(operation): policies[operation["x-rate-limit"]]
        for path_item in spec["paths"].values()
        for method, operation in path_item.items()
        if method != "parameters" and "x-rate-limit" in operation
    }
    return policies, per_operation


def _bearer_secret(scope: Scope) -> bytes | None:
    headers: list[tuple[bytes, bytes]] = scope["headers"]
    for name, value in headers:
        if name == b"authorization":
            scheme, _, secret = value.partition(b" ")
            if scheme.lower() == b"bearer" and secret.strip():
                return secret.strip()
    return None


class RateLimit:
    def __init__(self, app: ASGIApp, *, spec: Mapping[str, Any], counters: Counters) -> None:
        self.app = app
        self.counters = counters
        self.policies, self.per_operation = policies_from_spec(spec)

    def _subjects(self, scope: Scope) -> list[tuple[Policy, str]]:
        address = (scope.get("client") or ("unknown", 0))[0]
        subjects = [(self.policies["address"], address)]
        secret = _bearer_secret(scope)
        if secret is not None:
            # Keyed by a digest: the store never holds a usable token.
            subjects.append((self.policies["token"], hashlib.sha256(secret).hexdigest()[:32]))
        operation_id = scope.get("extensions", {}).get("connexion_routing", {}).get("operation_id")
        extra = self.per_operation.get(operation_id or "")
        if extra is not None:
            subjects.append((extra, address))
        return subjects

    async def _count(self, scope: Scope) -> list[Count] | None:
        try:
            counts = []
            for policy, subject in self._subjects(scope):
                count, resets_at = await self.counters.hit(f"{policy.name}:{subject}", policy.window_seconds)
                counts.append(Count(policy, count, resets_at))
            return counts
        except Exception as error:  # whatever the store raises, the request goes on
            log.warning("rate-limit store unavailable (%s); request let through uncounted", type(error).__name__)
            return None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        counts = await self._count(scope)
        if counts is None:
            await self.app(scope, receive, send)
            return
        now = time.time()
        nearest = min(counts, key=lambda c: (c.remaining, -c.resets_at))
        reset_in = max(math.ceil(nearest.resets_at - now), 0)
        headers = {
            "RateLimit-Policy": ", ".join(
                f'"{c.policy.name}";q={c.policy.requests};w={c.policy.window_seconds}' for c in counts
            ),
            "RateLimit": f'"{nearest.policy.name}";r={nearest.remaining};t={reset_in}',
        }
        exceeded = [c for c in counts if c.count > c.policy.requests]
        if exceeded:
            wait = max(math.ceil(c.resets_at - now) for c in exceeded)
            names = ", ".join(c.policy.name for c in exceeded)
            raise ProblemException(
                status=429,
                title="Too Many Requests",
                detail=f"Rate limit reached ({names}). Retry in {wait} seconds.",
                headers=headers | {"Retry-After": str(wait)},
            )
        encoded = [(name.lower().encode(), value.encode()) for name, value in headers.items()]

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                message = {**message, "headers": [*message.get("headers", []), *encoded]}
            await send(message)

        await self.app(scope, receive, send_with_headers)
