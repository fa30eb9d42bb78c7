"""The API against its own spec, in process: Schemathesis generates requests from the spec (examples,
boundary coverage and random fuzzing, then stateful sequences that follow the spec's links) and runs
every check on every answer. Only the administrator's credentials are given; all else is generated."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pytest
import schemathesis
from connexion import AsyncApp
from hypothesis import HealthCheck, settings
from schemathesis.config import SchemathesisConfig
from sqlalchemy import create_engine, delete, insert, select

from app import create_app
from loganalysis.sources import parse_sources
from settings import Settings
from storage.db import normalise_url
from storage.models import IdempotencyRecord, PostRow, TokenRow, UserRow
from tests.conftest import FAST_HASHING
from tests.contract.conftest import (
    ADMIN_EMAIL,
    ADMIN_PASSWORD,
    ALL_SCOPES,
    LOG_SOURCES,
    METRICS_TOKEN,
    fresh_database,
)
from tests.servers import ROOT


@pytest.fixture(scope="module")
def contract_database(tmp_path_factory: pytest.TempPathFactory) -> str:
    return fresh_database(tmp_path_factory.mktemp("contract"))


@pytest.fixture(scope="module")
def contract_app(contract_database: str) -> AsyncApp:
    settings = Settings(
        database_url=contract_database,
        password_hashing=FAST_HASHING,
        validate_responses=True,
        log_sources=parse_sources(LOG_SOURCES),
        rate_limits=False,  # thousands of generated requests from one address; see tests/test_rate_limits.py
        metrics_token=METRICS_TOKEN,
    )
    return create_app(settings)


@pytest.fixture(scope="module")
def api_schema(contract_app: AsyncApp, contract_credentials: dict[str, str]) -> Any:
    with contract_app.test_client() as client:
        issued = client.post(
            "/api/v1/tokens", json={"scopes": ALL_SCOPES, "expires_in": 86400}, auth=(ADMIN_EMAIL, ADMIN_PASSWORD)
        )
    assert issued.status_code == 201, issued.text
    os.environ["GATEWAY_CONTRACT_TOKEN"] = issued.json()["access_token"]
    config = SchemathesisConfig.from_path(str(Path(ROOT) / "schemathesis.toml"))
    return schemathesis.openapi.from_asgi("/api/v1/openapi.json", contract_app, config=config)


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


def hypothesis_settings(**overrides: Any) -> settings:
    """In CI the examples are derandomized, so a run can be repeated; locally they change every run."""
    return settings(
        deadline=None, suppress_health_check=list(HealthCheck), derandomize=bool(os.environ.get("CI")), **overrides
    )


schema = schemathesis.pytest.from_fixture("api_schema")


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
            # shrink a failing sequence. Kept answers to Idempotency-Keys go too: they name rows that
            # no longer exist.
            with engine.begin() as connection:
                for model in (IdempotencyRecord, PostRow, TokenRow, UserRow):
                    connection.execute(delete(model))
                for table, rows in baseline:
                    connection.execute(insert(table), rows)

    Workflow.run(settings=hypothesis_settings(max_examples=60, stateful_step_count=8, database=None))
    engine.dispose()
