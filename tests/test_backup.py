"""Backup and restore of a running system, as the README tells an operator to do it:
`pg_dump` (the server's own version) of the database while ingest writes, `pg_restore`
into a new database (with timescaledb_pre_restore/post_restore on TimescaleDB), and then
every reading, alert and audit entry committed before the dump began is there, the schema
needs no migration, and the services start on it (`eldercare db migrate`, the API's
/readyz, a token from before the backup reading the alerts)."""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import os
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

import aiohttp
import asyncpg
import pytest

from alerts.service import AlertService
from api.auth.accounts import create_token
from api.context import ApiContext
from api.principal import Role
from api.server import running_api
from core.clock import WallClock
from core.readings import DeviceType
from ingest.wire import format_ts, topic_for
from storage.migrate import migrate
from storage.pool import create_pool
from storage.retention import readings_hypertable
from tests.api_helpers import add_user
from tests.ingest_helpers import publisher, register_home, running_ingest, wait_until
from tests.lifecycle_helpers import add_alert, add_audit
from tests.services import ADMIN_URL, EXPECT_BACKEND, Mosquitto, database_url, unique_name

# The TimescaleDB server of the test setup runs from this root; its client tools are there.
TSDB_ROOT = Path("/var/cache/eldercare/tsdb-trixie")
HOME = "home-bk"


def _tool(name: str, major: int) -> list[str] | None:
    """The command running PostgreSQL `major`'s `name` (pg_dump, pg_restore): the
    system's, or the TimescaleDB root's through chroot (as root). None: not here."""
    system = Path(f"/usr/lib/postgresql/{major}/bin/{name}")
    if system.exists():
        return [str(system)]
    inside = f"/usr/lib/postgresql/{major}/bin/{name}"
    if (TSDB_ROOT / inside.lstrip("/")).exists() and os.geteuid() == 0:
        return ["chroot", str(TSDB_ROOT), inside]
    return None


async def _run(command: list[str], stdin: Path | None = None, stdout: Path | None = None) -> str:
    """Run a client tool off the event loop; its stderr (it must succeed)."""

    def run() -> subprocess.CompletedProcess[bytes]:
        with contextlib.ExitStack() as files:
            inp = files.enter_context(stdin.open("rb")) if stdin else None
            out = files.enter_context(stdout.open("wb")) if stdout else subprocess.PIPE
            return subprocess.run(command, stdin=inp, stdout=out, stderr=subprocess.PIPE,
                                  timeout=300, check=False)  # fmt: skip

    done = await asyncio.to_thread(run)
    errors = done.stderr.decode(errors="replace")
    assert done.returncode == 0, f"{command[-3:]} failed: {errors}"
    return errors


def _libpq_args(url: str) -> list[str]:
    """Host, port and user of a postgresql:// URL as client-tool options."""
    from urllib.parse import urlsplit

    parts = urlsplit(url)
    return ["-h", parts.hostname or "127.0.0.1", "-p", str(parts.port or 5432),
            "-U", parts.username or "postgres"]  # fmt: skip


async def _keys(conn: asyncpg.Connection) -> dict[str, set[object]]:
    """What must survive: every reading's key, alert id and audit id."""
    return {
        "readings": {tuple(r) for r in await conn.fetch("SELECT device_id, ts, seq FROM readings")},
        "alerts": {r[0] for r in await conn.fetch("SELECT id FROM alerts")},
        "audit": {r[0] for r in await conn.fetch("SELECT id FROM audit_log")},
    }


