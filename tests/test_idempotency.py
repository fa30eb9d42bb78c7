"""Idempotency-Key on creates: a retried POST gets the first answer back instead of making a duplicate."""

from __future__ import annotations

import uuid
from concurrent.futures import ThreadPoolExecutor

from starlette.testclient import TestClient

from tests.conftest import SignUp

POST = {"title": "Hello", "body": "Sent twice over a flaky network."}


def key() -> dict[str, str]:
    return {"Idempotency-Key": str(uuid.uuid4())}


def titles(client: TestClient, author_id: str) -> list[str]:
    return [post["title"] for post in client.get("/api/v1/posts", params={"author_id": author_id}).json()["items"]]


def test_a_retried_create_returns_the_first_result(client: TestClient, sign_up: SignUp) -> None:
    ada = sign_up()
    headers = ada.auth | key()

    first = client.post("/api/v1/posts", json=POST, headers=headers)
    retry = client.post("/api/v1/posts", json=POST, headers=headers)

    assert first.status_code == retry.status_code == 201
    assert retry.json() == first.json()
    assert retry.headers["Location"] == first.headers["Location"]
    assert retry.headers["ETag"] == first.headers["ETag"]
    assert retry.headers["Idempotent-Replayed"] == "true"
    assert "Idempotent-Replayed" not in first.headers
    assert titles(client, ada.id) == ["Hello"]


def test_the_same_key_with_a_different_body_is_refused(client: TestClient, sign_up: SignUp) -> None:
    ada = sign_up()
    headers = ada.auth | key()
    client.post("/api/v1/posts", json=POST, headers=headers)

    reused = client.post("/api/v1/posts", json=POST | {"title": "Something else"}, headers=headers)

    assert reused.status_code == 422
    assert reused.headers["Content-Type"] == "application/problem+json"
    assert titles(client, ada.id) == ["Hello"]


def test_keys_belong_to_their_caller(client: TestClient, sign_up: SignUp) -> None:
    ada, bob = sign_up(), sign_up()
    shared = key()

    adas = client.post("/api/v1/posts", json=POST, headers=ada.auth | shared)
    bobs = client.post("/api/v1/posts", json=POST, headers=bob.auth | shared)

    assert bobs.status_code == 201
    assert bobs.json()["id"] != adas.json()["id"]
    assert bobs.json()["author_id"] == bob.id


def test_a_retried_sign_up_is_one_account_not_a_conflict(client: TestClient) -> None:
    account = {"name": "Ada", "email": "ada@example.com", "password": "correct horse battery"}
    headers = key()

    first = client.post("/api/v1/users", json=account, headers=headers)
    retry = client.post("/api/v1/users", json=account, headers=headers)
    without_key = client.post("/api/v1/users", json=account)

    assert first.status_code == retry.status_code == 201
    assert retry.json()["id"] == first.json()["id"]
    assert without_key.status_code == 409


def test_a_refused_first_request_is_not_kept(client: TestClient, sign_up: SignUp) -> None:
    ada = sign_up()
    headers = ada.auth | key()

    refused = client.post("/api/v1/posts", json={"title": "x" * 201, "body": "Too long a title."}, headers=headers)
    corrected = client.post("/api/v1/posts", json=POST, headers=headers)

    assert refused.status_code == 400
    assert corrected.status_code == 201
    assert "Idempotent-Replayed" not in corrected.headers


def test_retries_at_the_same_moment_create_one_post(client: TestClient, sign_up: SignUp) -> None:
    ada = sign_up()
    headers = ada.auth | key()

    with ThreadPoolExecutor(max_workers=6) as pool:
        answers = list(pool.map(lambda _: client.post("/api/v1/posts", json=POST, headers=headers), range(6)))

    assert {answer.status_code for answer in answers} <= {201, 409}
    assert len({answer.json()["id"] for answer in answers if answer.status_code == 201}) == 1
    assert titles(client, ada.id) == ["Hello"]


def test_a_malformed_key_is_a_400(client: TestClient, sign_up: SignUp) -> None:
    ada = sign_up()

    response = client.post("/api/v1/posts", json=POST, headers=ada.auth | {"Idempotency-Key": "x" * 256})

    assert response.status_code == 400
    assert titles(client, ada.id) == []
