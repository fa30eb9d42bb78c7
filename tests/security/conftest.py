"""What the security tests share: the operations as the spec declares them, a world with objects worth
attacking (Ada's account, post and tokens; Bob, another user; an administrator), one way to call any
operation, and the checks every refusal must pass: problem+json, nothing leaked, nothing changed."""

from __future__ import annotations

import json
import secrets
import shutil
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from functools import cached_property
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import httpx
import pytest
from connexion import AsyncApp
from sqlalchemy import Engine, Table, create_engine, delete, select, text, update
from starlette.testclient import TestClient

from app import create_app, load_spec
from domain.access import ADMIN_ONLY_SCOPES, ALL_SCOPES
from loganalysis.sources import parse_sources
from settings import Settings
from storage.db import normalise_url
from storage.models import Base, PostRow, TokenRow, UserRow
from tests.conftest import FAST_HASHING, POSTGRES_URL, TABLES, Account, basic, bearer

SPEC = load_spec()
BASE = SPEC["servers"][0]["url"].rstrip("/")
HTTP_METHODS = ("get", "put", "post", "delete", "patch", "head", "options", "trace")
PROBLEM = "application/problem+json"
# What no answer may contain: a stack trace, the database speaking, a stored secret.
LEAK_MARKERS = ("Traceback", 'File "', "sqlalchemy", "sqlite3", "psycopg", "SELECT ", "$argon2")
LOGS = Path(__file__).resolve().parents[1] / "data" / "logs"
LOG_SOURCE = "system"
# The scopes an account may hold: a token asks for a subset of them.
USER_SCOPES = frozenset(ALL_SCOPES) - ADMIN_ONLY_SCOPES
ADMIN_SCOPES = frozenset(ALL_SCOPES)


def deref(node: Any) -> Any:
    """The object a `$ref` points at, followed until there is no `$ref` left."""
    while isinstance(node, dict) and "$ref" in node:
        target: Any = SPEC
        for part in node["$ref"].removeprefix("#/").split("/"):
            target = target[part]
        node = target
    return node


def properties(schema: Any) -> dict[str, Any]:
    """An object schema's properties, each dereferenced, `allOf` parts merged."""
    schema = deref(schema)
    found: dict[str, Any] = {}
    for part in schema.get("allOf", []):
        found |= properties(part)
    for name, field in schema.get("properties", {}).items():
        field = deref(field)
        for part in field.get("allOf", []):
            field = deref(part) | {k: v for k, v in field.items() if k != "allOf"}
        found[name] = field
    return found


@dataclass(frozen=True)
class Operation:
    """One operation of the spec, with what the tests need to know about it."""

    method: str
    template: str
    spec: Mapping[str, Any]
    path_item: Mapping[str, Any]

    @property
    def id(self) -> str:
        return str(self.spec["operationId"])

    def __str__(self) -> str:
        return self.id

    @property
    def security(self) -> list[dict[str, list[str]]]:
        requirements: list[dict[str, list[str]]] = self.spec.get("security", SPEC.get("security", []))
        return requirements

    @property
    def is_public(self) -> bool:
        return self.security == [] or {} in self.security

    @property
    def needs_bearer(self) -> bool:
        return bool(self.security) and all("bearerToken" in requirement for requirement in self.security)

    @property
    def needs_password(self) -> bool:
        return any("basicAuth" in requirement for requirement in self.security)

    @property
    def scopes(self) -> frozenset[str]:
        return frozenset(scope for requirement in self.security for scope in requirement.get("bearerToken", []))

    @cached_property
    def parameters(self) -> list[dict[str, Any]]:
        declared = [*self.path_item.get("parameters", []), *self.spec.get("parameters", [])]
        return [deref(parameter) for parameter in declared]

    def parameters_in(self, where: str) -> list[dict[str, Any]]:
        return [parameter for parameter in self.parameters if parameter["in"] == where]

    @property
    def path_parameters(self) -> list[str]:
        return [parameter["name"] for parameter in self.parameters_in("path")]

    @property
    def responses(self) -> Mapping[str, Any]:
        answers: Mapping[str, Any] = self.spec["responses"]
        return answers

    @property
    def media_types(self) -> list[str]:
        """The body's media types, JSON first; empty when the operation takes no body."""
        content = self.spec.get("requestBody", {}).get("content", {})
        return sorted(content, key=lambda media_type: media_type != "application/json")

    @property
    def body_required(self) -> bool:
        return bool(self.spec.get("requestBody", {}).get("required", False))

    def body_schema(self, media_type: str) -> dict[str, Any]:
        schema: dict[str, Any] = deref(self.spec["requestBody"]["content"][media_type]["schema"])
        return schema

    def example(self, media_type: str) -> dict[str, Any]:
        example: dict[str, Any] = dict(self.spec["requestBody"]["content"][media_type]["example"])
        return example

    def success_schema(self) -> dict[str, Any]:
        """The schema of the 2xx answer with a body (empty for 204)."""
        for status, response in self.responses.items():
            content = deref(response).get("content", {})
            if status.startswith("2") and "application/json" in content:
                schema: dict[str, Any] = deref(content["application/json"]["schema"])
                return schema
        return {}


