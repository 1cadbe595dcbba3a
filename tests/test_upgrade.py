"""Upgrades: applied migrations are checksummed, an edited one stops the start with a clear
message, and a database of the previous release, with data in it, upgrades and stays
readable through the current code."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import asyncpg
import pytest

from api.auth.passwords import hash_password
from storage.backend import timescaledb_loadable
from storage.migrate import MigrationChangedError, load_migrations, migrate
from tests.api_helpers import PASSWORD, api_world
from tests.services import ADMIN_URL, database_url, unique_name

# The previous release's migrations, byte for byte from git history (see its README).
RELEASE_0_1_0 = Path(__file__).parent / "data" / "release_0_1_0"
NOW = datetime(2026, 3, 4, 10, 30, tzinfo=UTC)


@pytest.fixture
async def empty_db_url() -> AsyncIterator[str]:
    name = unique_name("eldercare_upgrade")
    admin = await asyncpg.connect(ADMIN_URL)
    try:
        await admin.execute(f'CREATE DATABASE "{name}"')
        yield database_url(name)
        await admin.execute(f'DROP DATABASE "{name}" WITH (FORCE)')
    finally:
        await admin.close()


async def _migrate_as_release_0_1_0(conn: asyncpg.Connection) -> None:
    """What `eldercare db migrate` of release 0.1.0 did: its schema_version table (no
    checksum), its six files in order, then readings as a hypertable on TimescaleDB."""
    async with conn.transaction():
        await conn.execute(
            "CREATE TABLE schema_version (version integer PRIMARY KEY, name text NOT NULL,"
            " applied_at timestamptz NOT NULL DEFAULT now())"
        )
        for path in sorted(RELEASE_0_1_0.glob("*.sql")):
            version, name = path.stem.split("_", 1)
            await conn.execute(path.read_text(encoding="utf-8"))
            await conn.execute(
                "INSERT INTO schema_version (version, name) VALUES ($1, $2)", int(version), name
            )
        if await timescaledb_loadable(conn):
            await conn.execute("CREATE EXTENSION IF NOT EXISTS timescaledb")
            await conn.execute(
                "SELECT create_hypertable('readings', 'ts', chunk_time_interval =>"
                " INTERVAL '1 day', if_not_exists => TRUE, migrate_data => TRUE,"
                " create_default_indexes => FALSE)"
            )


async def _data_as_release_0_1_0_wrote_it(conn: asyncpg.Connection) -> dict[str, int]:
    """A home with a water meter and six hours of readings, an advisor assigned to it,
    an open alert and a resolved one; returns the alerts' ids."""
    await conn.execute(
        "INSERT INTO homes (id, street, timezone) VALUES ('h1', 'east', 'Asia/Shanghai')"
    )
    await conn.execute("INSERT INTO residents (home_id, display_name) VALUES ('h1', 'Wang')")
    await conn.execute("INSERT INTO devices (id, type, home_id) VALUES ('m1', 'water_meter', 'h1')")
    start = NOW - timedelta(hours=6)
    await conn.executemany(
        "INSERT INTO readings (device_id, home_id, ts, seq, received_at, channel, volume_l)"
        " VALUES ('m1', 'h1', $1, $2, $1, 'telemetry', $3)",
        [(start + timedelta(hours=i), i, 1000.0 + 25.0 * i) for i in range(7)],
    )
    await conn.execute(
        "INSERT INTO users (username, display_name, role, password_hash, created_at)"
        " VALUES ('li', 'Advisor Li', 'advisor', $1, $2)",
        await hash_password(PASSWORD),
        NOW - timedelta(days=30),
    )
    await conn.execute(
        "INSERT INTO alert_contacts (home_id, role, person_ref, sms)"
        " VALUES ('h1', 'primary_advisor', 'li', '+8613900000000')"
    )
    ids = {}
    at = NOW - timedelta(hours=2)
    for label, category, kind, resolved in (
        ("open", "inactivity", "water_inactivity", False),
        ("resolved", "leak", "tap_running", True),
    ):
        ids[label] = await conn.fetchval(
            "INSERT INTO alerts (home_id, category, kind, severity, state, explanation,"
            " first_seen_at, last_seen_at, opened_at, resolved_at, resolved_by, outcome)"
            " VALUES ('h1', $1, $2, 'high', $3, 'no water for 12 h', $4, $4, $4, $5, $6, $7)"
            " RETURNING id",
            category,
            kind,
            "resolved" if resolved else "open",
            at,
            at if resolved else None,
            "li" if resolved else None,
            "resident_ok" if resolved else None,
        )
    return ids


