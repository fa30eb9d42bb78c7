"""Operations tagged `users`."""

from __future__ import annotations

from typing import Any

from connexion.lifecycle import ConnexionResponse

from domain import users
from handlers.http import (
    Response,
    actor,
    created_at,
    expected,
    no_content,
    one,
    optional_actor,
    page,
    read_one,
    services,
)
from web.threads import brief_read, password_work


@brief_read
def list_users(limit: int = 20, cursor: str | None = None) -> Response:
    return page(users.list_page(services().db, optional_actor(), limit=limit, cursor=cursor))


@password_work
def create_user(body: dict[str, Any]) -> Response:
    gateway = services()
    user = users.sign_up(
        gateway.db, gateway.passwords, name=body["name"], email=body["email"], password=body["password"]
    )
    return one(user, 201, location=created_at(user))


@brief_read
def get_user(user_id: str) -> Response | ConnexionResponse:
    return read_one(users.get(services().db, user_id, optional_actor()))


@password_work
def replace_user(user_id: str, body: dict[str, Any], token_info: dict[str, Any]) -> Response:
    gateway = services()
    return one(users.change(gateway.db, gateway.passwords, actor(token_info), user_id, body, expected()))


@password_work
def update_user(user_id: str, body: dict[str, Any], token_info: dict[str, Any]) -> Response:
    gateway = services()
    return one(users.change(gateway.db, gateway.passwords, actor(token_info), user_id, body, expected()))


def delete_user(user_id: str, token_info: dict[str, Any]) -> Response:
    users.delete(services().db, actor(token_info), user_id, expected())
    return no_content()


@brief_read
def get_me(token_info: dict[str, Any]) -> Response | ConnexionResponse:
    caller = actor(token_info)
    return read_one(users.get(services().db, caller.user_id, caller))
