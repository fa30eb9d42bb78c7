"""Structured logs: one access line per request with the fields an operator searches by, JSON lines in
production, readable text in development, and never a password, a token or an Authorization header."""

from __future__ import annotations

import base64
import json
import logging
import sys

import pytest
from starlette.testclient import TestClient

from app import create_app
from settings import Settings, SettingsError
from tests.conftest import SignUp, basic, bearer
from web.logconfig import HANDLER_NAME, JsonFormatter, configure_logging, prepare

PASSWORD = "correct horse battery staple"


def access_lines(caplog: pytest.LogCaptureFixture) -> list[logging.LogRecord]:
    return [record for record in caplog.records if record.name == "gateway.access"]


def test_one_access_line_per_request_with_its_fields(
    client: TestClient, sign_up: SignUp, caplog: pytest.LogCaptureFixture
) -> None:
    ada = sign_up()
    caplog.set_level(logging.INFO)
    caplog.clear()

    response = client.get("/api/v1/me", headers={**ada.auth, "X-Request-ID": "me-1"})

    assert response.status_code == 200
    [line] = access_lines(caplog)
    fields = vars(line)
    assert {name: fields[name] for name in ("method", "path", "operation_id", "status", "principal")} == {
        "method": "GET",
        "path": "/api/v1/me",
        "operation_id": "getMe",
        "status": 200,
        "principal": ada.id,
    }
    assert isinstance(fields["duration_ms"], float)
    assert fields["duration_ms"] >= 0
    assert fields["client"] == "testclient"


def test_the_access_line_of_an_error_and_of_an_anonymous_request(
    client: TestClient, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO)

    client.get("/api/v1/users?limit=5&cursor=opaque-cursor-value")  # a cursor that is not one: 400
    client.get("/api/v1/nowhere")

    records = access_lines(caplog)
    listed, missing = (vars(record) for record in records)
    assert (listed["path"], listed["operation_id"], listed["status"], listed["principal"]) == (
        "/api/v1/users", "listUsers", 400, None,
    )  # fmt: skip
    assert (missing["path"], missing["operation_id"], missing["status"]) == ("/api/v1/nowhere", None, 404)
    # The path only: a query string's values stay out of the log.
    assert "opaque-cursor-value" not in records[0].getMessage()


def test_no_password_or_token_reaches_any_log(
    client: TestClient, sign_up: SignUp, caplog: pytest.LogCaptureFixture
) -> None:
    prepare(caplog.handler, "json")
    caplog.set_level(logging.DEBUG)  # every logger, every level

    ada = sign_up(password=PASSWORD)
    basic_token = client.post("/api/v1/tokens", json={}, headers=basic(ada.email, PASSWORD)).json()["access_token"]
    form = {"grant_type": "password", "username": ada.email, "password": PASSWORD}
    form_token = client.post("/api/v1/tokens", data=form).json()["access_token"]
    for token in (ada.token, basic_token, form_token):
        assert client.get("/api/v1/me", headers=bearer(token)).status_code == 200
    client.post("/api/v1/tokens", json={}, headers=basic(ada.email, "wrong password"))
    client.get("/api/v1/me", headers=bearer("forged-token-that-is-not-valid"))

    logged = caplog.text + "\n".join(repr(record.__dict__) for record in caplog.records)
    assert len(access_lines(caplog)) >= 7
    secrets = [PASSWORD, "wrong password", ada.token, basic_token, form_token, "forged-token-that-is-not-valid"]
    secrets.append(base64.b64encode(f"{ada.email}:{PASSWORD}".encode()).decode())
    for secret in secrets:
        assert secret not in logged
    assert "authorization" not in logged.lower()


def test_json_lines_parse_one_object_per_line(client: TestClient, caplog: pytest.LogCaptureFixture) -> None:
    prepare(caplog.handler, "json")
    caplog.set_level(logging.DEBUG)

    client.get("/api/v1/users", headers={"X-Request-ID": "json-1"})
    client.get("/api/v1/nowhere", headers={"X-Request-ID": "json-2"})

    entries = [json.loads(line) for line in caplog.text.splitlines()]
    assert entries
    assert all({"time", "level", "logger", "message", "request_id"} <= entry.keys() for entry in entries)
    access = [entry for entry in entries if entry["logger"] == "gateway.access"]
    assert [(entry["request_id"], entry["status"], entry["operation_id"]) for entry in access] == [
        ("json-1", 200, "listUsers"),
        ("json-2", 404, None),
    ]
    assert {"method", "path", "duration_ms", "principal", "client"} <= access[0].keys()


def test_a_json_line_carries_an_exception_on_the_same_line() -> None:
    try:
        raise ValueError("boom")
    except ValueError:
        record = logging.LogRecord("gateway", logging.ERROR, __file__, 1, "failed %s", ("here",), sys.exc_info())

    line = JsonFormatter().format(record)

    assert "\n" not in line
    entry = json.loads(line)
    assert entry["message"] == "failed here"
    assert "ValueError: boom" in entry["exception"]


@pytest.mark.parametrize(
    ("env", "log_format"),
    [
        ({}, "text"),
        ({"GATEWAY_ENV": "production"}, "json"),
        ({"GATEWAY_ENV": "production", "GATEWAY_LOG_FORMAT": "text"}, "text"),
        ({"GATEWAY_LOG_FORMAT": "json"}, "json"),
    ],
)
def test_json_in_production_text_in_development_unless_told(env: dict[str, str], log_format: str) -> None:
    assert Settings.from_env(env).log_format == log_format


@pytest.mark.parametrize(
    "env", [{"GATEWAY_LOG_FORMAT": "xml"}, {"GATEWAY_LOG_LEVEL": "LOUD"}, {"GATEWAY_LOG_LEVEL": "critical"}]
)
def test_a_wrong_log_setting_is_refused_by_name(env: dict[str, str]) -> None:
    with pytest.raises(SettingsError, match=next(iter(env))):
        Settings.from_env(env)


def test_the_log_level_setting() -> None:
    assert Settings.from_env({"GATEWAY_LOG_LEVEL": "debug"}).log_level == "DEBUG"
    assert Settings.from_env({}).log_level == "INFO"


def test_configuring_again_keeps_one_handler(settings: Settings) -> None:
    root = logging.getLogger()
    try:
        create_app(settings)
        app_settings = Settings(database_url=settings.database_url, log_format="json", log_level="WARNING")
        create_app(app_settings)

        ours = [handler for handler in root.handlers if handler.get_name() == HANDLER_NAME]
        assert len(ours) == 1
        assert isinstance(ours[0].formatter, JsonFormatter)
        assert root.level == logging.WARNING
    finally:
        configure_logging("text", "INFO")
