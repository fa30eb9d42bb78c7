"""Object- and function-level authorization (OWASP API1, API3 and API5), read from the spec.

Every operation of spec/openapi.yaml is listed below with who may call it; the spec must agree, and a new
operation fails these tests until it is listed. Each operation is then called by everyone who may not call
it: without a token, with a forged, expired or revoked one, with a token lacking the scope, as another user,
as an administrator whose token was not granted `admin`. Each is refused as the spec documents, and the
database is unchanged afterwards. Public reads show private fields to their owner and administrators only."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from enum import Enum
from typing import Any

import pytest
from sqlalchemy import Engine, update

from domain.access import ADMIN_ONLY_SCOPES
from storage.models import UserRow
from tests.conftest import Account, SignUp, basic, bearer
from tests.security.conftest import (
    ADMIN_SCOPES,
    BASE,
    OPERATIONS,
    SPEC,
    USER_SCOPES,
    Operation,
    Rows,
    World,
    assert_no_leak,
    assert_refused,
    deref,
    operations,
    properties,
    random_token,
)


class Access(Enum):
    PUBLIC = "anyone, without credentials"
    PASSWORD = "an account's email and password"
    CALLER = "a bearer token; the operation acts on the caller's own things"
    OWNER = "a bearer token of the object's owner, or of an administrator where the spec allows"
    OPERATOR = "a bearer token with a scope only administrators hold"


# Who may call each operation. A new operation in the spec fails test_every_operation_has_an_access_rule
# until it is listed here, and test_the_spec_agrees_with_the_access_rule fails if the spec's security
# says otherwise (an operation made public by mistake, a scope dropped).
ACCESS: dict[str, Access] = {
    "listUsers": Access.PUBLIC,
    "createUser": Access.PUBLIC,
    "getUser": Access.PUBLIC,
    "replaceUser": Access.OWNER,
    "updateUser": Access.OWNER,
    "deleteUser": Access.OWNER,
    "getMe": Access.CALLER,
    "listPosts": Access.PUBLIC,
    "createPost": Access.CALLER,
    "getPost": Access.PUBLIC,
    "replacePost": Access.OWNER,
    "updatePost": Access.OWNER,
    "deletePost": Access.OWNER,
    "createToken": Access.PASSWORD,
    "listTokens": Access.CALLER,
    "getToken": Access.OWNER,
    "deleteToken": Access.OWNER,
    "listLogSources": Access.OPERATOR,
    "listLogErrors": Access.OPERATOR,
    "listLogEntries": Access.OPERATOR,
    "getLogStats": Access.OPERATOR,
    "getHealth": Access.PUBLIC,
    "getReadiness": Access.PUBLIC,
}


# Operations guarded by something other than the accounts' credentials, with where that is proved.
COVERED_ELSEWHERE = {
    "getMetrics": "tests/test_metrics.py: its own operator token (metricsToken): 401 without it, 404 when off",
}
CHECKED_HERE = [operation for operation in OPERATIONS if operation.id not in COVERED_ELSEWHERE]


@dataclass(frozen=True)
class Owned:
    kind: str
    administrators_may_act: bool


# What each path parameter of the spec names, and whether someone owns it. As the spec says: only the
# user or an administrator changes an account, the author or an administrator a post; another user's token
# "is reported as not found, except to an administrator acting with the `admin` scope".
PATH_OBJECTS: dict[str, Owned | None] = {
    "user_id": Owned("account", administrators_may_act=True),
    "post_id": Owned("post", administrators_may_act=True),
    "token_id": Owned("token", administrators_may_act=True),
    "source": None,  # the operator's log files, guarded by the logs:read scope
}
# Shown only to the user themself and to administrators (the User schema leaves them optional for that).
PRIVATE_USER_FIELDS = {"email"}
# Never in any answer, to anyone.
SECRET_FIELDS = {"password", "password_hash", "secret_hash", "email_key"}


def owned_object(operation: Operation) -> Owned | None:
    return next((owned for name in operation.path_parameters if (owned := PATH_OBJECTS[name])), None)


def access_from_spec(operation: Operation) -> Access:
    if operation.needs_password:
        return Access.PASSWORD
    if operation.is_public:
        return Access.PUBLIC
    if operation.scopes & ADMIN_ONLY_SCOPES:
        return Access.OPERATOR
    if owned_object(operation) is not None:
        return Access.OWNER
    return Access.CALLER


def having(*kinds: Access) -> list[Operation]:
    return operations(lambda operation: ACCESS.get(operation.id) in kinds)


def refusal_to_intruders(operation: Operation) -> int:
    """403 where the spec documents it for the operation, otherwise the 404 it documents."""
    return 403 if "403" in operation.responses else 404


def holdable_scopes(account: Account, world: World) -> frozenset[str]:
    return ADMIN_SCOPES if account in (world.admin, world.admin_without_admin_scope) else USER_SCOPES


def succeeded(status: int) -> bool:
    return 200 <= status < 300


# The operations the spec has, and the rules above.


def test_every_operation_has_an_access_rule() -> None:
    in_spec = {operation.id for operation in OPERATIONS} - set(COVERED_ELSEWHERE)

    assert in_spec - set(ACCESS) == set(), "operations of the spec without an access rule here"
    assert set(ACCESS) - in_spec == set(), "access rules for operations the spec no longer has"


def test_every_path_parameter_names_a_known_object() -> None:
    in_spec = {name for operation in OPERATIONS for name in operation.path_parameters}

    assert in_spec == set(PATH_OBJECTS)


@pytest.mark.parametrize("operation", CHECKED_HERE, ids=str)
def test_the_spec_agrees_with_the_access_rule(operation: Operation) -> None:
    assert access_from_spec(operation) == ACCESS[operation.id]


@pytest.mark.parametrize("operation", having(Access.OWNER), ids=str)
def test_the_spec_documents_how_an_intruder_is_refused(operation: Operation) -> None:
    assert str(refusal_to_intruders(operation)) in operation.responses
    assert "401" in operation.responses


# The rightful caller gets through: what makes every refusal below mean something.


@pytest.mark.parametrize("operation", CHECKED_HERE, ids=str)
def test_the_rightful_caller_gets_through(world: World, operation: Operation) -> None:
    caller = world.rightful_caller(operation)
    auth = None if ACCESS[operation.id] is Access.PUBLIC else world.credentials(operation, caller)

    response = world.call(operation, auth=auth, caller=caller)

    assert succeeded(response.status_code), response.text


# Authentication (API2): no token, a forged, an expired, a revoked one, a deleted account's.

BAD_TOKENS = ["no token", "a forged token", "an expired token", "a revoked token", "the token of a deleted account"]


@pytest.fixture
def bad_token(
    request: pytest.FixtureRequest,
    world: World,
    sign_up: SignUp,
    promote: Callable[[Account], Account],
    expire: Callable[[str], None],
) -> Callable[[Operation], dict[str, str]]:
    """Headers with a bad token standing in for the operation's rightful caller, with every scope."""

    def make(operation: Operation) -> dict[str, str]:
        caller = world.rightful_caller(operation)
        kind: str = request.param
        if kind == "no token":
            return {}
        if kind == "a forged token":
            return bearer(random_token())
        if kind == "the token of a deleted account":
            gone = promote(sign_up("Gone")) if caller is world.admin else sign_up("Gone")
            assert world.client.delete(f"{BASE}/users/{gone.id}", headers=gone.auth).status_code == 204
            return gone.auth
        secret, token_id = world.mint(caller, holdable_scopes(caller, world))
        if kind == "an expired token":
            expire(token_id)
        else:
            assert world.client.delete(f"{BASE}/tokens/{token_id}", headers=bearer(secret)).status_code == 204
        return bearer(secret)

    return make