async def test_a_release_0_1_0_database_with_data_upgrades_and_stays_readable(
    empty_db_url: str,
) -> None:
    conn = await asyncpg.connect(empty_db_url)
    try:
        await _migrate_as_release_0_1_0(conn)
        alerts = await _data_as_release_0_1_0_wrote_it(conn)

        applied = await migrate(conn)  # what the new release's start-up does

        shipped = load_migrations()
        assert applied == [m.version for m in shipped if m.version > 6]
        stored = dict(await conn.fetch("SELECT version, checksum FROM schema_version"))
        # Checksums recorded for the old migrations too, on this first run.
        assert stored == {m.version: m.checksum for m in shipped}
        assert await migrate(conn) == []  # and the next start finds them unchanged
    finally:
        await conn.close()

    async with api_world(empty_db_url, start=NOW) as world:
        li = await world.sign_in("li")  # the password hashed by the old release still works
        active = await li.json("GET", "/api/v1/alerts")
        assert [a["id"] for a in active["alerts"]] == [alerts["open"]]
        assert active["alerts"][0]["explanation"] == "no water for 12 h"
        readings = await li.json("GET", "/api/v1/homes/h1/readings?hours=12")
        assert sum(point["litres"] for point in readings["water"]) == pytest.approx(150.0)


async def _eldercare(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    """The command line in a process of its own (off the event loop)."""
    return await asyncio.to_thread(
        subprocess.run, [sys.executable, "-m", "eldercare", *args],
        env=env, capture_output=True, text=True, timeout=120,
    )  # fmt: skip


async def test_an_edited_migration_stops_the_start_and_names_itself(
    empty_db_url: str,
) -> None:
    conn = await asyncpg.connect(empty_db_url)
    try:
        await migrate(conn)
        # As if 003's file had been edited after this database applied it.
        await conn.execute("UPDATE schema_version SET checksum = repeat('0', 64) WHERE version = 3")
        with pytest.raises(MigrationChangedError, match=r"migration 003_alerts was changed"):
            await migrate(conn)
        with pytest.raises(MigrationChangedError, match="no such migration"):
            await migrate(conn, accept_changed=[999])
    finally:
        await conn.close()

    env = {**os.environ, "ELDERCARE_DATABASE_URL": empty_db_url}
    refused = await _eldercare(env, "db", "migrate")
    assert refused.returncode == 2
    assert refused.stderr.startswith("eldercare: migration 003_alerts was changed")
    assert "eldercare db migrate --accept-changed 3" in refused.stderr
    assert "Traceback" not in refused.stderr
    # `eldercare run` migrates first, so it refuses to start the same way.
    run = await _eldercare({**env, "ELDERCARE_MQTT_URL": "mqtt://127.0.0.1:1"}, "run")
    assert run.returncode == 2 and "migration 003_alerts was changed" in run.stderr

    accepted = await _eldercare(env, "db", "migrate", "--accept-changed", "3")
    assert accepted.returncode == 0, accepted.stderr
    assert "migration_change_accepted" in accepted.stderr
    conn = await asyncpg.connect(empty_db_url)
    try:
        assert await migrate(conn) == []  # accepted once, then the start goes ahead
        checksum = await conn.fetchval("SELECT checksum FROM schema_version WHERE version = 3")
        assert checksum == next(m.checksum for m in load_migrations() if m.version == 3)
    finally:
        await conn.close()


def test_line_endings_do_not_change_a_checksum() -> None:
    migration = load_migrations()[0]
    crlf = type(migration)(migration.version, migration.name, migration.sql.replace("\n", "\r\n"))
    assert crlf.checksum == migration.checksum
    edited = type(migration)(migration.version, migration.name, migration.sql + "-- edit\n")
    assert edited.checksum != migration.checksum
