"""Posts: write, read, list newest first, change with preconditions, delete."""

from __future__ import annotations

import uuid

import pytest
from starlette.testclient import TestClient

from domain import posts
from domain.access import Actor
from domain.errors import NotFound
from storage.db import Database
from tests.conftest import Account, SignUp

POST = {"title": "Hello", "body": "First post."}


def write(client: TestClient, author: Account, title: str = "Hello") -> dict[str, str]:
    response = client.post("/api/v1/posts", json={"title": title, "body": "..."}, headers=author.auth)
    assert response.status_code == 201, response.text
    return dict(response.json())


def test_creating_a_post_makes_the_caller_its_author(client: TestClient, sign_up: SignUp) -> None:
    ada = sign_up()

    response = client.post("/api/v1/posts", json=POST, headers=ada.auth)

    assert response.status_code == 201
    post = response.json()
    assert post["author_id"] == ada.id
    assert post["title"] == "Hello"
    assert response.headers["Location"] == f"/api/v1/posts/{post['id']}"
    assert client.get(response.headers["Location"]).json() == post


def test_a_client_cannot_choose_the_author_or_the_id(client: TestClient, sign_up: SignUp) -> None:
    ada = sign_up()
    bob = sign_up()

    for forged in ({"author_id": bob.id}, {"id": str(uuid.uuid4())}, {"created_at": "2020-01-01T00:00:00Z"}):
        response = client.post("/api/v1/posts", json=POST | forged, headers=ada.auth)
        assert response.status_code == 400
    assert client.get("/api/v1/posts").json()["items"] == []


def test_creating_needs_a_token_with_posts_write(client: TestClient, sign_up: SignUp) -> None:
    reader = sign_up(scopes=["users:write"])

    anonymous = client.post("/api/v1/posts", json=POST)
    unscoped = client.post("/api/v1/posts", json=POST, headers=reader.auth)
    forged = client.post("/api/v1/posts", json=POST, headers={"Authorization": "Bearer gw_forged"})

    assert anonymous.status_code == 401
    assert anonymous.headers["WWW-Authenticate"] == 'Bearer realm="gateway"'
    assert unscoped.status_code == 403
    assert forged.status_code == 401
    assert client.get("/api/v1/posts").json()["items"] == []


def test_posts_are_listed_newest_first_and_filtered_by_author(client: TestClient, sign_up: SignUp) -> None:
    ada = sign_up()
    bob = sign_up()
    first = write(client, ada, "one")
    second = write(client, bob, "two")
    third = write(client, ada, "three")

    everything = client.get("/api/v1/posts").json()
    by_ada = client.get("/api/v1/posts", params={"author_id": ada.id}).json()

    assert [p["id"] for p in everything["items"]] == [third["id"], second["id"], first["id"]]
    assert [p["id"] for p in by_ada["items"]] == [third["id"], first["id"]]
    assert everything["next_cursor"] is None


def test_paging_is_stable_while_posts_are_inserted(client: TestClient, sign_up: SignUp) -> None:
    ada = sign_up()
    older = [write(client, ada, f"post {n}")["id"] for n in range(5)]

    first = client.get("/api/v1/posts", params={"limit": 2}).json()
    write(client, ada, "newer than the first page")
    rest: list[str] = []
    cursor = first["next_cursor"]
    while cursor:
        page = client.get("/api/v1/posts", params={"limit": 2, "cursor": cursor}).json()
        rest += [p["id"] for p in page["items"]]
        cursor = page["next_cursor"]

    assert [p["id"] for p in first["items"]] + rest == older[::-1]


def test_one_authors_posts_are_paged_without_anyone_elses(client: TestClient, sign_up: SignUp) -> None:
    ada = sign_up()
    bob = sign_up()
    adas = []
    for n in range(5):
        adas.append(write(client, ada, f"ada {n}")["id"])
        write(client, bob, f"bob {n}")

    seen: list[str] = []
    pages = 0
    params: dict[str, str | int] = {"author_id": ada.id, "limit": 2}
    while True:
        page = client.get("/api/v1/posts", params=params).json()
        seen += [p["id"] for p in page["items"]]
        pages += 1
        if page["next_cursor"] is None:
            break
        params["cursor"] = page["next_cursor"]

    assert seen == adas[::-1]
    assert pages == 3


def test_page_size_is_bounded(client: TestClient) -> None:
    for limit in (0, 101, -1, "many"):
        response = client.get("/api/v1/posts", params={"limit": limit})
        assert response.status_code == 400, limit
        assert response.headers["Content-Type"] == "application/problem+json"


def test_a_cursor_the_service_did_not_issue_is_a_400(client: TestClient) -> None:
    for cursor in ("nonsense", "WyJ4IiwgMV0", "a b", "x" * 300):
        response = client.get("/api/v1/posts", params={"cursor": cursor})
        assert response.status_code == 400, cursor