@pytest.mark.parametrize("bad_token", BAD_TOKENS, indirect=True)
@pytest.mark.parametrize("operation", operations(lambda operation: operation.needs_bearer), ids=str)
def test_an_operation_that_needs_a_token_refuses_a_bad_one(
    world: World, rows: Callable[[], Rows], bad_token: Callable[[Operation], dict[str, str]], operation: Operation
) -> None:
    headers = bad_token(operation)
    before = rows()

    response = world.call(operation, auth=headers, caller=world.rightful_caller(operation))

    assert_refused(response, 401)
    assert "Bearer" in response.headers["WWW-Authenticate"]
    assert rows() == before


PASSWORD_FAILURES: dict[str, Callable[[World, SignUp], dict[str, str]]] = {
    "no credentials": lambda world, sign_up: {},
    "a wrong password": lambda world, sign_up: basic(world.ada.email, "not the password"),
    "an unknown email": lambda world, sign_up: basic("nobody@example.com", world.ada.password),
    "a bearer token instead": lambda world, sign_up: world.ada.auth,
    "a deleted account's password": lambda world, sign_up: _deleted(world, sign_up),
}


def _deleted(world: World, sign_up: SignUp) -> dict[str, str]:
    gone = sign_up("Gone")
    assert world.client.delete(f"{BASE}/users/{gone.id}", headers=gone.auth).status_code == 204
    return basic(gone.email, gone.password)


