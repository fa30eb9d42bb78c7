"""The mock server a frontend team runs before it has the API (`make mock`): Prism over the spec.

It answers from the spec alone, so these tests check what a frontend builds on: public reads answer
the spec's examples, writes need a token, and a body the spec forbids is refused. Prism ignores
`servers`: its routes have no /api/v1 prefix."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from openapi_schema_validator import OAS30ReadValidator

from app import load_spec
from tests.servers import ROOT, free_port, running

PRISM = ROOT / "node_modules" / ".bin" / "prism"
SPEC = load_spec()
SCHEMAS = SPEC["components"]["schemas"]
POST = {"title": "Hello", "body": "First post."}


def assert_conforms(body: Any, schema: str) -> None:
    """The body is valid against the named schema of the spec, as a response (writeOnly fields absent)."""
    document = {"components": SPEC["components"], "$ref": f"#/components/schemas/{schema}"}
    OAS30ReadValidator(document, format_checker=OAS30ReadValidator.FORMAT_CHECKER).validate(body)


@pytest.fixture(scope="module")
def mock(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """`make mock`, on a free port."""
    port = free_port()
    command: list[str | Path] = [PRISM, "mock", "spec/openapi.yaml", "--host", "127.0.0.1", "--port", str(port)]
    base = f"http://127.0.0.1:{port}"
    log = tmp_path_factory.mktemp("prism") / "prism.log"
    with running(command, f"{base}/users", log, os.environ):
        yield base


def test_a_public_read_answers_with_the_examples_of_the_spec(mock: str) -> None:
    answer = httpx.get(f"{mock}/users")

    assert answer.status_code == 200
    assert answer.headers["Content-Type"] == "application/json"
    assert_conforms(answer.json(), "UserPage")
    user = answer.json()["items"][0]
    assert (user["id"], user["name"]) == (SCHEMAS["Id"]["example"], SCHEMAS["Name"]["example"])


def test_a_write_without_a_token_answers_401_with_a_problem(mock: str) -> None:
    answer = httpx.post(f"{mock}/posts", json=POST)

    assert answer.status_code == 401
    assert answer.headers["Content-Type"] == "application/problem+json"
    assert "WWW-Authenticate" in answer.headers
    assert_conforms(answer.json(), "Problem")


def test_a_write_with_any_bearer_token_answers_201_with_the_example(mock: str) -> None:
    answer = httpx.post(f"{mock}/posts", json=POST, headers={"Authorization": "Bearer any-token-will-do"})

    assert answer.status_code == 201
    assert "Location" in answer.headers
    assert_conforms(answer.json(), "Post")


@pytest.mark.parametrize(
    ("path", "body", "violation"),
    [
        ("/users", {"name": "Ada Lovelace"}, "must have required property 'email'"),
        ("/users", {**POST, "name": "Ada", "email": "ada@example.com", "password": "long enough"}, "additional"),
        ("/posts", {**POST, "title": "x" * 201}, "must NOT have more than 200 characters"),
    ],
    ids=["missing-field", "unknown-field", "too-long"],
)
def test_a_body_the_spec_forbids_is_refused(mock: str, path: str, body: dict[str, Any], violation: str) -> None:
    answer = httpx.post(f"{mock}{path}", json=body, headers={"Authorization": "Bearer any-token-will-do"})

    # Prism answers a request it refuses with 422 where the operation documents one (the creates do, for
    # reused Idempotency-Keys), else with 400.
    assert answer.status_code in (400, 422)
    assert answer.headers["Content-Type"] == "application/problem+json"
    # Prism names what is wrong in a header of its own; the body is the spec's Problem, made up.
    assert violation in answer.headers["sl-violations"]
    assert_conforms(answer.json(), "Problem")
