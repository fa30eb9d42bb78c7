"""Security headers on every answer, errors and docs included (OWASP's HTTP headers cheat sheet)."""

from __future__ import annotations

from dataclasses import replace

import pytest
from starlette.testclient import TestClient

from app import create_app
from settings import Settings
from tests.conftest import SignUp

API_POLICY = "default-src 'none'; frame-ancestors 'none'"


@pytest.mark.parametrize(
    ("method", "path"),
    [("GET", "/api/v1/users"), ("GET", "/api/v1/no-such-thing"), ("DELETE", "/api/v1/users"), ("GET", "/api/v1/me")],
    ids=["a public list", "an unknown route (404)", "a wrong method (405)", "a missing token (401)"],
)
def test_every_api_answer_carries_the_security_headers(client: TestClient, method: str, path: str) -> None:
    response = client.request(method, path)

    assert response.headers["X-Content-Type-Options"] == "nosniff"
    assert response.headers["X-Frame-Options"] == "DENY"
    assert response.headers["Referrer-Policy"] == "no-referrer"
    assert response.headers["Content-Security-Policy"] == API_POLICY
    assert "Strict-Transport-Security" not in response.headers  # development serves plain HTTP


def test_the_docs_pages_may_run_their_own_scripts_but_nothing_from_elsewhere(client: TestClient) -> None:
    for page in ("/api/v1/ui/", "/api/v1/docs/"):
        policy = client.get(page).headers["Content-Security-Policy"]

        assert "default-src 'self'" in policy
        assert "frame-ancestors 'none'" in policy
        assert "http" not in policy  # no other origin is trusted


def test_answers_to_authenticated_requests_are_not_stored(client: TestClient, sign_up: SignUp) -> None:
    ada = sign_up()

    private = client.get(f"/api/v1/users/{ada.id}", headers=ada.auth)
    public = client.get(f"/api/v1/users/{ada.id}")

    assert private.headers["Cache-Control"] == "no-store"
    assert "Cache-Control" not in public.headers
    assert "email" in private.json()


def test_production_adds_hsts(settings: Settings) -> None:
    production = create_app(replace(settings, environment="production"))
    with production.test_client() as client:
        response = client.get("/api/v1/healthz")

    assert response.headers["Strict-Transport-Security"] == "max-age=31536000; includeSubDomains"


def test_production_serves_the_spec_but_no_docs_pages_unless_asked(settings: Settings) -> None:
    for docs, expected in ((False, 404), (True, 200)):
        production = create_app(replace(settings, environment="production", docs=docs))
        with production.test_client() as client:
            pages = [client.get(page).status_code for page in ("/api/v1/ui/", "/api/v1/docs/")]
            spec = client.get("/api/v1/openapi.json")

        assert pages == [expected, expected]
        assert spec.status_code == 200