@pytest.mark.parametrize("failure", PASSWORD_FAILURES)
@pytest.mark.parametrize("operation", having(Access.PASSWORD), ids=str)
def test_an_operation_that_needs_a_password_refuses_wrong_credentials(
    world: World, rows: Callable[[], Rows], sign_up: SignUp, operation: Operation, failure: str
) -> None:
    headers = PASSWORD_FAILURES[failure](world, sign_up)
    before = rows()

    # The JSON body: the form-encoded grant carries its own credentials, tried in test_hostile_input.
    response = world.call(operation, auth=headers, media_type="application/json")

    assert_refused(response, 401)
    assert "Basic" in response.headers["WWW-Authenticate"]
    assert rows() == before


# Function-level authorization (API5): scopes, and what only administrators may do.


@pytest.mark.parametrize("operation", operations(lambda operation: bool(operation.scopes)), ids=str)
def test_a_token_without_the_required_scope_is_refused(
    world: World, rows: Callable[[], Rows], operation: Operation
) -> None:
    caller = world.rightful_caller(operation)
    others = holdable_scopes(caller, world) - operation.scopes
    assert others, "the caller must be able to hold some other scope"
    secret, _ = world.mint(caller, others)
    before = rows()

    response = world.call(operation, auth=bearer(secret), caller=caller)

    assert_refused(response, 403)
    assert rows() == before


@pytest.mark.parametrize("operation", having(Access.OPERATOR), ids=str)
def test_an_operator_operation_refuses_every_account_that_is_not_an_administrator(
    world: World, operation: Operation
) -> None:
    response = world.call(operation, auth=world.bob.auth, caller=world.bob)

    assert_refused(response, 403)


def test_a_demoted_administrator_loses_every_power_at_once(world: World, engine: Engine) -> None:
    with engine.begin() as connection:
        connection.execute(update(UserRow).where(UserRow.id == world.admin.id).values(is_admin=False))
    client = world.client

    assert client.delete(f"{BASE}/users/{world.ada.id}", headers=world.admin.auth).status_code == 403
    assert client.get(f"{BASE}/logs/sources", headers=world.admin.auth).status_code == 403
    assert "email" not in client.get(f"{BASE}/users/{world.ada.id}", headers=world.admin.auth).json()
    assert client.get(f"{BASE}/users/{world.ada.id}").status_code == 200


# Object-level authorization (API1): another user's account, post and tokens.

INTRUDERS: dict[str, Callable[[World], Account]] = {
    "another user": lambda world: world.bob,
    "an administrator whose token lacks admin": lambda world: world.admin_without_admin_scope,
    "an administrator": lambda world: world.admin,
}


def intrusions() -> Iterator[Any]:
    for operation in having(Access.OWNER):
        owned = owned_object(operation)
        assert owned is not None
        for intruder in INTRUDERS:
            if intruder == "an administrator" and owned.administrators_may_act:
                continue
            yield pytest.param(operation, intruder, id=f"{operation}-{intruder}")


@pytest.mark.parametrize(("operation", "intruder"), intrusions())
def test_nobody_but_the_owner_acts_on_an_owned_object(
    world: World, rows: Callable[[], Rows], operation: Operation, intruder: str
) -> None:
    account = INTRUDERS[intruder](world)
    before = rows()

    response = world.call(operation, auth=world.credentials(operation, account), caller=account)

    assert_refused(response, refusal_to_intruders(operation))
    assert rows() == before
    for name in operation.path_parameters:
        assert world.path_value(name) not in response.text


