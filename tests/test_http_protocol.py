"""What every operation shares: problem+json errors, methods, media types, limits, CORS and the docs."""

from __future__ import annotations

import json

import pytest
from starlette.testclient import TestClient

from settings import Settings
from tests.conftest import SignUp

PROBLEM = "application/problem+json"
USER = {"name": "Ada", "email": "ada@example.com", "password": "correct horse battery"}


def assert_problem(response: object, status: int) -> dict[str, object]:
    assert response.status_code == status, response.text  # type: ignore[attr-defined]
    assert response.headers["Content-Type"] == PROBLEM  # type: ignore[attr-defined]
    body = response.json()  # type: ignore[attr-defined]
    assert body["status"] == status
    assert body["title"]
    assert "Traceback" not in response.text  # type: ignore[attr-defined]
    return dict(body)


def users_count(client: TestClient) -> int:
    return len(client.get("/api/v1/users").json()["items"])


def test_an_unknown_route_is_a_404_problem(client: TestClient) -> None:
    assert_problem(client.get("/api/v1/nowhere"), 404)
    assert_problem(client.get("/"), 404)


def test_an_undocumented_method_is_a_405_with_allow(client: TestClient) -> None:
    response = client.delete("/api/v1/users")

    assert_problem(response, 405)
    assert response.headers["Allow"] == "GET, POST, HEAD"


def test_head_answers_like_get_without_a_body(client: TestClient) -> None:
    response = client.head("/api/v1/users")

    assert response.status_code == 200
    assert response.content == b""


@pytest.mark.parametrize(
    ("body", "why"),
    [
        (b'{"name": ', "truncated"),
        (b"\xff\xfe{}", "not UTF-8"),
        (b'{"name": "\xc3\x28"}', "invalid UTF-8 inside a string"),
        (b"[" * 10_000 + b"]" * 10_000, "nested too deeply"),
        (b'{"name": NaN}', "NaN is not JSON"),
        (b'{"name": 1' + b"0" * 5000 + b"}", "number too long"),
        (b"", "empty"),
        (b"null", "null"),
        (b"[]", "not an object"),
    ],
)
def test_a_body_that_is_not_acceptable_json_is_a_400_and_changes_nothing(
    client: TestClient, body: bytes, why: str
) -> None:
    response = client.post("/api/v1/users", content=body, headers={"Content-Type": "application/json"})

    assert_problem(response, 400)
    assert users_count(client) == 0


def test_a_wrong_content_type_is_a_415(client: TestClient) -> None:
    for content_type in ("text/plain", "application/xml", "application/x-www-form-urlencoded"):
        response = client.post("/api/v1/users", content=json.dumps(USER), headers={"Content-Type": content_type})
        assert_problem(response, 415)
    assert users_count(client) == 0


def test_a_body_over_the_limit_is_a_413(client: TestClient) -> None:
    huge = json.dumps(USER | {"name": "x" * 70_000})

    response = client.post("/api/v1/users", content=huge, headers={"Content-Type": "application/json"})

    assert_problem(response, 413)


def test_a_chunked_body_over_the_limit_is_a_413_too(client: TestClient) -> None:
    def chunks() -> object:
        for _ in range(100):
            yield b"x" * 1000

    response = client.post("/api/v1/users", content=chunks(), headers={"Content-Type": "application/json"})

    assert_problem(response, 413)


def test_a_chunked_body_within_the_limit_is_read(client: TestClient) -> None:
    encoded = json.dumps(USER).encode()

    def chunks() -> object:
        yield encoded[:10]
        yield encoded[10:]

    response = client.post("/api/v1/users", content=chunks(), headers={"Content-Type": "application/json"})

    assert response.status_code == 201


def test_the_body_limit_is_the_one_the_spec_declares(client: TestClient) -> None:
    spec = client.get("/api/v1/openapi.json").json()
    limit = spec["info"]["x-gateway-limits"]["maxRequestBodyBytes"]
    padding = limit - len(json.dumps(USER | {"pad": ""}))

    at_limit = client.post(
        "/api/v1/users", content=json.dumps(USER | {"pad": "x" * padding}), headers={"Content-Type": "application/json"}
    )
    over = client.post(
        "/api/v1/users",
        content=json.dumps(USER | {"pad": "x" * (padding + 1)}),
        headers={"Content-Type": "application/json"},
    )

    assert at_limit.status_code == 400  # read and refused for its unknown field, not for its size
    assert over.status_code == 413


def test_unknown_query_parameters_are_refused(client: TestClient, sign_up: SignUp) -> None:
    ada = sign_up()

    assert_problem(client.get("/api/v1/users", params={"admin": "true"}), 400)
    assert_problem(client.get("/api/v1/me", params={"as": "admin"}, headers=ada.auth), 400)


def test_an_id_that_is_not_a_uuid_is_a_400(client: TestClient) -> None:
    body = assert_problem(client.get("/api/v1/users/1"), 400)

    assert "user_id" in str(body["detail"])


