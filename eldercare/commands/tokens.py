"""`eldercare tokens create|list|revoke`: integration (bearer) tokens."""

from __future__ import annotations

import argparse
import sys
from datetime import timedelta
from typing import Any

import asyncpg

from api.auth.accounts import MAX_TOKEN_DAYS, create_token, revoke_token, token_json
from core.clock import WallClock
from core.settings import Settings
from eldercare.commands.arguments import record_id
from eldercare.commands.users import CLI_ACTOR, with_pool
from storage import users


def _days(text: str) -> int:
    try:
        days = int(text)
    except ValueError:
        days = 0
    if not 1 <= days <= MAX_TOKEN_DAYS:
        raise argparse.ArgumentTypeError(f"give a number of days from 1 to {MAX_TOKEN_DAYS}")
    return days


def add_parser(subparsers: Any) -> None:
    """Register `tokens`."""
    tokens = subparsers.add_parser("tokens", help="integration tokens: create, list, revoke")
    sub = tokens.add_subparsers(dest="tokens_command", metavar="ACTION", required=True)
    create = sub.add_parser("create", help="a new token for a user (printed once)")
    create.add_argument("username")
    create.add_argument("--label", required=True, help="what the token is for")
    create.add_argument(
        "--days", type=_days, help="how long it lasts (default: ELDERCARE_API_TOKEN_DAYS)"
    )
    create.set_defaults(handler=run_tokens_create)
    listing = sub.add_parser("list", help="tokens, newest first (never their values)")
    listing.add_argument("--user", help="only this user's")
    listing.add_argument("--live", action="store_true", help="leave out revoked and expired")
    listing.set_defaults(handler=run_tokens_list)
    revoke = sub.add_parser("revoke", help="revoke a token by its id (servers refuse it"
                            " within 5 s)")  # fmt: skip
    revoke.add_argument("token_id", type=record_id)
    revoke.set_defaults(handler=run_tokens_revoke)


def run_tokens_create(args: argparse.Namespace, settings: Settings) -> int:
    """Create a token and print it (the only time it is shown)."""
    lifetime = timedelta(days=args.days or settings.api_token_days)

    async def action(pool: asyncpg.Pool) -> int:
        created = await create_token(pool, args.username, args.label, WallClock(), lifetime)
        if created is None:
            print(f"eldercare: USERNAME: no user {args.username}", file=sys.stderr)
            return 1
        token_id, token = created
        print(f"token {token_id} for {args.username}, valid {lifetime.days} days:", file=sys.stderr)
        print(token)
        return 0

    return with_pool(settings, action)


def run_tokens_list(args: argparse.Namespace, settings: Settings) -> int:
    """One line per token: id, user, state, expiry, last use, label."""

    async def action(pool: asyncpg.Pool) -> int:
        now = WallClock().now()
        async with pool.acquire() as conn:
            found = await users.list_tokens(conn, username=args.user, live_only=args.live, now=now)
        print("id\tuser\tstate\texpires\tlast used\tlabel")
        for token in found:
            t = token_json(token, now)
            last = f"{token.last_used_at:%Y-%m-%d %H:%M}" if token.last_used_at else "never"
            print(f"{t['id']}\t{t['username']}\t{t['state']}\t{token.expires_at:%Y-%m-%d}"
                  f"\t{last}\t{t['label']}")  # fmt: skip
        return 0

    return with_pool(settings, action)


def run_tokens_revoke(args: argparse.Namespace, settings: Settings) -> int:
    """Revoke one token."""

    async def action(pool: asyncpg.Pool) -> int:
        token = await revoke_token(pool, args.token_id, CLI_ACTOR, WallClock(), None)
        if token is None:
            print(f"eldercare: TOKEN_ID: no token {args.token_id}", file=sys.stderr)
            return 1
        print(f"token {token.id} of {token.username} revoked")
        return 0

    return with_pool(settings, action)