def walk_operations() -> list[Operation]:
    return [
        Operation(method.upper(), template, operation, path_item)
        for template, path_item in SPEC["paths"].items()
        for method, operation in path_item.items()
        if method in HTTP_METHODS
    ]


OPERATIONS = walk_operations()


def operations(predicate: Callable[[Operation], bool]) -> list[Operation]:
    return [operation for operation in OPERATIONS if predicate(operation)]


@dataclass
class World:
    """Ada owns what the attacks aim at; Bob is another user with every scope a user may hold; the
    administrator holds every scope. `admin_without_admin_scope` is the administrator with a token that
    was not granted `admin`."""

    client: TestClient
    ada: Account
    bob: Account
    admin: Account
    admin_without_admin_scope: Account
    post_id: str
    spare_token_id: str
    spare_token: str

    def path_value(self, name: str) -> str:
        values = {
            "user_id": self.ada.id,
            "post_id": self.post_id,
            "token_id": self.spare_token_id,
            "source": LOG_SOURCE,
        }
        return values[name]

    def secrets(self) -> list[str]:
        """What must never appear in an answer to anyone but Ada, or to anyone at all."""
        return [self.ada.password, self.ada.token, self.spare_token, self.bob.token, self.admin.token]

    def rightful_caller(self, operation: Operation) -> Account:
        """Who may call the operation on the world's objects: the administrator for operator-only
        operations, Ada (their owner) for the rest."""
        return self.admin if operation.scopes & ADMIN_ONLY_SCOPES else self.ada

    def mint(self, account: Account, scopes: frozenset[str] | set[str]) -> tuple[str, str]:
        """A new token of `account` with these scopes, as (secret, id)."""
        issued = self.client.post(
            f"{BASE}/tokens", json={"scopes": sorted(scopes)}, headers=basic(account.email, account.password)
        )
        assert issued.status_code == 201, issued.text
        return issued.json()["access_token"], issued.json()["id"]

    def credentials(self, operation: Operation, account: Account, token: str | None = None) -> dict[str, str]:
        """How `account` authenticates to this operation: HTTP Basic where the spec asks for a password."""
        if operation.needs_password:
            return basic(account.email, account.password)
        return bearer(token or account.token)

    def body(self, operation: Operation, media_type: str, caller: Account | None) -> dict[str, Any]:
        """The spec's own example body; a password grant carries the caller's credentials."""
        example = operation.example(media_type)
        if media_type == "application/x-www-form-urlencoded" and caller is not None:
            example |= {"username": caller.email, "password": caller.password}
        return example

    def call(
        self,
        operation: Operation,
        *,
        auth: Mapping[str, str] | None = None,
        caller: Account | None = None,
        values: Mapping[str, str] | None = None,
        media_type: str | None = None,
        body: Mapping[str, Any] | None = None,
        content: bytes | None = None,
        headers: Mapping[str, str] | None = None,
        params: Mapping[str, str] | None = None,
    ) -> httpx.Response:
        """Calls the operation on the world's objects with its example body, unless told otherwise."""
        chosen = dict(values or {})
        path = operation.template.format_map(
            {name: chosen.get(name, self.path_value(name)) for name in operation.path_parameters}
        )
        sent = dict(auth or {})
        if operation.media_types and content is None:
            media_type = media_type or operation.media_types[0]
            document = dict(body) if body is not None else self.body(operation, media_type, caller)
            if media_type == "application/x-www-form-urlencoded":
                content = urlencode(document).encode()
            else:
                content = json.dumps(document).encode()
        if content is not None and media_type is not None:
            sent["Content-Type"] = media_type
        sent |= dict(headers or {})
        response: httpx.Response = self.client.request(
            operation.method, BASE + path, content=content, headers=sent, params=params
        )
        return response


