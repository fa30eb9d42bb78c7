"""Operator commands: `migrate` brings the database to the current schema; `create-admin` creates the
first administrator (or promotes an existing account). The password is read from the terminal, or from
GATEWAY_ADMIN_PASSWORD when there is no terminal, so it never appears in the shell history."""

from __future__ import annotations

import argparse
import getpass
import os
import sys

from domain import users
from domain.errors import GatewayError
from domain.passwords import Passwords
from settings import Settings, SettingsError
from storage.db import Database
from storage.migrate import upgrade

MIN_PASSWORD = 8


def read_password() -> str:
    from_env = os.environ.get("GATEWAY_ADMIN_PASSWORD")
    if from_env is not None:
        return from_env
    if not sys.stdin.isatty():
        raise SystemExit("No terminal to ask for the password: set GATEWAY_ADMIN_PASSWORD.")
    first = getpass.getpass("Password for the administrator: ")
    if first != getpass.getpass("Same password again: "):
        raise SystemExit("The two passwords differ.")
    return first


def create_admin(settings: Settings, email: str, name: str) -> str:
    password = read_password()
    if not MIN_PASSWORD <= len(password) <= 128:
        raise SystemExit(f"The password must have {MIN_PASSWORD} to 128 characters.")
    hashing = settings.password_hashing
    passwords = Passwords(time_cost=hashing.time_cost, memory_kib=hashing.memory_kib, parallelism=hashing.parallelism)
    db = Database(settings.database_url)
    try:
        user, created = users.make_admin(db, passwords, name=name, email=email, password=password)
    finally:
        db.dispose()
    return f"{'Created' if created else 'Promoted'} administrator {user.id} <{user.email}>"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="manage.py", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)
    commands.add_parser("migrate", help="apply the database migrations")
    admin = commands.add_parser("create-admin", help="create the first administrator")
    admin.add_argument("--email", required=True)
    admin.add_argument("--name", required=True)
    args = parser.parse_args(argv)
    try:
        settings = Settings.from_env()
    except SettingsError as error:
        raise SystemExit(f"configuration error: {error}") from None
    if args.command == "migrate":
        upgrade(settings.database_url)
        print("database is at the latest migration")
    else:
        upgrade(settings.database_url)
        try:
            print(create_admin(settings, args.email, args.name))
        except GatewayError as error:
            raise SystemExit(error.detail) from None
    return 0


if __name__ == "__main__":
    sys.exit(main())
