"""Users: sign up, read, list, replace, update, delete, and /me."""

from __future__ import annotations

import uuid

from starlette.testclient import TestClient

from tests.conftest import SignUp, basic

SIGN_UP = {"name": "Ada Lovelace", "email": "ada@example.com", "password": "correct horse battery"}


def test_sign_up_returns_the_account_with_location_and_etag(client: TestClient) -> None:
    response = client.post("/api/v1/users", json=SIGN_UP)

    assert response.status_code == 201
    user = response.json()
    assert response.headers["Location"] == f"/api/v1/users/{user['id']}"
    assert response.headers["ETag"].startswith('"')
    assert user["name"] == "Ada Lovelace"
    assert user["email"] == "ada@example.com"
    assert user["is_admin"] is False
    assert "password" not in user
    assert "password_hash" not in user
    assert uuid.UUID(user["id"]).version == 4


def test_ids_are_random_and_never_reused(client: TestClient, sign_up: SignUp) -> None:
    first = sign_up()
    client.delete(f"/api/v1/users/{first.id}", headers=first.auth)
    second = sign_up()

    assert first.id != second.id
    assert not first.id.isdigit()


def test_an_email_can_be_taken_once_whatever_its_case(client: TestClient) -> None:
    client.post("/api/v1/users", json=SIGN_UP)
    again = client.post("/api/v1/users", json=SIGN_UP | {"email": "ADA@Example.com"})

    assert again.status_code == 409
    assert again.headers["Content-Type"] == "application/problem+json"
    assert again.json()["title"] == "Conflict"
    assert len(client.get("/api/v1/users").json()["items"]) == 1


def test_sign_up_rejects_unknown_fields_and_bad_values(client: TestClient) -> None:
    cases = [
        SIGN_UP | {"is_admin": True},
        SIGN_UP | {"id": str(uuid.uuid4())},
        SIGN_UP | {"email": "not an email"},
        SIGN_UP | {"password": "short"},
        SIGN_UP | {"name": ""},
        SIGN_UP | {"name": "x" * 101},
        SIGN_UP | {"name": "nul\u0000byte"},
        {"name": "Ada", "email": "ada@example.com"},
    ]
    for body in cases:
        response = client.post("/api/v1/users", json=body)
        assert response.status_code == 400, body
        assert response.headers["Content-Type"] == "application/problem+json"
    assert client.get("/api/v1/users").json()["items"] == []


def test_email_is_shown_only_to_its_owner_and_to_administrators(
    client: TestClient, sign_up: SignUp, make_admin: SignUp
) -> None:
    ada = sign_up("Ada")
    bob = sign_up("Bob")
    admin = make_admin()

    assert "email" not in client.get(f"/api/v1/users/{ada.id}").json()
    assert "email" not in client.get(f"/api/v1/users/{ada.id}", headers=bob.auth).json()
    assert client.get(f"/api/v1/users/{ada.id}", headers=ada.auth).json()["email"] == ada.email
    assert client.get(f"/api/v1/users/{ada.id}", headers=admin.auth).json()["email"] == ada.email
    listed = {user["id"]: user for user in client.get("/api/v1/users", headers=bob.auth).json()["items"]}
    assert "email" not in listed[ada.id]
    assert listed[bob.id]["email"] == bob.email


def test_reading_a_missing_user_is_a_404_problem(client: TestClient) -> None:
    response = client.get(f"/api/v1/users/{uuid.uuid4()}")

    assert response.status_code == 404
    assert response.headers["Content-Type"] == "application/problem+json"
    assert response.json()["status"] == 404


def test_put_replaces_name_and_email(client: TestClient, sign_up: SignUp) -> None:
    ada = sign_up("Ada")

    response = client.put(
        f"/api/v1/users/{ada.id}", json={"name": "Ada King", "email": "king@example.com"}, headers=ada.auth
    )

    assert response.status_code == 200
    assert response.json()["name"] == "Ada King"
    assert response.json()["email"] == "king@example.com"
    assert client.get(f"/api/v1/users/{ada.id}").json()["name"] == "Ada King"


def test_put_with_a_password_changes_the_password(client: TestClient, sign_up: SignUp) -> None:
    ada = sign_up("Ada")
    body = {"name": "Ada", "email": ada.email, "password": "a brand new secret"}

    assert client.put(f"/api/v1/users/{ada.id}", json=body, headers=ada.auth).status_code == 200
    assert client.post("/api/v1/tokens", headers=basic(ada.email, ada.password)).status_code == 401
    assert client.post("/api/v1/tokens", headers=basic(ada.email, "a brand new secret")).status_code == 201