async def test_a_backup_of_a_running_system_restores_whole_and_the_services_start(
    db: asyncpg.Connection, db_url: str, mosquitto: Mosquitto, tmp_path: Path
) -> None:
    major = int(await db.fetchval("SHOW server_version_num")) // 10000
    dump_tool, restore_tool = _tool("pg_dump", major), _tool("pg_restore", major)
    if dump_tool is None or restore_tool is None:
        pytest.skip(f"no pg_dump/pg_restore {major} here (the server's version is needed)")
    timescale = EXPECT_BACKEND == "timescaledb"
    now = datetime.now(UTC)
    await register_home(db, HOME, {"pir-bk": (DeviceType.PIR, "hall")})
    for hours in (30, 2):
        await add_alert(db, HOME, now - timedelta(hours=hours), kind=f"kind-{hours}")
        await add_audit(db, HOME, now - timedelta(hours=hours))
    pool = await create_pool(db_url)
    try:
        await add_user(pool, "root", Role.ADMIN)
        created = await create_token(pool, "root", "after the restore", WallClock())
    finally:
        await pool.close()
    assert created is not None
    token = created[1]

    dump = tmp_path / "eldercare.dump"
    stop = asyncio.Event()
    seqs = itertools.count(1)

    async def keep_writing(pub: object) -> None:
        while not stop.is_set():
            batch = [(topic_for("pir-bk", "telemetry"),
                      {"ts": format_ts(datetime.now(UTC)), "seq": next(seqs), "motion": True,
                       "room": "hall"}) for _ in range(20)]  # fmt: skip
            await pub.publish_all_async(batch)  # type: ignore[attr-defined]
            await asyncio.sleep(0.01)

    async with running_ingest(db_url, mosquitto.target()), publisher(mosquitto) as pub:
        writer = asyncio.create_task(keep_writing(pub), name="keep-writing")
        try:
            await wait_until(lambda: _count(db, "readings", 200), what="200 readings")
            before = await _keys(db)  # committed before the dump begins: all must be in it
            await _run([*dump_tool, "--format=custom", *_libpq_args(db_url),
                        "--dbname", _name(db_url)],
                       stdout=dump)  # fmt: skip
            await wait_until(lambda: _count(db, "readings", len(before["readings"]) + 100),
                             what="ingest writing on after the dump")  # fmt: skip
        finally:
            stop.set()
            await writer
    written = await db.fetchval("SELECT count(*) FROM readings")

    restored_name = unique_name("eldercare_restored")
    admin = await asyncpg.connect(ADMIN_URL)
    try:
        await admin.execute(f'CREATE DATABASE "{restored_name}"')
    finally:
        await admin.close()
    restored_url = database_url(restored_name)
    try:
        target = await asyncpg.connect(restored_url)
        try:
            if timescale:  # the extension first, and in restoring mode while data goes in
                await target.execute("CREATE EXTENSION timescaledb")
                await target.execute("SELECT timescaledb_pre_restore()")
            await _run([*restore_tool, *_libpq_args(restored_url), "--dbname", restored_name,
                        "--exit-on-error"], stdin=dump)  # fmt: skip
            if timescale:
                await target.execute("SELECT timescaledb_post_restore()")
            after = await _keys(target)
            for kind, keys in before.items():
                missing = keys - after[kind]
                assert not missing, f"{len(missing)} {kind} of {len(keys)} missing after restore"
            assert len(before["alerts"]) == 2 and len(before["audit"]) == 2
            assert await readings_hypertable(target) == timescale
            assert await migrate(target) == []  # the schema is whole: nothing to apply
        finally:
            await target.close()
        print(f"\nbackup: {len(before['readings'])} readings committed before pg_dump began,"
              f" {len(after['readings'])} in the restore, {written} written by the end;"
              f" dump {dump.stat().st_size / 1024:.0f} KiB")  # fmt: skip

        env = {**os.environ, "ELDERCARE_DATABASE_URL": restored_url}
        command = [sys.executable, "-m", "eldercare", "db", "migrate"]
        migrated = await asyncio.to_thread(
            subprocess.run, command, env=env, capture_output=True, text=True, timeout=120
        )
        assert migrated.returncode == 0, migrated.stderr
        pool = await create_pool(restored_url, max_size=4)
        try:
            clock = WallClock()
            context = ApiContext(pool, clock, AlertService(pool, clock))
            async with (
                running_api(context, "127.0.0.1", 0) as base,
                aiohttp.ClientSession(headers={"Authorization": f"Bearer {token}"}) as session,
            ):
                async with session.get(f"{base}/readyz") as resp:
                    assert resp.status == 200, await resp.text()
                async with session.get(f"{base}/api/v1/alerts?state=all") as resp:
                    assert resp.status == 200, await resp.text()
                    listed = {a["id"] for a in (await resp.json())["alerts"]}
            assert listed == before["alerts"]
        finally:
            await pool.close()
    finally:
        admin = await asyncpg.connect(ADMIN_URL)
        try:
            await admin.execute(f'DROP DATABASE IF EXISTS "{restored_name}" WITH (FORCE)')
        finally:
            await admin.close()


def _name(url: str) -> str:
    return url.rsplit("/", 1)[-1].split("?", 1)[0]


async def _count(db: asyncpg.Connection, table: str, at_least: int) -> bool:
    found: int = await db.fetchval(f"SELECT count(*) FROM {table}")
    return found >= at_least
