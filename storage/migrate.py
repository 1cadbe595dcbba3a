"""Numbered SQL migrations, applied once each, safe when several processes run them at once."""

from __future__ import annotations

import hashlib
import logging
import re
from collections.abc import Collection
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


class MigrationChangedError(RuntimeError):
    """A migration already applied to this database differs from the shipped file."""


@dataclass(frozen=True, slots=True)
class Migration:
    """One numbered SQL file."""

    version: int
    name: str
    sql: str

    @property
    def label(self) -> str:
        """`003_alerts`, as the file is named."""
        return f"{self.version:03d}_{self.name}"

    @property
    def checksum(self) -> str:
        """SHA-256 of the SQL; line endings normalised, so a CRLF checkout is no change."""
        return hashlib.sha256(self.sql.replace("\r\n", "\n").encode("utf-8")).hexdigest()


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


async def migrate(conn: asyncpg.Connection, *, accept_changed: Collection[int] = ()) -> list[int]:
    """Apply the migrations this database lacks; return the versions applied now.

    Refuses (MigrationChangedError, nothing applied) when a migration applied earlier no
    longer matches its file, unless its version is in `accept_changed`, the operator's
    word that the change is deliberate: then the new checksum is recorded.
    """
    applied_now: list[int] = []
    async with conn.transaction():
        await conn.execute("SELECT pg_advisory_xact_lock($1)", MIGRATION_LOCK_ID)
        await conn.execute(
            "CREATE TABLE IF NOT EXISTS schema_version ("
            " version integer PRIMARY KEY, name text NOT NULL,"
            " applied_at timestamptz NOT NULL DEFAULT now(), checksum text)"
        )
        await _add_checksum_column(conn)
        shipped = load_migrations()
        stored = {
            r["version"]: r["checksum"]
            for r in await conn.fetch("SELECT version, checksum FROM schema_version")
        }
        await _check_applied(conn, shipped, stored, set(accept_changed))
        for migration in shipped:
            if migration.version in stored:
                continue
            await conn.execute(migration.sql)
            await conn.execute(
                "INSERT INTO schema_version (version, name, checksum) VALUES ($1, $2, $3)",
                migration.version,
                migration.name,
                migration.checksum,
            )
            applied_now.append(migration.version)
            log.info(kv("migration_applied", version=migration.version, name=migration.name))
        if await timescaledb_loadable(conn):
            await _use_hypertables(conn)
    return applied_now


async def _add_checksum_column(conn: asyncpg.Connection) -> None:
    """Databases migrated before checksums existed lack the column (release 0.1.0)."""
    has_column = await conn.fetchval(
        "SELECT EXISTS (SELECT 1 FROM information_schema.columns WHERE table_schema ="
        " current_schema() AND table_name = 'schema_version' AND column_name = 'checksum')"
    )
    if not has_column:  # ALTER needs the table's owner: only when there is work to do
        await conn.execute("ALTER TABLE schema_version ADD COLUMN checksum text")


async def _check_applied(
    conn: asyncpg.Connection,
    shipped: list[Migration],
    stored: dict[int, str | None],
    accept_changed: set[int],
) -> None:
    """Record missing checksums, refuse changed migrations, note unknown ones."""
    by_version = {m.version: m for m in shipped}
    never_applied = sorted(accept_changed - stored.keys())
    if never_applied:
        raise MigrationChangedError(
            f"--accept-changed {never_applied[0]}: no such migration is applied to this database"
        )
    for version, checksum in sorted(stored.items()):
        migration = by_version.get(version)
        if migration is None:
            # A newer release migrated this database; its code may expect what we lack.
            log.warning(kv("migration_unknown", version=version,
                           action="this release is older than the database schema"))  # fmt: skip
            continue
        if checksum is None:  # applied before checksums existed: trust it, from now on
            await _record_checksum(conn, migration)
            log.info(kv("migration_checksum_recorded", version=version, name=migration.name))
        elif checksum != migration.checksum:
            if version not in accept_changed:
                raise MigrationChangedError(
                    f"migration {migration.label} was changed after it was applied to this"
                    f" database (sha256 applied {checksum[:12]}…,"
                    f" shipped {migration.checksum[:12]}…)."
                    " Nothing was migrated. Ship the file as it was; or, if the change is"
                    " deliberate and the database already matches it, run"
                    f" `eldercare db migrate --accept-changed {version}`"
                )
            await _record_checksum(conn, migration)
            log.warning(kv("migration_change_accepted", version=version, name=migration.name,
                           was=checksum, now=migration.checksum))  # fmt: skip


async def _record_checksum(conn: asyncpg.Connection, migration: Migration) -> None:
    await conn.execute(
        "UPDATE schema_version SET checksum = $2 WHERE version = $1",
        migration.version,
        migration.checksum,
    )


async def _use_hypertables(conn: asyncpg.Connection) -> None:
    """Make readings a hypertable; a no-op when it already is one."""
    try:
        async with conn.transaction():  # a savepoint, so a refusal leaves the rest applied
            await conn.execute("CREATE EXTENSION IF NOT EXISTS timescaledb")
    except asyncpg.InsufficientPrivilegeError as exc:
        # The extension is trusted (a database owner may create it); a role that is not
        # the owner may not. Everything works on a plain table; say what would fix it.
        database = await conn.fetchval("SELECT current_database()")
        log.warning(kv("timescaledb_not_enabled", reason=str(exc).splitlines()[0],
                       action=f"a superuser (or the owner of database {database}) runs"
                              " CREATE EXTENSION timescaledb there, then eldercare db migrate"
                              " again; until then readings is a plain table"))  # fmt: skip
        return
    # One-day chunks: a day of a district's readings is a few million rows, small
    # enough to stay in memory while it is being written, and retention drops whole days.
    await conn.execute(
        "SELECT create_hypertable('readings', 'ts', chunk_time_interval => INTERVAL '1 day',"
        " if_not_exists => TRUE, migrate_data => TRUE,"
        " create_default_indexes => FALSE)"  # the migrations made the indexes we query by
    )
