"""`eldercare db migrate`: bring the database schema up to date."""

from __future__ import annotations

import argparse
import asyncio
import logging
from typing import Any

from core.logs import kv
from core.settings import Settings
from eldercare.runtime import database, migrate_and_detect

log = logging.getLogger("eldercare.db")


def add_parser(subparsers: Any) -> None:
    """Register `db migrate`."""
    parser = subparsers.add_parser("db", help="database schema")
    sub = parser.add_subparsers(dest="db_command", metavar="ACTION", required=True)
    migrate = sub.add_parser("migrate", help="apply pending migrations (safe to repeat)")
    migrate.set_defaults(handler=run_migrate)


def run_migrate(args: argparse.Namespace, settings: Settings) -> int:
    """Apply pending migrations and report the storage backend."""

    async def go() -> int:
        async with database(settings) as url:
            applied, backend = await migrate_and_detect(url)
        log.info(kv("storage_backend", backend=backend.name, server=backend.server_version,
                    timescaledb=backend.timescaledb_version or "-",
                    license=backend.timescaledb_license or "-"))  # fmt: skip
        print(f"migrations applied: {applied or 'none (up to date)'}; backend: {backend.name}")
        return 0

    return asyncio.run(go())
