"""`eldercare users add|list|disable|enable|passwd`: console and API users."""

from __future__ import annotations

import argparse
import asyncio
import getpass
import os
import sys
from collections.abc import Awaitable, Callable
from typing import Any

import asyncpg
import pydantic

from api.auth.accounts import NewUser, create_user, set_password, set_user_disabled
from api.auth.password_rules import password_problem
from api.principal import Role
from core.clock import WallClock
from core.settings import Settings
from eldercare.runtime import database, migrate_and_detect
from storage.pool import create_pool
from storage.users import DuplicateUserError, list_users

PASSWORD_ENV = "ELDERCARE_NEW_PASSWORD"
CLI_ACTOR = "cli"  # who disabled a user or revoked a token from the command line
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

    listing = sub.add_parser("list", help="list users (disabled ones marked)")
    listing.set_defaults(handler=run_users_list)
    for action, text in (("disable", "disable a user: sessions end, tokens stop working"),
                         ("enable", "enable a disabled user again")):  # fmt: skip
        one = sub.add_parser(action, help=text)
        one.add_argument("username")
        one.set_defaults(handler=run_users_disable, disable=action == "disable")
    passwd = sub.add_parser(
        "passwd",
        help="set a user's password (their sessions end)",
        description=f"The new password is read from {PASSWORD_ENV}, from standard input"
        " with --password-stdin, or asked for at the terminal.",
    )
    passwd.add_argument("username")
    passwd.add_argument(
        "--password-stdin", action="store_true", help="read the password from standard input"
    )
    passwd.set_defaults(handler=run_users_passwd)


def with_pool(settings: Settings, action: Callable[[asyncpg.Pool], Awaitable[int]]) -> int:
    """Run `action` on a one-connection pool of the configured (migrated) database."""

    async def go() -> int:
        async with database(settings) as url:
            await migrate_and_detect(url)
            pool = await create_pool(url, min_size=1, max_size=1)
            try:
                return await action(pool)
            finally:
                await pool.close()

    return asyncio.run(go())


def run_users_list(args: argparse.Namespace, settings: Settings) -> int:
    """One line per user: name, role, street, and whether disabled."""

    async def action(pool: asyncpg.Pool) -> int:
        async with pool.acquire() as conn:
            for user in await list_users(conn):
                state = (
                    f"disabled {user.disabled_at:%Y-%m-%d}"
                    if user.disabled_at
                    else ("disabled" if user.disabled else "active")
                )
                print(f"{user.username}\t{user.role}\t{user.street or '-'}\t{state}")
        return 0

    return with_pool(settings, action)


def run_users_disable(args: argparse.Namespace, settings: Settings) -> int:
    """Disable or enable one user (running servers notice within 5 s)."""

    async def action(pool: asyncpg.Pool) -> int:
        user = await set_user_disabled(
            pool, args.username, args.disable, CLI_ACTOR, WallClock(), None
        )
        if user is None:
            print(f"eldercare: USERNAME: no user {args.username}", file=sys.stderr)
            return 1
        print(f"user {user.username} {'disabled' if user.disabled else 'enabled'}")
        return 0

    return with_pool(settings, action)


def run_users_passwd(args: argparse.Namespace, settings: Settings) -> int:
    """Set one user's password; their sessions end."""
    password = _password(args)
    if not password:
        print(f"eldercare: password: give it in {PASSWORD_ENV}, with --password-stdin, or at"
              " the terminal", file=sys.stderr)  # fmt: skip
        return 2
    problem = password_problem(password, args.username)
    if problem is not None:
        print(f"eldercare: password: {problem}", file=sys.stderr)
        return 2

    async def action(pool: asyncpg.Pool) -> int:
        if not await set_password(pool, args.username, password, WallClock(), None):
            print(f"eldercare: USERNAME: no user {args.username}", file=sys.stderr)
            return 1
        print(f"password of {args.username} changed; their sessions have ended")
        return 0

    return with_pool(settings, action)


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

    async def action(pool: asyncpg.Pool) -> int:
        try:
            await create_user(pool, new, WallClock())
        except DuplicateUserError as error:
            print(f"eldercare: USERNAME: {error}", file=sys.stderr)
            return 1
        print(f"user {new.username} added ({new.role.value})")
        return 0

    return with_pool(settings, action)
