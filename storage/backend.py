"""Which database we talk to: TimescaleDB (hypertables, time_bucket) or plain PostgreSQL."""

from __future__ import annotations

from dataclasses import dataclass

import asyncpg

# time_bucket's default origin for interval buckets (a Monday); date_bin gets the same
# so both backends put bucket edges in the same places.
BUCKET_ORIGIN = "2000-01-03 00:00:00+00"


@dataclass(frozen=True, slots=True)
class Backend:
    """What the connected server offers."""

    server_version: str
    timescaledb_version: str | None
    timescaledb_license: str | None

    @property
    def name(self) -> str:
        """`timescaledb` or `postgresql`, for logs and metrics."""
        return "timescaledb" if self.timescaledb_version else "postgresql"

    def bucket_sql(self, width: str, column: str) -> str:
        """SQL that rounds `column` down to a bucket of `width` (an interval expression)."""
        if self.timescaledb_version:
            return f"time_bucket({width}, {column})"
        return f"date_bin({width}, {column}, TIMESTAMPTZ '{BUCKET_ORIGIN}')"


async def detect_backend(conn: asyncpg.Connection) -> Backend:
    """Ask the server what it is and whether the timescaledb extension is installed here."""
    server_version = await conn.fetchval("SHOW server_version")
    tsdb_version = await conn.fetchval(
        "SELECT extversion FROM pg_extension WHERE extname = 'timescaledb'"
    )
    license_ = None
    if tsdb_version:
        license_ = await conn.fetchval("SELECT current_setting('timescaledb.license', true)")
    return Backend(server_version, tsdb_version, license_)


async def timescaledb_loadable(conn: asyncpg.Connection) -> bool:
    """True when the extension is installed on the server and preloaded (it must be).

    Reading shared_preload_libraries takes superuser or pg_read_all_settings, which a
    database owner need not have; then the loader's own settings tell, since they exist
    only when the loader was preloaded.
    """
    available = await conn.fetchval(
        "SELECT count(*) FROM pg_available_extensions WHERE name = 'timescaledb'"
    )
    if not available:
        return False
    try:
        async with conn.transaction():  # a savepoint: the caller may be inside a transaction
            preload = await conn.fetchval("SELECT current_setting('shared_preload_libraries')")
    except asyncpg.InsufficientPrivilegeError:
        return bool(
            await conn.fetchval(
                "SELECT current_setting('timescaledb.disable_load', true) IS NOT NULL"
            )
        )
    return "timescaledb" in preload