def test_get_answers_304_to_a_current_if_none_match(client: TestClient, sign_up: SignUp) -> None:
    ada = sign_up()
    created = client.post("/api/v1/posts", json=POST, headers=ada.auth)
    etag = created.headers["ETag"]

    cached = client.get(created.headers["Location"], headers={"If-None-Match": etag})
    weak = client.get(created.headers["Location"], headers={"If-None-Match": f"W/{etag}"})
    stale = client.get(created.headers["Location"], headers={"If-None-Match": '"something else"'})

    assert cached.status_code == 304
    assert cached.content == b""
    assert cached.headers["ETag"] == etag
    assert weak.status_code == 304
    assert stale.status_code == 200


def test_if_match_stops_a_lost_update(client: TestClient, sign_up: SignUp) -> None:
    ada = sign_up()
    created = client.post("/api/v1/posts", json=POST, headers=ada.auth)
    url, etag = created.headers["Location"], created.headers["ETag"]

    first = client.patch(url, json={"title": "first writer"}, headers=ada.auth | {"If-Match": etag})
    second = client.patch(url, json={"title": "second writer"}, headers=ada.auth | {"If-Match": etag})

    assert first.status_code == 200
    assert first.headers["ETag"] != etag
    assert second.status_code == 412
    assert second.headers["Content-Type"] == "application/problem+json"
    assert client.get(url).json()["title"] == "first writer"


def test_if_match_applies_to_put_and_delete_too(client: TestClient, sign_up: SignUp) -> None:
    ada = sign_up()
    created = client.post("/api/v1/posts", json=POST, headers=ada.auth)
    url, etag = created.headers["Location"], created.headers["ETag"]

    stale = {"If-Match": '"stale"'}
    assert client.put(url, json=POST | {"title": "x"}, headers=ada.auth | stale).status_code == 412
    assert client.delete(url, headers=ada.auth | stale).status_code == 412
    assert client.delete(url, headers=ada.auth | {"If-Match": f"W/{etag}"}).status_code == 412
    assert client.put(url, json=POST | {"title": "new"}, headers=ada.auth | {"If-Match": "*"}).status_code == 200
    current = client.get(url).headers["ETag"]
    assert client.delete(url, headers=ada.auth | {"If-Match": current}).status_code == 204
    assert client.get(url).status_code == 404


def test_put_replaces_and_patch_merges(client: TestClient, sign_up: SignUp) -> None:
    ada = sign_up()
    url = client.post("/api/v1/posts", json=POST, headers=ada.auth).headers["Location"]

    put = client.put(url, json={"title": "Replaced", "body": "All new"}, headers=ada.auth)
    incomplete_put = client.put(url, json={"title": "Only a title"}, headers=ada.auth)
    patch = client.patch(
        url,
        content=b'{"body": "Patched"}',
        headers=ada.auth | {"Content-Type": "application/merge-patch+json"},
    )

    assert put.status_code == 200
    assert incomplete_put.status_code == 400
    assert patch.json()["title"] == "Replaced"
    assert patch.json()["body"] == "Patched"
    assert patch.json()["updated_at"] >= patch.json()["created_at"]


def test_only_the_author_or_an_administrator_may_change_a_post(
    client: TestClient, sign_up: SignUp, make_admin: SignUp
) -> None:
    ada = sign_up()
    bob = sign_up()
    admin = make_admin()
    url = client.post("/api/v1/posts", json=POST, headers=ada.auth).headers["Location"]

    assert client.patch(url, json={"title": "mine now"}, headers=bob.auth).status_code == 403
    assert client.put(url, json=POST, headers=bob.auth).status_code == 403
    assert client.delete(url, headers=bob.auth).status_code == 403
    assert client.get(url).json()["title"] == "Hello"
    assert client.patch(url, json={"title": "moderated"}, headers=admin.auth).status_code == 200
    assert client.delete(url, headers=admin.auth).status_code == 204


def test_a_missing_post_is_a_404_for_every_method(client: TestClient, sign_up: SignUp) -> None:
    ada = sign_up()
    url = f"/api/v1/posts/{uuid.uuid4()}"

    assert client.get(url).status_code == 404
    assert client.put(url, json=POST, headers=ada.auth).status_code == 404
    assert client.patch(url, json=POST, headers=ada.auth).status_code == 404
    assert client.delete(url, headers=ada.auth).status_code == 404


def test_a_post_whose_author_is_gone_by_the_time_it_is_written_is_not_found_and_nothing_is_written(
    database_url: str,
) -> None:
    db = Database(database_url)
    deleted_meanwhile = Actor(user_id=str(uuid.uuid4()), scopes=frozenset({"posts:write"}), is_admin=False)

    with pytest.raises(NotFound, match="account no longer exists"):
        posts.create(db, deleted_meanwhile, title="Hello", body="First post.")

    assert posts.list_page(db, author_id=None, limit=10, cursor=None).items == []
    db.dispose()
