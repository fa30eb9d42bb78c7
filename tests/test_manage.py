"""The operator's commands: migrate, and create-admin for the first administrator."""

from __future__ import annotations

import pytest
from starlette.testclient import TestClient

import manage
from tests.conftest import SignUp, basic


@pytest.fixture
def operator_env(database_url: str, monkeypatch: pytest.MonkeyPatch) -> pytest.MonkeyPatch:
    monkeypatch.setenv("DATABASE_URL", database_url)
    return monkeypatch


def test_create_admin_makes_an_account_that_can_hold_admin_tokens(
    client: TestClient, operator_env: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    operator_env.setenv("GATEWAY_ADMIN_PASSWORD", "a long admin password")

    assert manage.main(["create-admin", "--email", "ops@example.com", "--name", "Ops"]) == 0

    assert "Created administrator" in capsys.readouterr().out
    issued = client.post(
        "/api/v1/tokens", json={"scopes": ["admin"]}, headers=basic("ops@example.com", "a long admin password")
    )
    assert issued.status_code == 201
    me = client.get("/api/v1/me", headers={"Authorization": f"Bearer {issued.json()['access_token']}"})
    assert me.json()["is_admin"] is True


def test_create_admin_promotes_an_existing_account(
    client: TestClient, sign_up: SignUp, operator_env: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    ada = sign_up()
    operator_env.setenv("GATEWAY_ADMIN_PASSWORD", "ignored for an existing account")

    assert manage.main(["create-admin", "--email", ada.email, "--name", "Ada"]) == 0

    assert "Promoted administrator" in capsys.readouterr().out
    assert client.get("/api/v1/me", headers=ada.auth).json()["is_admin"] is True
    assert client.post("/api/v1/tokens", headers=basic(ada.email, ada.password)).status_code == 201


def test_create_admin_refuses_a_short_password(operator_env: pytest.MonkeyPatch) -> None:
    operator_env.setenv("GATEWAY_ADMIN_PASSWORD", "short")

    with pytest.raises(SystemExit, match="8 to 128 characters"):
        manage.main(["create-admin", "--email", "ops@example.com", "--name", "Ops"])


def test_create_admin_without_a_terminal_asks_for_the_environment_variable(
    operator_env: pytest.MonkeyPatch,
) -> None:
    operator_env.delenv("GATEWAY_ADMIN_PASSWORD", raising=False)

    with pytest.raises(SystemExit, match="GATEWAY_ADMIN_PASSWORD"):
        manage.main(["create-admin", "--email", "ops@example.com", "--name", "Ops"])


def test_a_bad_setting_stops_the_command_with_a_clear_message(operator_env: pytest.MonkeyPatch) -> None:
    operator_env.setenv("DATABASE_URL", "mysql://somewhere")

    with pytest.raises(SystemExit, match="DATABASE_URL must start with"):
        manage.main(["migrate"])