def test_an_unexpected_failure_is_a_500_problem_without_details(
    client: TestClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    import domain.users

    def broken(*_args: object, **_kwargs: object) -> None:
        raise RuntimeError("secret internal detail")

    monkeypatch.setattr(domain.users, "list_page", broken)

    response = client.get("/api/v1/users")

    body = assert_problem(response, 500)
    assert "secret internal detail" not in response.text
    assert "RuntimeError" not in str(body)


def test_a_failed_write_changes_nothing(client: TestClient, sign_up: SignUp) -> None:
    ada = sign_up()
    bob = sign_up()
    before = client.get(f"/api/v1/users/{ada.id}", headers=ada.auth).json()

    response = client.put(
        f"/api/v1/users/{ada.id}",
        json={"name": "New name", "email": bob.email, "password": "new password 123"},
        headers=ada.auth,
    )

    assert_problem(response, 409)
    assert client.get(f"/api/v1/users/{ada.id}", headers=ada.auth).json() == before
    assert client.post("/api/v1/tokens", auth=(ada.email, ada.password)).status_code == 201


def test_the_spec_is_served_as_written_with_its_named_schemas(client: TestClient) -> None:
    spec = client.get("/api/v1/openapi.json").json()

    assert spec["openapi"].startswith("3.0.")
    assert "User" in spec["components"]["schemas"]
    created = spec["paths"]["/users"]["post"]["responses"]["201"]["content"]["application/json"]["schema"]
    assert created == {"$ref": "#/components/schemas/User"}


def test_swagger_ui_is_served_without_the_internet(client: TestClient) -> None:
    page = client.get("/api/v1/ui/")

    assert page.status_code == 200
    assert "swagger-ui" in page.text
    assert "https://" not in page.text.split("<body")[0]  # scripts and styles come from this server


@pytest.fixture
def cors_client(settings: Settings) -> object:
    from dataclasses import replace

    from app import create_app

    app = create_app(replace(settings, cors_origins=("https://app.example.com",)))
    with app.test_client() as test_client:
        yield test_client


def test_cors_preflight_is_answered_for_an_allowed_origin(cors_client: TestClient) -> None:
    response = cors_client.options(
        "/api/v1/posts",
        headers={
            "Origin": "https://app.example.com",
            "Access-Control-Request-Method": "POST",
            "Access-Control-Request-Headers": "Authorization, Content-Type, If-Match",
        },
    )

    assert response.status_code == 200
    assert response.headers["Access-Control-Allow-Origin"] == "https://app.example.com"
    assert "POST" in response.headers["Access-Control-Allow-Methods"]
    assert "authorization" in response.headers["Access-Control-Allow-Headers"].lower()


def test_cors_exposes_the_headers_a_browser_client_needs(cors_client: TestClient) -> None:
    response = cors_client.get("/api/v1/nowhere", headers={"Origin": "https://app.example.com"})

    assert response.status_code == 404
    assert response.headers["Access-Control-Allow-Origin"] == "https://app.example.com"
    exposed = response.headers["Access-Control-Expose-Headers"]
    for header in ("ETag", "Location", "WWW-Authenticate"):
        assert header in exposed


def test_cors_ignores_origins_not_on_the_list(cors_client: TestClient, client: TestClient) -> None:
    foreign = cors_client.get("/api/v1/users", headers={"Origin": "https://evil.example.com"})
    by_default = client.get("/api/v1/users", headers={"Origin": "https://app.example.com"})

    assert "Access-Control-Allow-Origin" not in foreign.headers
    assert "Access-Control-Allow-Origin" not in by_default.headers


def test_every_answer_tells_caches_that_it_varies_with_the_origin(cors_client: TestClient) -> None:
    plain = cors_client.get("/api/v1/healthz")
    from_browser = cors_client.get("/api/v1/healthz", headers={"Origin": "https://app.example.com"})
    refused = cors_client.get("/api/v1/nowhere")

    for response in (plain, from_browser, refused):
        assert response.headers.get_list("Vary") == ["Origin"]
    assert "Access-Control-Allow-Origin" not in plain.headers
    assert from_browser.headers["Access-Control-Allow-Origin"] == "https://app.example.com"


def test_an_answer_is_compact_utf8_json_with_characters_as_written(client: TestClient, sign_up: SignUp) -> None:
    author = sign_up()
    text = 'Grüße 東京 🚀 "quoted" \\ back'
    created = client.post("/api/v1/posts", json={"title": "Grüße", "body": text}, headers=author.auth)
    assert created.status_code == 201, created.text

    read = client.get(f"/api/v1/posts/{created.json()['id']}")

    assert read.headers["Content-Type"] == "application/json"
    assert read.content.endswith(b"}\n")
    assert '"body":"Grüße 東京 🚀 \\"quoted\\" \\\\ back"'.encode() in read.content
    for escaped_or_spaced in (b"\\u", b": ", b", "):
        assert escaped_or_spaced not in read.content
    assert json.loads(read.content)["body"] == text
