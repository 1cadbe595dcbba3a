"""`eldercare db migrate`: bring the database schema up to date."""

from __future__ import annotations

import argparse
import asyncio
from typing import Any

from core.settings import Settings
from eldercare.runtime import database, prepare_database


def add_parser(subparsers: Any) -> None:
    """Register `db migrate`."""
    parser = subparsers.add_parser("db", help="database schema")
    sub = parser.add_subparsers(dest="db_command", metavar="ACTION", required=True)
    migrate = sub.add_parser(
        "migrate",
        help="apply pending migrations (safe to repeat); refuses if an applied one was changed",
    )
    migrate.add_argument(
        "--accept-changed",
        metavar="N",
        type=int,
        action="append",
        default=[],
        help="migration N was changed on purpose after it was applied and the database"
        " already matches it: record its new checksum instead of refusing (repeatable)",
    )
    migrate.set_defaults(handler=run_migrate)


def run_migrate(args: argparse.Namespace, settings: Settings) -> int:
    """Apply pending migrations and report the storage backend."""

    async def go() -> int:
        async with database(settings) as url:
            applied, backend = await prepare_database(url, accept_changed=args.accept_changed)
        print(f"migrations applied: {applied or 'none (up to date)'}; backend: {backend.name}")
        return 0

    return asyncio.run(go())
