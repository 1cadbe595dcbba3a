"""`eldercare users add USERNAME --role R`: create console and API users."""

from __future__ import annotations

import argparse
import asyncio
import getpass
import os
import sys
from typing import Any

import pydantic

from api.auth.accounts import NewUser, create_user
from api.principal import Role
from core.clock import WallClock
from core.settings import Settings
from eldercare.runtime import database, migrate_and_detect
from storage.pool import create_pool
from storage.users import DuplicateUserError

PASSWORD_ENV = "ELDERCARE_NEW_PASSWORD"
# What each NewUser field is called on the command line, for error messages.
_ARGUMENT = {
    "username": "USERNAME",
    "password": "password",
    "display_name": "--display-name",
    "role": "--role",
    "language": "--language",
    "street": "--street",
}


def add_parser(subparsers: Any) -> None:
    """Register `users`."""
    users = subparsers.add_parser("users", help="manage console and API users")
    sub = users.add_subparsers(dest="users_command", metavar="ACTION", required=True)
    add = sub.add_parser(
        "add",
        help="create a user",
        description=f"The password is read from {PASSWORD_ENV}, from standard input with"
        " --password-stdin, or asked for at the terminal.",
    )
    add.add_argument("username")
    add.add_argument("--role", required=True, choices=[r.value for r in Role])
    add.add_argument("--street", help="the street office a supervisor watches (required for them)")
    add.add_argument("--display-name", help="the name shown in the console (default: USERNAME)")
    add.add_argument("--language", default="zh-CN", choices=["zh-CN", "en"])
    add.add_argument(
        "--password-stdin", action="store_true", help="read the password from standard input"
    )
    add.set_defaults(handler=run_users_add)


def _password(args: argparse.Namespace) -> str | None:
    if args.password_stdin:
        return sys.stdin.readline().rstrip("\r\n")
    from_env = os.environ.get(PASSWORD_ENV)
    if from_env:
        return from_env
    if not sys.stdin.isatty():
        return None
    first = getpass.getpass(f"password for {args.username}: ")
    if getpass.getpass("again: ") != first:
        print("eldercare: the passwords differ; nothing created", file=sys.stderr)
        return None
    return first


def _new_user(args: argparse.Namespace, password: str) -> NewUser | str:
    """The validated user, or a message naming the argument that is wrong."""
    try:
        return NewUser(
            username=args.username,
            password=password,
            display_name=args.display_name or args.username,
            role=Role(args.role),
            language=args.language,
            street=args.street,
        )
    except pydantic.ValidationError as error:
        first = error.errors()[0]
        field = str(first["loc"][0]) if first["loc"] else ""
        message = str(first["msg"]).removeprefix("Value error, ")
        if not field and message.startswith("street:"):  # the model-level rule
            field, message = "street", message.removeprefix("street:").strip()
        return f"{_ARGUMENT.get(field, field or 'arguments')}: {message}"


def run_users_add(args: argparse.Namespace, settings: Settings) -> int:
    """Create one user; the password never appears on the command line."""
    password = _password(args)
    if not password:
        print(
            f"eldercare: password: give it in {PASSWORD_ENV}, with --password-stdin, or at"
            " the terminal",
            file=sys.stderr,
        )
        return 2
    new = _new_user(args, password)
    if isinstance(new, str):
        print(f"eldercare: {new}", file=sys.stderr)
        return 2

    async def go(user: NewUser) -> int:
        async with database(settings) as url:
            await migrate_and_detect(url)
            pool = await create_pool(url, min_size=1, max_size=1)
            try:
                await create_user(pool, user, WallClock())
            except DuplicateUserError as error:
                print(f"eldercare: USERNAME: {error}", file=sys.stderr)
                return 1
            finally:
                await pool.close()
        print(f"user {user.username} added ({user.role.value})")
        return 0

    return asyncio.run(go(new))
