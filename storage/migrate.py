"""Numbered SQL migrations, applied once each, safe when several processes run them at once."""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass
from importlib import resources

import asyncpg

from core.logs import kv
from storage.backend import timescaledb_loadable

log = logging.getLogger("eldercare.storage")

# Any constant works; every process migrating this database takes the same lock,
# so the second one waits and then finds nothing left to do.
MIGRATION_LOCK_ID = 0x656C6465  # "elde"
_NAME = re.compile(r"(\d{3})_([a-z0-9_]+)\.sql")


@dataclass(frozen=True, slots=True)
class Migration:
    """One numbered SQL file."""

    version: int
    name: str
    sql: str


def load_migrations() -> list[Migration]:
    """All migrations shipped in storage/migrations, in version order."""
    found = []
    for entry in resources.files("storage.migrations").iterdir():
        match = _NAME.fullmatch(entry.name)
        if match:
            found.append(Migration(int(match[1]), match[2], entry.read_text(encoding="utf-8")))
    found.sort(key=lambda m: m.version)
    versions = [m.version for m in found]
    if len(set(versions)) != len(versions):
        raise RuntimeError(f"duplicate migration numbers: {versions}")
    return found


async def migrate(conn: asyncpg.Connection) -> list[int]:
    """Apply the migrations this database lacks; return the versions applied now."""
    applied_now: list[int] = []
    async with conn.transaction():
        await conn.execute("SELECT pg_advisory_xact_lock($1)", MIGRATION_LOCK_ID)
        await conn.execute(
            "CREATE TABLE IF NOT EXISTS schema_version ("
            " version integer PRIMARY KEY, name text NOT NULL,"
            " applied_at timestamptz NOT NULL DEFAULT now())"
        )
        done = {r["version"] for r in await conn.fetch("SELECT version FROM schema_version")}
        for migration in load_migrations():
            if migration.version in done:
                continue
            await conn.execute(migration.sql)
            await conn.execute(
                "INSERT INTO schema_version (version, name) VALUES ($1, $2)",
                migration.version,
                migration.name,
            )
            applied_now.append(migration.version)
            log.info(kv("migration_applied", version=migration.version, name=migration.name))
        if await timescaledb_loadable(conn):
            await _use_hypertables(conn)
    return applied_now


async def _use_hypertables(conn: asyncpg.Connection) -> None:
    """Make readings a hypertable; a no-op when it already is one."""
    await conn.execute("CREATE EXTENSION IF NOT EXISTS timescaledb")
    # One-day chunks: a day of a district's readings is a few million rows, small
    # enough to stay in memory while it is being written, and retention drops whole days.
    await conn.execute(
        "SELECT create_hypertable('readings', 'ts', chunk_time_interval => INTERVAL '1 day',"
        " if_not_exists => TRUE, migrate_data => TRUE,"
        " create_default_indexes => FALSE)"  # the migrations made the indexes we query by
    )