def test_patch_is_a_json_merge_patch(client: TestClient, sign_up: SignUp) -> None:
    ada = sign_up("Ada")

    response = client.patch(
        f"/api/v1/users/{ada.id}",
        content=b'{"name": "Countess"}',
        headers=ada.auth | {"Content-Type": "application/merge-patch+json"},
    )

    assert response.status_code == 200
    assert response.json()["name"] == "Countess"
    assert response.json()["email"] == ada.email


def test_patch_rejects_null_for_a_required_field(client: TestClient, sign_up: SignUp) -> None:
    ada = sign_up("Ada")

    response = client.patch(f"/api/v1/users/{ada.id}", json={"name": None}, headers=ada.auth)

    assert response.status_code == 400
    assert client.get(f"/api/v1/users/{ada.id}").json()["name"] == "Ada"


def test_changing_to_a_taken_email_is_a_conflict_and_changes_nothing(client: TestClient, sign_up: SignUp) -> None:
    ada = sign_up("Ada")
    bob = sign_up("Bob")

    response = client.patch(
        f"/api/v1/users/{ada.id}", json={"name": "Changed", "email": bob.email.upper()}, headers=ada.auth
    )

    assert response.status_code == 409
    assert client.get(f"/api/v1/users/{ada.id}").json()["name"] == "Ada"


def test_only_the_user_or_an_administrator_may_change_or_delete_a_user(
    client: TestClient, sign_up: SignUp, make_admin: SignUp
) -> None:
    ada = sign_up("Ada")
    bob = sign_up("Bob")
    admin = make_admin()

    assert client.patch(f"/api/v1/users/{ada.id}", json={"name": "x"}, headers=bob.auth).status_code == 403
    assert client.delete(f"/api/v1/users/{ada.id}", headers=bob.auth).status_code == 403
    assert client.patch(f"/api/v1/users/{ada.id}", json={"name": "By admin"}, headers=admin.auth).status_code == 200
    assert client.delete(f"/api/v1/users/{ada.id}", headers=admin.auth).status_code == 204
    assert client.get(f"/api/v1/users/{ada.id}").status_code == 404


def test_an_administrator_acts_as_one_only_with_a_token_granted_admin(client: TestClient, make_admin: SignUp) -> None:
    admin = make_admin()
    plain = client.post("/api/v1/tokens", headers=basic(admin.email, admin.password)).json()["access_token"]
    ada = client.post("/api/v1/users", json=SIGN_UP).json()

    response = client.delete(f"/api/v1/users/{ada['id']}", headers={"Authorization": f"Bearer {plain}"})

    assert response.status_code == 403


def test_writes_need_a_token(client: TestClient, sign_up: SignUp) -> None:
    ada = sign_up("Ada")

    response = client.patch(f"/api/v1/users/{ada.id}", json={"name": "x"})

    assert response.status_code == 401
    assert response.headers["WWW-Authenticate"] == 'Bearer realm="gateway"'
    assert response.headers["Content-Type"] == "application/problem+json"


def test_writes_need_the_users_write_scope(client: TestClient, sign_up: SignUp) -> None:
    ada = sign_up("Ada", scopes=["posts:write"])

    response = client.patch(f"/api/v1/users/{ada.id}", json={"name": "x"}, headers=ada.auth)

    assert response.status_code == 403
    assert response.headers["Content-Type"] == "application/problem+json"


def test_deleting_a_user_deletes_their_posts_and_tokens(client: TestClient, sign_up: SignUp) -> None:
    ada = sign_up("Ada")
    post = client.post("/api/v1/posts", json={"title": "Hi", "body": "there"}, headers=ada.auth).json()

    assert client.delete(f"/api/v1/users/{ada.id}", headers=ada.auth).status_code == 204

    assert client.get(f"/api/v1/posts/{post['id']}").status_code == 404
    assert client.get("/api/v1/me", headers=ada.auth).status_code == 401


def test_me_returns_the_callers_profile_with_email(client: TestClient, sign_up: SignUp) -> None:
    ada = sign_up("Ada")

    response = client.get("/api/v1/me", headers=ada.auth)

    assert response.status_code == 200
    assert response.json()["id"] == ada.id
    assert response.json()["email"] == ada.email
    assert client.get("/api/v1/me").status_code == 401


def test_users_are_listed_oldest_first_in_pages(client: TestClient, sign_up: SignUp) -> None:
    ids = [sign_up(f"User {n}").id for n in range(5)]

    first = client.get("/api/v1/users", params={"limit": 2}).json()
    second = client.get("/api/v1/users", params={"limit": 2, "cursor": first["next_cursor"]}).json()
    third = client.get("/api/v1/users", params={"limit": 2, "cursor": second["next_cursor"]}).json()

    assert [u["id"] for u in first["items"] + second["items"] + third["items"]] == ids
    assert third["next_cursor"] is None