# One app per module over one database, emptied before each test: the battery has hundreds of cases, and
# building the app for each would take most of the time.


@pytest.fixture(scope="module")
def shared_database(migrated_template: str, tmp_path_factory: pytest.TempPathFactory) -> str:
    if POSTGRES_URL:
        return POSTGRES_URL
    target = tmp_path_factory.mktemp("security") / "gateway.db"
    shutil.copyfile(migrated_template, target)
    return f"sqlite:///{target}"


@pytest.fixture(scope="module")
def engine(shared_database: str) -> Iterator[Engine]:
    engine = create_engine(normalise_url(shared_database))
    yield engine
    engine.dispose()


def _empty(engine: Engine) -> None:
    tables = [Base.metadata.tables[name] for name in TABLES if name in Base.metadata.tables]
    with engine.begin() as connection:
        if POSTGRES_URL:
            connection.execute(text(f"TRUNCATE {', '.join(table.name for table in tables)} CASCADE"))
        else:
            for table in tables:
                connection.execute(delete(table))


@pytest.fixture
def database_url(shared_database: str, engine: Engine) -> str:
    """The shared database, empty: every test starts from nothing, as with a fresh database."""
    _empty(engine)
    return shared_database


@pytest.fixture(scope="module")
def app(shared_database: str) -> AsyncApp:
    """The service as the suite configures it, with a log source so the log operations have something
    to guard."""
    settings = Settings(
        database_url=shared_database,
        password_hashing=FAST_HASHING,
        validate_responses=True,
        rate_limits=False,
        log_sources=parse_sources(f"{LOG_SOURCE}={LOGS / 'Linux_2k.log'}"),
    )
    return create_app(settings)


@pytest.fixture(scope="module")
def client(app: AsyncApp) -> Iterator[TestClient]:
    with app.test_client() as test_client:
        yield test_client


def _promote(client: TestClient, engine: Engine, account: Account) -> Account:
    """Makes an account an administrator (as `manage.py create-admin` does for an existing email) and gives
    it a token with every scope."""
    with engine.begin() as connection:
        connection.execute(update(UserRow).where(UserRow.id == account.id).values(is_admin=True))
    issued = client.post(
        f"{BASE}/tokens", json={"scopes": sorted(ADMIN_SCOPES)}, headers=basic(account.email, account.password)
    )
    assert issued.status_code == 201, issued.text
    return replace(account, token=issued.json()["access_token"])


@pytest.fixture
def promote(database_url: str, engine: Engine, client: TestClient) -> Callable[[Account], Account]:
    return lambda account: _promote(client, engine, account)


def _sign_up(client: TestClient, name: str) -> Account:
    email, password = f"{name.lower()}@security.example.com", f"{name}'s password"
    created = client.post(f"{BASE}/users", json={"name": name, "email": email, "password": password})
    issued = client.post(f"{BASE}/tokens", headers=basic(email, password))
    assert created.status_code == issued.status_code == 201, created.text + issued.text
    return Account(created.json()["id"], email, password, issued.json()["access_token"])


