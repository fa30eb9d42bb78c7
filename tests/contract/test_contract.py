"""The API against its own spec: Schemathesis generates requests from spec/openapi.yaml (examples,
boundary coverage and random fuzzing, then stateful sequences that follow the spec's links) and runs
every check on every answer. An administrator's credentials are supplied; everything else is generated."""

from __future__ import annotations

import base64
import os
from pathlib import Path
from typing import Any

import pytest
import schemathesis
from connexion import FlaskApp
from hypothesis import HealthCheck, settings
from schemathesis.config import SchemathesisConfig
from sqlalchemy import create_engine, delete, insert, select

from app import create_app
from settings import Settings
from storage.db import normalise_url
from storage.models import PostRow, TokenRow, UserRow
from tests.conftest import FAST_HASHING

ROOT = Path(__file__).resolve().parents[2]
ADMIN_EMAIL = "contract-admin@example.com"
ADMIN_PASSWORD = "contract admin password"
ALL_SCOPES = ["admin", "users:write", "posts:write", "logs:read"]


def credentials(token: str) -> type:
    """An auth provider: HTTP Basic for the operation that issues tokens, the admin token elsewhere."""

    class Credentials:
        def get(self, case: Any, context: Any) -> str:
            return token

        def set(self, case: Any, data: str, context: Any) -> None:
            case.headers = case.headers or {}
            if case.operation.definition.raw.get("operationId") == "createToken":
                pair = base64.b64encode(f"{ADMIN_EMAIL}:{ADMIN_PASSWORD}".encode()).decode()
                case.headers["Authorization"] = f"Basic {pair}"
            else:
                case.headers["Authorization"] = f"Bearer {data}"

    return Credentials


@pytest.fixture(scope="module")
def contract_database(tmp_path_factory: pytest.TempPathFactory) -> str:
    import manage
    from storage.migrate import upgrade
    from tests.conftest import POSTGRES_URL, _recreate_postgres_database

    if POSTGRES_URL:
        _recreate_postgres_database(POSTGRES_URL)
        url = POSTGRES_URL
    else:
        url = f"sqlite:///{tmp_path_factory.mktemp('contract') / 'gateway.db'}"
    upgrade(url)
    saved = {name: os.environ.get(name) for name in ("DATABASE_URL", "GATEWAY_ADMIN_PASSWORD")}
    os.environ.update(DATABASE_URL=url, GATEWAY_ADMIN_PASSWORD=ADMIN_PASSWORD)
    try:
        manage.main(["create-admin", "--email", ADMIN_EMAIL, "--name", "Contract admin"])
    finally:
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value
    return url


@pytest.fixture(scope="module")
def contract_app(contract_database: str) -> FlaskApp:
    return create_app(Settings(database_url=contract_database, password_hashing=FAST_HASHING, validate_responses=True))


@pytest.fixture(scope="module")
def api_schema(contract_app: FlaskApp) -> Any:
    config = SchemathesisConfig.from_path(str(ROOT / "schemathesis.toml"))
    schema = schemathesis.openapi.from_asgi("/api/v1/openapi.json", contract_app, config=config)
    with contract_app.test_client() as client:
        issued = client.post(
            "/api/v1/tokens",
            json={"scopes": ALL_SCOPES, "expires_in": 86400},
            auth=(ADMIN_EMAIL, ADMIN_PASSWORD),
        )
    assert issued.status_code == 201, issued.text
    schema.auth()(credentials(issued.json()["access_token"]))
    return schema


@pytest.fixture(scope="module")
def baseline(api_schema: Any, contract_database: str) -> list[tuple[Any, list[dict[str, Any]]]]:
    """The administrator and its tokens as first issued, to start every stateful sequence from."""
    engine = create_engine(normalise_url(contract_database))
    with engine.connect() as connection:
        admin = connection.execute(select(UserRow.__table__).where(UserRow.email == ADMIN_EMAIL)).mappings().one()
        tokens = connection.execute(select(TokenRow.__table__).where(TokenRow.user_id == admin["id"])).mappings()
        rows = [(UserRow.__table__, [dict(admin)]), (TokenRow.__table__, [dict(token) for token in tokens])]
    engine.dispose()
    return rows


schema = schemathesis.pytest.from_fixture("api_schema")


def hypothesis_settings(**overrides: Any) -> settings:
    """In CI the examples are derandomized, so a run can be repeated; locally they change every run."""
    return settings(
        deadline=None, suppress_health_check=list(HealthCheck), derandomize=bool(os.environ.get("CI")), **overrides
    )


@schema.parametrize()
@hypothesis_settings(max_examples=60)
def test_every_operation_keeps_the_contract(case: Any) -> None:
    case.call_and_validate()


def test_stateful_sequences_keep_the_contract(api_schema: Any, baseline: Any, contract_database: str) -> None:
    engine = create_engine(normalise_url(contract_database))

    class Workflow(api_schema.as_state_machine()):  # type: ignore[misc]
        def setup(self) -> None:
            # Every sequence starts from the same data, the administrator and its token as they were
            # (a sequence may rename, re-password or delete them), so that Hypothesis can replay and
            # shrink a failing sequence.
            with engine.begin() as connection:
                for model in (PostRow, TokenRow, UserRow):
                    connection.execute(delete(model))
                for table, rows in baseline:
                    connection.execute(insert(table), rows)

    Workflow.run(settings=hypothesis_settings(max_examples=60, stateful_step_count=8, database=None))
    engine.dispose()