@pytest.mark.parametrize(
    "operation",
    [op for op in having(Access.OWNER) if (owned := owned_object(op)) and owned.administrators_may_act],
    ids=str,
)
def test_an_administrator_acts_on_an_owned_object_where_the_spec_allows(world: World, operation: Operation) -> None:
    response = world.call(operation, auth=world.admin.auth, caller=world.admin)

    assert succeeded(response.status_code), response.text


@pytest.mark.parametrize("operation", having(Access.CALLER), ids=str)
def test_an_operation_on_the_callers_own_things_never_reaches_another_users(
    world: World, rows: Callable[[], Rows], operation: Operation
) -> None:
    def adas(snapshot: Rows) -> list[tuple[Any, ...]]:
        return [row for table in snapshot.values() for row in table if world.ada.id in row]

    before = rows()

    response = world.call(operation, auth=world.bob.auth, caller=world.bob)

    assert succeeded(response.status_code), response.text
    assert adas(rows()) == adas(before)
    for mine in (world.ada.id, world.post_id, world.spare_token_id):
        assert mine not in response.text


# Property-level authorization (API3): private fields of public reads; secrets never.


def returns_users(operation: Operation) -> bool:
    user = SPEC["components"]["schemas"]["User"]
    schema = operation.success_schema()
    items = deref(properties(schema).get("items", {}).get("items", {}))
    return user in (schema, items)


def test_the_private_user_fields_are_the_optional_ones() -> None:
    user = SPEC["components"]["schemas"]["User"]

    assert set(properties(user)) - set(user["required"]) == PRIVATE_USER_FIELDS


VIEWERS: dict[str, tuple[Callable[[World], Account | None], bool]] = {
    "anonymous": (lambda world: None, False),
    "another user": (lambda world: world.bob, False),
    "an administrator whose token lacks admin": (lambda world: world.admin_without_admin_scope, False),
    "the owner": (lambda world: world.ada, True),
    "an administrator": (lambda world: world.admin, True),
}


@pytest.mark.parametrize("viewer", VIEWERS)
@pytest.mark.parametrize(
    "operation", operations(lambda op: op.method == "GET" and op.is_public and returns_users(op)), ids=str
)
def test_a_public_read_shows_private_fields_only_to_the_owner_and_administrators(
    world: World, operation: Operation, viewer: str
) -> None:
    who, sees = VIEWERS[viewer]
    account = who(world)

    response = world.call(operation, auth=account.auth if account else None, caller=account)

    assert response.status_code == 200, response.text
    body = response.json()
    shown = [user for user in body.get("items", [body]) if user["id"] == world.ada.id]
    assert len(shown) == 1
    for field in PRIVATE_USER_FIELDS:
        assert (field in shown[0]) is sees, shown[0]
    if not sees:
        assert world.ada.email not in response.text


def keys(document: Any) -> Iterator[str]:
    if isinstance(document, dict):
        for key, value in document.items():
            yield key
            yield from keys(value)
    elif isinstance(document, list):
        for item in document:
            yield from keys(item)


@pytest.mark.parametrize("viewer", ["anonymous", "another user"])
@pytest.mark.parametrize("operation", CHECKED_HERE, ids=str)
def test_no_answer_gives_away_another_users_private_data(world: World, operation: Operation, viewer: str) -> None:
    account = VIEWERS[viewer][0](world)
    auth = world.credentials(operation, account) if account else None

    response = world.call(operation, auth=auth, caller=account)

    assert response.status_code < 500, response.text
    assert_no_leak(response, world.ada.email, *world.secrets())
    if response.headers["Content-Type"] == "application/json":
        assert SECRET_FIELDS.isdisjoint(keys(response.json()))


def test_the_administrator_without_the_admin_scope_has_an_administrators_account(world: World) -> None:
    # What makes that intruder meaningful: the account is an administrator's, only the token lacks `admin`.
    client, account = world.client, world.admin_without_admin_scope
    tokens = client.get(f"{BASE}/tokens", headers=account.auth).json()["items"]

    assert client.get(f"{BASE}/me", headers=account.auth).json()["is_admin"] is True
    assert [token["scopes"] for token in tokens if "admin" not in token["scopes"]]