@pytest.fixture(scope="module")
def world_rows(client: TestClient, engine: Engine) -> tuple[World, dict[str, list[dict[str, Any]]]]:
    """The world, built once per module through the API as any client would build it, and its rows."""
    _empty(engine)
    ada, bob = _sign_up(client, "Ada"), _sign_up(client, "Bob")
    admin = _promote(client, engine, _sign_up(client, "Root"))
    plain = client.post(
        f"{BASE}/tokens", json={"scopes": sorted(ADMIN_SCOPES - {"admin"})}, headers=basic(admin.email, admin.password)
    )
    post = client.post(f"{BASE}/posts", json={"title": "Ada's post", "body": "Hers alone."}, headers=ada.auth)
    spare = client.post(f"{BASE}/tokens", json={"name": "spare"}, headers=basic(ada.email, ada.password))
    assert plain.status_code == post.status_code == spare.status_code == 201
    world = World(
        client=client,
        ada=ada,
        bob=bob,
        admin=admin,
        admin_without_admin_scope=replace(admin, token=plain.json()["access_token"]),
        post_id=post.json()["id"],
        spare_token_id=spare.json()["id"],
        spare_token=spare.json()["access_token"],
    )
    with engine.connect() as connection:
        saved = {
            table.name: [dict(row._mapping) for row in connection.execute(select(table))] for table in _world_tables()
        }
    return world, saved


def _world_tables() -> list[Table]:
    return [UserRow.__table__, PostRow.__table__, TokenRow.__table__]  # type: ignore[list-item]


@pytest.fixture
def world(database_url: str, engine: Engine, world_rows: tuple[World, dict[str, list[dict[str, Any]]]]) -> World:
    """The world as it was built, restored row by row into the emptied database before each test."""
    world, saved = world_rows
    with engine.begin() as connection:
        for table in _world_tables():
            connection.execute(table.insert(), saved[table.name])
    return world


Rows = dict[str, list[tuple[Any, ...]]]


@pytest.fixture
def rows(engine: Engine) -> Callable[[], Rows]:
    """Every row of the tables a request could change, to compare before and after."""

    def read() -> Rows:
        with engine.connect() as connection:
            return {
                table.name: [tuple(row) for row in connection.execute(select(table).order_by(table.c.id))]
                for table in _world_tables()
            }

    return read


@pytest.fixture
def expire(engine: Engine) -> Callable[[str], None]:
    """Moves a token's expiry into the past, as time would."""

    def apply(token_id: str) -> None:
        with engine.begin() as connection:
            moment = datetime.now(UTC) - timedelta(seconds=1)
            connection.execute(update(TokenRow).where(TokenRow.id == token_id).values(expires_at=moment))

    return apply


def assert_refused(response: httpx.Response, *statuses: int, where: object = "") -> dict[str, Any]:
    """A refusal as the spec promises it: one of `statuses`, problem+json, and nothing it should not say.
    `where` names the case in the failure message when one test tries several."""
    wanted = f"{response.status_code} (wanted {statuses})"
    assert response.status_code in statuses, f"{where}: {wanted}: {response.text[:300]}"
    assert response.headers["Content-Type"] == PROBLEM, f"{where}: {response.headers}"
    body: dict[str, Any] = response.json()
    assert body["status"] == response.status_code, where
    assert body["title"], where
    assert_no_leak(response, where=where)
    return body


def assert_no_leak(response: httpx.Response, *secrets_: str, where: object = "") -> None:
    text = response.text
    for marker in (*LEAK_MARKERS, *secrets_):
        assert marker not in text, f"{where}: the answer contains {marker!r}: {text[:300]}"


def random_token() -> str:
    return "gw_" + secrets.token_urlsafe(32)
