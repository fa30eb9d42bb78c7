"""Checks before any load: the peers' hand-written limits are the spec's, and every stack answers every
endpoint with the expected status and the same JSON shape (a fast wrong answer would win the benchmark).

Reads (get, list) are compared across stacks before any create, while all of them see the same rows."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import httpx
import yaml

from benchmarks.http.endpoints import PAGE_SIZE, POST_FIELDS, VALID_POST, Endpoint
from benchmarks.http.peers import common
from benchmarks.http.servers import ROOT, Server

SPEC = ROOT / "spec" / "openapi.yaml"


class CheckFailed(RuntimeError):
    pass


@dataclass(frozen=True)
class Probe:
    status: int
    body: Any
    closes_connection: bool  # `Connection: close`: wrk must open a new connection for every request


@dataclass(frozen=True)
class Checked:
    statuses: dict[str, dict[str, int]]  # {stack: {endpoint: status}}
    closes_connections: list[str]  # stacks that answered with `Connection: close`


def spec_limits_match() -> None:
    """The peers validate with constants written by hand: they must be the spec's."""
    spec = yaml.safe_load(SPEC.read_text(encoding="utf-8"))
    schemas, parameters = spec["components"]["schemas"], spec["components"]["parameters"]
    title, body, limit = schemas["Title"], schemas["Body"], parameters["Limit"]["schema"]
    expected = {
        "Title.minLength": (title["minLength"], common.TITLE_MIN_LENGTH),
        "Title.maxLength": (title["maxLength"], common.TITLE_MAX_LENGTH),
        "Title.pattern": (title["pattern"], common.TITLE_PATTERN),
        "Body.maxLength": (body["maxLength"], common.BODY_MAX_LENGTH),
        "Body.pattern": (body["pattern"], common.BODY_PATTERN),
        "PostCreate.required": (sorted(schemas["PostCreate"]["required"]), sorted(common.POST_FIELDS)),
        "PostCreate.additionalProperties": (schemas["PostCreate"]["additionalProperties"], False),
        "Limit.minimum": (limit["minimum"], common.LIMIT_MIN),
        "Limit.maximum": (limit["maximum"], common.LIMIT_MAX),
        "Limit.default": (limit["default"], common.LIMIT_DEFAULT),
        "Id.pattern": (schemas["Id"]["pattern"], common.ID_PATTERN),
        "Cursor.pattern": (schemas["Cursor"]["pattern"], common.CURSOR_PATTERN),
        "Cursor.maxLength": (schemas["Cursor"]["maxLength"], common.CURSOR_MAX_LENGTH),
        "maxRequestBodyBytes": (spec["info"]["x-gateway-limits"]["maxRequestBodyBytes"], common.MAX_BODY_BYTES),
    }
    drifted = [
        f"{name}: spec {theirs!r}, peers {ours!r}" for name, (theirs, ours) in expected.items() if theirs != ours
    ]
    if drifted:
        raise CheckFailed("The peers' limits differ from spec/openapi.yaml:\n  " + "\n  ".join(drifted))


def probe(server: Server, endpoint: Endpoint, token: str) -> Probe:
    headers = {"Authorization": f"Bearer {token}"} if endpoint.authenticated else {}
    if endpoint.body is not None:
        headers["Content-Type"] = "application/json"
    answer = httpx.request(
        endpoint.method, server.base_url + endpoint.path, content=endpoint.body, headers=headers, timeout=10.0
    )
    try:
        body = answer.json()
    except ValueError:
        body = answer.text[:300]
    if answer.status_code not in endpoint.expected:
        raise CheckFailed(
            f"{server.stack.name} answered {endpoint.describe()} with {answer.status_code}, "
            f"expected {' or '.join(map(str, sorted(endpoint.expected)))}: {str(body)[:300]}"
        )
    return Probe(answer.status_code, body, answer.headers.get("Connection", "").lower() == "close")


def _is_post(value: Any) -> bool:
    return isinstance(value, dict) and set(value) == POST_FIELDS


def check_shape(stack: str, endpoint: Endpoint, found: Probe) -> None:
    body = found.body
    if endpoint.name in ("get", "create") and not _is_post(body):
        raise CheckFailed(f"{stack}: {endpoint.describe()} is not a post with {sorted(POST_FIELDS)}: {body!r:.300}")
    if endpoint.name == "create" and (body["title"], body["body"]) != (VALID_POST["title"], VALID_POST["body"]):
        raise CheckFailed(f"{stack}: the created post is not the one sent: {body!r:.300}")
    if endpoint.name == "list" and not (
        isinstance(body, dict)
        and set(body) == {"items", "next_cursor"}
        and len(body["items"]) == PAGE_SIZE
        and all(_is_post(item) for item in body["items"])
    ):
        raise CheckFailed(f"{stack}: {endpoint.describe()} is not a page of {PAGE_SIZE} posts: {body!r:.300}")


def check(servers: Sequence[Server], endpoints: Sequence[Endpoint], token: str) -> Checked:
    """The status each stack answers each endpoint with, and which stacks close connections; raises CheckFailed."""
    statuses: dict[str, dict[str, int]] = {server.stack.name: {} for server in servers}
    closing: set[str] = set()
    # Reads first, on every stack, so that they all see the same rows; then the writes.
    for endpoint in sorted(endpoints, key=lambda endpoint: endpoint.method != "GET"):
        answers: dict[str, Probe] = {}
        for server in servers:
            found = probe(server, endpoint, token)
            check_shape(server.stack.name, endpoint, found)
            answers[server.stack.name] = found
            statuses[server.stack.name][endpoint.name] = found.status
            if found.closes_connection:
                closing.add(server.stack.name)
        if endpoint.method == "GET":
            same_answers(endpoint, answers)
    return Checked(statuses, [server.stack.name for server in servers if server.stack.name in closing])


def same_answers(endpoint: Endpoint, answers: Mapping[str, Probe]) -> None:
    """Same database, same rows: a read must give the same JSON on every stack."""
    reference_stack, reference = next(iter(answers.items()))
    for stack, found in answers.items():
        if found.body != reference.body:
            raise CheckFailed(
                f"{stack} and {reference_stack} answer {endpoint.describe()} differently:\n"
                f"  {stack}: {found.body!r:.300}\n  {reference_stack}: {reference.body!r:.300}"
            )
