"""The peers Gateway is measured against (benchmarks/http/peers) serve the same posts from the same
database, within the spec's limits: the comparison in `make bench` is fair only while this holds."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest
from starlette.testclient import TestClient

from app import create_app
from benchmarks.http import preflight
from benchmarks.http.dataset import Dataset, count_posts, prepare
from benchmarks.http.endpoints import INVALID_POST, PAGE_SIZE, VALID_POST
from benchmarks.http.peers import fastapi_peer, flask_peer
from settings import Settings

POSTS = "/api/v1/posts"


class Stack:
    """One stack's answers, as status and JSON, whatever its framework's test client."""

    def __init__(self, name: str, client: Any) -> None:
        self.name = name
        self.client = client

    def get(self, path: str) -> tuple[int, Any]:
        response = self.client.get(path)
        return response.status_code, json.loads(response.text)

    def post(self, body: dict[str, str], token: str) -> int:
        headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/json"}
        status: int = self.client.post(POSTS, content=json.dumps(body), headers=headers).status_code
        return status


class FlaskClient:
    """Flask's test client takes `data`, where httpx's takes `content`."""

    def __init__(self, client: Any) -> None:
        self.client = client

    def get(self, path: str) -> Any:
        return self.client.get(path)

    def post(self, path: str, *, content: str, headers: dict[str, str]) -> Any:
        return self.client.post(path, data=content, headers=headers)


@pytest.fixture
def dataset(database_url: str) -> Dataset:
    return prepare(database_url, 3)


@pytest.fixture
def stacks(settings: Settings, dataset: Dataset, monkeypatch: pytest.MonkeyPatch) -> Iterator[list[Stack]]:
    monkeypatch.setenv("DATABASE_URL", dataset.database_url)  # how the peers are told their database
    flask_app = flask_peer.create_app()
    with create_app(settings).test_client() as gateway, TestClient(fastapi_peer.create_app()) as fastapi:
        yield [
            Stack("gateway", gateway),
            Stack("flask", FlaskClient(flask_app.test_client())),
            Stack("fastapi", fastapi),
        ]


def test_the_peers_validate_with_the_specs_limits() -> None:
    preflight.spec_limits_match()


def test_every_stack_reads_the_same_post_and_page(stacks: list[Stack], dataset: Dataset) -> None:
    posts = {stack.name: stack.get(f"{POSTS}/{dataset.post_id}") for stack in stacks}
    pages = {stack.name: stack.get(f"{POSTS}?limit={PAGE_SIZE}") for stack in stacks}

    assert posts["gateway"][0] == 200
    assert posts["flask"] == posts["gateway"]
    assert posts["fastapi"] == posts["gateway"]
    assert pages["gateway"][0] == 200
    assert len(pages["gateway"][1]["items"]) == dataset.seeded
    assert pages["flask"] == pages["gateway"]
    assert pages["fastapi"] == pages["gateway"]


def test_every_stack_creates_a_post_and_refuses_a_bad_one(stacks: list[Stack], dataset: Dataset) -> None:
    refused = {stack.name: stack.post(INVALID_POST, dataset.token) for stack in stacks}
    after_refusals = count_posts(dataset.database_url)
    created = {stack.name: stack.post(VALID_POST, dataset.token) for stack in stacks}

    assert refused == {"gateway": 400, "flask": 400, "fastapi": 422}
    assert after_refusals == dataset.seeded
    assert created == {"gateway": 201, "flask": 201, "fastapi": 201}
    assert count_posts(dataset.database_url) == dataset.seeded + len(stacks)
