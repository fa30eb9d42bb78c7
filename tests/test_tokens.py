"""Tokens: issued for a password, shown once, listed without secrets, revoked at once."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

import pytest
from httpx import Response
from sqlalchemy import create_engine, update
from starlette.testclient import TestClient

from storage.db import normalise_url
from storage.models import TokenRow
from tests.conftest import SignUp, basic, bearer


def without_request_id(response: Response) -> dict[str, object]:
    """A problem as a client compares it: every request has its own id."""
    problem: dict[str, object] = response.json()
    problem.pop("request_id")
    return problem


def test_a_token_is_issued_for_email_and_password(client: TestClient, sign_up: SignUp) -> None:
    ada = sign_up()

    response = client.post(
        "/api/v1/tokens",
        json={"name": "laptop", "scopes": ["posts:write"], "expires_in": 600},
        headers=basic(ada.email, ada.password),
    )

    assert response.status_code == 201
    token = response.json()
    assert token["name"] == "laptop"
    assert token["scopes"] == ["posts:write"]
    assert token["scope"] == "posts:write"
    assert token["token_type"] == "Bearer"
    assert token["expires_in"] == 600
    assert token["access_token"].startswith("gw_")
    assert response.headers["Location"] == f"/api/v1/tokens/{token['id']}"
    assert response.headers["Cache-Control"] == "no-store"
    lifetime = datetime.fromisoformat(token["expires_at"]) - datetime.fromisoformat(token["created_at"])
    assert lifetime == timedelta(seconds=600)


def test_default_token_has_the_write_scopes_for_an_hour(client: TestClient, sign_up: SignUp) -> None:
    ada = sign_up()

    token = client.post("/api/v1/tokens", headers=basic(ada.email, ada.password)).json()

    assert sorted(token["scopes"]) == ["posts:write", "users:write"]
    assert token["expires_in"] == 3600
    assert token["name"] == "token"


def test_wrong_password_and_unknown_email_get_the_same_401(client: TestClient, sign_up: SignUp) -> None:
    ada = sign_up()

    wrong = client.post("/api/v1/tokens", headers=basic(ada.email, "not the password"))
    unknown = client.post("/api/v1/tokens", headers=basic("nobody@example.com", "not the password"))

    assert wrong.status_code == unknown.status_code == 401
    assert without_request_id(wrong) == without_request_id(unknown)
    assert wrong.headers["WWW-Authenticate"] == 'Basic realm="gateway"'
    assert "password" not in wrong.text.lower().replace("email or password", "")


def test_basic_credentials_are_read_as_utf8(client: TestClient) -> None:
    created = client.post(
        "/api/v1/users", json={"name": "Zoë", "email": "zoe@example.com", "password": "pässwörd-ñ-日本"}
    )
    assert created.status_code == 201

    assert client.post("/api/v1/tokens", headers=basic("zoe@example.com", "pässwörd-ñ-日本")).status_code == 201


@pytest.mark.parametrize("scope", ["admin", "logs:read"])
def test_only_administrators_may_hold_admin_only_scopes(client: TestClient, sign_up: SignUp, scope: str) -> None:
    ada = sign_up()

    response = client.post("/api/v1/tokens", json={"scopes": [scope]}, headers=basic(ada.email, ada.password))

    assert response.status_code == 403


def test_token_bodies_are_validated(client: TestClient, sign_up: SignUp) -> None:
    ada = sign_up()
    bodies: list[dict[str, object]] = [
        {"scopes": ["root"]},
        {"expires_in": 10},
        {"expires_in": 10**9},
        {"scopes": []},
        {"extra": 1},
    ]
    for body in bodies:
        response = client.post("/api/v1/tokens", json=body, headers=basic(ada.email, ada.password))
        assert response.status_code == 400, body


def test_a_bearer_token_cannot_mint_tokens(client: TestClient, sign_up: SignUp) -> None:
    ada = sign_up()

    response = client.post("/api/v1/tokens", headers=ada.auth)

    assert response.status_code == 401
    assert response.headers["WWW-Authenticate"] == 'Basic realm="gateway"'


def test_tokens_are_listed_without_their_secrets(client: TestClient, sign_up: SignUp) -> None:
    ada = sign_up()
    bob = sign_up()
    client.post("/api/v1/tokens", json={"name": "phone"}, headers=basic(ada.email, ada.password))

    listed = client.get("/api/v1/tokens", headers=ada.auth)

    assert listed.status_code == 200
    names = [token["name"] for token in listed.json()["items"]]
    assert names == ["phone", "token"]
    assert ada.token not in listed.text
    assert "access_token" not in listed.text
    assert bob.token not in listed.text


def test_a_revoked_token_stops_working_at_once(client: TestClient, sign_up: SignUp) -> None:
    ada = sign_up()
    spare = client.post("/api/v1/tokens", headers=basic(ada.email, ada.password)).json()

    assert client.get("/api/v1/me", headers=bearer(spare["access_token"])).status_code == 200
    assert client.delete(f"/api/v1/tokens/{spare['id']}", headers=ada.auth).status_code == 204

    assert client.get("/api/v1/me", headers=bearer(spare["access_token"])).status_code == 401
    assert client.get(f"/api/v1/tokens/{spare['id']}", headers=ada.auth).status_code == 404
    assert client.get("/api/v1/me", headers=ada.auth).status_code == 200


def test_another_users_token_is_not_found(client: TestClient, sign_up: SignUp) -> None:
    ada = sign_up()
    bob = sign_up()
    bobs = client.get("/api/v1/tokens", headers=bob.auth).json()["items"][0]

    assert client.get(f"/api/v1/tokens/{bobs['id']}", headers=ada.auth).status_code == 404
    assert client.delete(f"/api/v1/tokens/{bobs['id']}", headers=ada.auth).status_code == 404
    assert client.get("/api/v1/me", headers=bob.auth).status_code == 200
    assert client.delete(f"/api/v1/tokens/{uuid.uuid4()}", headers=ada.auth).status_code == 404


def test_an_administrator_may_read_and_revoke_any_token(
    client: TestClient, sign_up: SignUp, make_admin: SignUp
) -> None:
    """A leaked token can be stopped by an administrator, not only by its owner."""
    root = make_admin()
    bob = sign_up()
    bobs = client.get("/api/v1/tokens", headers=bob.auth).json()["items"][0]

    read = client.get(f"/api/v1/tokens/{bobs['id']}", headers=bearer(root.token))
    revoked = client.delete(f"/api/v1/tokens/{bobs['id']}", headers=bearer(root.token))

    assert read.status_code == 200
    assert read.json() == bobs
    assert "access_token" not in read.json()
    assert revoked.status_code == 204
    assert client.get("/api/v1/me", headers=bob.auth).status_code == 401


def test_an_expired_token_is_refused(client: TestClient, sign_up: SignUp, database_url: str) -> None:
    ada = sign_up()
    engine = create_engine(normalise_url(database_url))
    with engine.begin() as connection:
        connection.execute(update(TokenRow).values(expires_at=datetime.now(UTC) - timedelta(seconds=1)))
    engine.dispose()

    response = client.get("/api/v1/me", headers=ada.auth)

    assert response.status_code == 401
    assert response.headers["WWW-Authenticate"] == 'Bearer realm="gateway"'


def test_malformed_authorization_headers_are_401(client: TestClient) -> None:
    for header in ("Bearer", "Bearer ", "Basic !!!", "Token abc", "Bearer " + "gw_" + "x" * 500):
        response = client.get("/api/v1/me", headers={"Authorization": header})
        assert response.status_code == 401, header
        assert response.headers["Content-Type"] == "application/problem+json"


# The OAuth 2.0 password grant: what Swagger UI's "Authorize" button sends (RFC 6749 section 4.3).


def password_grant(email: str, password: str, **extra: str) -> dict[str, str]:
    return {"grant_type": "password", "username": email, "password": password} | extra


def test_the_password_grant_issues_a_token_from_a_form(client: TestClient, sign_up: SignUp) -> None:
    ada = sign_up()

    response = client.post("/api/v1/tokens", data=password_grant(ada.email, ada.password, scope="posts:write"))

    assert response.status_code == 201
    token = response.json()
    assert token["token_type"] == "Bearer"
    assert token["scope"] == "posts:write"
    assert token["expires_in"] == 3600
    assert token["name"] == "password grant"
    assert response.headers["Cache-Control"] == "no-store"
    written = client.post(
        "/api/v1/posts", json={"title": "Hi", "body": "From the docs"}, headers=bearer(token["access_token"])
    )
    assert written.status_code == 201


def test_the_password_grant_as_swagger_ui_sends_it(client: TestClient, sign_up: SignUp) -> None:
    """No scope chosen, and `Authorization: Basic base64(":")` for the OAuth client it does not have."""
    ada = sign_up()

    response = client.post(
        "/api/v1/tokens", data=password_grant(ada.email, ada.password, scope=""), headers=basic("", "")
    )

    assert response.status_code == 201
    assert sorted(response.json()["scopes"]) == ["posts:write", "users:write"]


def test_the_password_grant_refuses_wrong_credentials_like_basic_does(client: TestClient, sign_up: SignUp) -> None:
    ada = sign_up()

    wrong = client.post("/api/v1/tokens", data=password_grant(ada.email, "not the password"))
    unknown = client.post("/api/v1/tokens", data=password_grant("nobody@example.com", "not the password"))
    by_basic = client.post("/api/v1/tokens", headers=basic(ada.email, "not the password"))

    assert wrong.status_code == unknown.status_code == 401
    assert without_request_id(wrong) == without_request_id(unknown) == without_request_id(by_basic)
    assert wrong.headers["Content-Type"] == "application/problem+json"


@pytest.mark.parametrize(
    "form",
    [
        {"grant_type": "client_credentials", "username": "ada@example.com", "password": "secret words"},
        {"grant_type": "password", "username": "ada@example.com"},
        {"grant_type": "password", "username": "ada@example.com", "password": "secret words", "scope": "root"},
        {"grant_type": "password", "username": "ada@example.com", "password": "secret words", "extra": "x"},
    ],
    ids=["other grant", "no password", "unknown scope", "unknown field"],
)
def test_malformed_password_grants_are_400(client: TestClient, sign_up: SignUp, form: dict[str, str]) -> None:
    response = client.post("/api/v1/tokens", data=form)

    assert response.status_code == 400
    assert response.headers["Content-Type"] == "application/problem+json"


def test_the_password_grant_respects_admin_only_scopes(client: TestClient, sign_up: SignUp) -> None:
    ada = sign_up()

    response = client.post("/api/v1/tokens", data=password_grant(ada.email, ada.password, scope="logs:read"))

    assert response.status_code == 403


def test_no_credentials_at_all_is_401_with_a_basic_challenge(client: TestClient) -> None:
    response = client.post("/api/v1/tokens", json={"name": "laptop"})

    assert response.status_code == 401
    assert response.headers["WWW-Authenticate"] == 'Basic realm="gateway"'
