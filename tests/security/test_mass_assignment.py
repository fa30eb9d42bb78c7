"""Mass assignment (OWASP API3): a client cannot set what the server owns.

For every operation that takes a body, the fields the server owns are read from the spec and the tables:
what its answer shows or its row stores but its request schema does not accept (`id`, `author_id`,
`is_admin`, `created_at`, a token's `scopes` on a user...). Each is sent in every media type the operation
takes; each is refused with a 400 that names it, and nothing changes."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest

from storage.models import Base, PostRow, TokenRow, UserRow
from tests.conftest import Account
from tests.security.conftest import (
    BASE,
    Operation,
    Rows,
    World,
    assert_refused,
    operations,
    properties,
)

ROWS_OF_TAG: dict[str, type[Base]] = {"users": UserRow, "posts": PostRow, "tokens": TokenRow}
# Names a client might try whatever the schemas say: privileges and ownership under their usual spellings.
USUAL_SUSPECTS = {"is_admin", "isAdmin", "admin", "role", "roles", "scopes", "owner_id", "user_id", "author_id"}
WRITES = operations(lambda operation: bool(operation.media_types))


def server_owned(operation: Operation, media_type: str) -> set[str]:
    """What the operation's answer or row holds that its request does not accept."""
    accepted = set(properties(operation.body_schema(media_type)))
    shown = set(properties(operation.success_schema()))
    stored = set(ROWS_OF_TAG[operation.spec["tags"][0]].__table__.columns.keys())
    return (shown | stored | USUAL_SUSPECTS) - accepted


def forged_value(field: str, world: World) -> Any:
    """A value the server would be glad to have: another user's id, the past, every privilege."""
    if field in ("scopes", "roles"):
        return ["admin", "logs:read"]
    if field in ("is_admin", "isAdmin", "admin"):
        return True
    if field == "role":
        return "admin"
    if field == "id" or field.endswith("_id"):
        return world.bob.id
    if field.endswith("_at"):
        return "2000-01-01T00:00:00Z"
    if field in ("version", "expires_in"):
        return 1
    return "forged"


def caller_of(operation: Operation, world: World) -> Account | None:
    """The owner acting on their own things: the one who would gain by a forged field."""
    return None if operation.is_public and not operation.needs_password else world.ada


def cases() -> Iterator[Any]:
    for operation in WRITES:
        for media_type in operation.media_types:
            for field in sorted(server_owned(operation, media_type)):
                yield pytest.param(operation, media_type, field, id=f"{operation}-{media_type}-{field}")


def test_every_write_has_server_owned_fields_to_try() -> None:
    assert {operation.id for operation in WRITES} >= {"createUser", "updateUser", "createPost", "createToken"}
    for operation in WRITES:
        for media_type in operation.media_types:
            assert {"id", "created_at"} <= server_owned(operation, media_type), operation


@pytest.mark.parametrize(("operation", "media_type", "field"), cases())
def test_a_server_owned_field_is_refused_and_changes_nothing(
    world: World, rows: Callable[[], Rows], operation: Operation, media_type: str, field: str
) -> None:
    caller = caller_of(operation, world)
    body = world.body(operation, media_type, caller) | {field: forged_value(field, world)}
    auth = world.credentials(operation, caller) if caller else None
    before = rows()

    response = world.call(operation, auth=auth, caller=caller, media_type=media_type, body=body)

    problem = assert_refused(response, 400)
    assert field in problem["detail"]
    assert rows() == before


@pytest.mark.parametrize("spelling", ["is_admin", "isAdmin", "IS_ADMIN", "admin", "role", "scopes"])
@pytest.mark.parametrize(
    "operation", operations(lambda op: op.spec["tags"] == ["users"] and bool(op.media_types)), ids=str
)
def test_a_user_cannot_make_themselves_an_administrator(
    world: World, rows: Callable[[], Rows], operation: Operation, spelling: str
) -> None:
    value: Any = "admin" if spelling == "role" else ["admin"] if spelling == "scopes" else True
    caller = caller_of(operation, world)
    body = world.body(operation, "application/json", caller) | {spelling: value}
    before = rows()

    response = world.call(operation, auth=caller.auth if caller else None, caller=caller, body=body)

    assert_refused(response, 400)
    assert rows() == before
    assert world.client.get(f"{BASE}/me", headers=world.ada.auth).json()["is_admin"] is False
    admin_token = world.client.post(
        f"{BASE}/tokens", json={"scopes": ["admin"]}, auth=(world.ada.email, world.ada.password)
    )
    assert admin_token.status_code == 403


@pytest.mark.parametrize("operation", WRITES, ids=str)
def test_a_query_parameter_cannot_set_a_field_either(
    world: World, rows: Callable[[], Rows], operation: Operation
) -> None:
    caller = caller_of(operation, world)
    auth = world.credentials(operation, caller) if caller else None
    before = rows()

    response = world.call(operation, auth=auth, caller=caller, params={"is_admin": "true", "author_id": world.bob.id})

    assert_refused(response, 400)
    assert rows() == before


def test_a_post_cannot_be_moved_to_another_author(world: World, rows: Callable[[], Rows]) -> None:
    before = rows()

    for method in ("PUT", "PATCH"):
        response = world.client.request(
            method,
            f"{BASE}/posts/{world.post_id}",
            json={"title": "Mine now", "body": "Or so I say.", "author_id": world.bob.id},
            headers=world.ada.auth,
        )
        assert_refused(response, 400)

    assert rows() == before
    assert world.client.get(f"{BASE}/posts/{world.post_id}").json()["author_id"] == world.ada.id
