"""Migrations, the storage backend, and registry import against a real server."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

import asyncpg
import pytest

from core.registry import RegistryError, parse_registry_csv
from storage.backend import detect_backend
from storage.migrate import load_migrations, migrate
from storage.registry import import_registry
from tests.services import ADMIN_URL, EXPECT_BACKEND, database_url, unique_name


@pytest.fixture
async def empty_db_url():
    name = unique_name("eldercare_empty")
    admin = await asyncpg.connect(ADMIN_URL)
    await admin.execute(f'CREATE DATABASE "{name}"')
    yield database_url(name)
    await admin.execute(f'DROP DATABASE "{name}" WITH (FORCE)')
    await admin.close()


async def test_migrations_run_twice_without_error(empty_db_url: str) -> None:
    conn = await asyncpg.connect(empty_db_url)
    try:
        first = await migrate(conn)
        second = await migrate(conn)
        versions = [r["version"] for r in await conn.fetch("SELECT version FROM schema_version")]
    finally:
        await conn.close()
    assert first == [m.version for m in load_migrations()]
    assert second == []
    assert sorted(versions) == first


async def test_two_processes_migrating_at_once(empty_db_url: str) -> None:
    env = {**os.environ, "ELDERCARE_DATABASE_URL": empty_db_url}

    def migrate_in_process() -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "eldercare", "db", "migrate"],
            env=env, capture_output=True, text=True, timeout=120,
        )  # fmt: skip

    results = await asyncio.gather(*(asyncio.to_thread(migrate_in_process) for _ in range(2)))
    for result in results:
        assert result.returncode == 0, result.stderr
    outputs = sorted(r.stdout for r in results)
    assert "up to date" in outputs[1] or "up to date" in outputs[0]
    conn = await asyncpg.connect(empty_db_url)
    try:
        assert await conn.fetchval("SELECT count(*) FROM schema_version") == len(load_migrations())
    finally:
        await conn.close()


async def test_backend_is_the_expected_one_and_buckets_agree(db: asyncpg.Connection) -> None:
    backend = await detect_backend(db)
    if EXPECT_BACKEND:
        assert backend.name == EXPECT_BACKEND
    hypertable = await db.fetchval(
        "SELECT count(*) FROM pg_class WHERE relname = 'readings' AND relkind = 'r'"
    )
    assert hypertable == 1
    if backend.name == "timescaledb":
        assert (
            await db.fetchval(
                "SELECT count(*) FROM timescaledb_information.hypertables"
                " WHERE hypertable_name = 'readings'"
            )
            == 1
        )
    # Both backends put a 15-minute bucket edge at the same place.
    moment = datetime(2026, 11, 29, 10, 7, 30, tzinfo=UTC)
    edge = await db.fetchval(
        f"SELECT {backend.bucket_sql('$1::interval', '$2::timestamptz')}",
        timedelta(minutes=15), moment,
    )  # fmt: skip
    assert edge == datetime(2026, 11, 29, 10, 0, tzinfo=UTC)


REGISTRY = """home_id,device_id,type,room,timezone,notes
h1,m1,water_meter,,Asia/Shanghai,ignored column
h1,p1,pir,kitchen,,
h2,s2,smoke,hall,Europe/Berlin,
"""


async def test_registry_import_creates_homes_with_their_timezones(db: asyncpg.Connection) -> None:
    rows = parse_registry_csv(REGISTRY, "Asia/Shanghai")
    result = await import_registry(db, rows)
    assert (result.homes_created, result.devices_added, result.devices_moved) == (2, 3, 0)
    homes = dict(await db.fetch("SELECT id, timezone FROM homes ORDER BY id"))
    assert homes == {"h1": "Asia/Shanghai", "h2": "Europe/Berlin"}
    # The same file again changes nothing, and says so.
    same = await import_registry(db, rows)
    assert (same.homes_created, same.devices_added, same.devices_moved) == (0, 0, 0)
    assert (same.devices_changed, same.devices_unchanged) == (0, 3)
    moved = parse_registry_csv("home_id,device_id,type,room\nh2,p1,pir,bedroom\n", "Asia/Shanghai")
    again = await import_registry(db, moved)
    assert again.devices_moved == 1
    assert await db.fetchval("SELECT home_id FROM devices WHERE id = 'p1'") == "h2"


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("home_id,device_id,type\nh1,m1,pir\n", "line 1: header lacks column(s) room"),
        ("home_id,device_id,type,room\nh1,m1,pir,\nh1,m2,radar,\n", "line 3: type 'radar'"),
        ("home_id,device_id,type,room\nh 1,m1,pir,\n", "line 2: home_id 'h 1'"),
        ("home_id,device_id,type,room\nh1,m1,pir,\nh1,m1,pir,\n", "line 3: device 'm1' already"),
        ("home_id,device_id,type,room,timezone\nh1,m1,pir,,Mars/Base\n", "line 2: unknown time"),
        ("home_id,device_id,type,room\n", "lists no devices"),
    ],
)
def test_registry_csv_errors_name_the_line(text: str, message: str) -> None:
    with pytest.raises(RegistryError, match=message.replace("(", r"\(").replace(")", r"\)")):
        parse_registry_csv(text, "Asia/Shanghai")


async def test_registry_import_with_a_type_conflict_imports_nothing(db: asyncpg.Connection) -> None:
    await import_registry(db, parse_registry_csv(REGISTRY, "Asia/Shanghai"))
    bad = "home_id,device_id,type,room\nh9,new1,pir,\nh9,m1,smoke,\n"
    with pytest.raises(RegistryError, match="line 3: device 'm1' is registered as water_meter"):
        await import_registry(db, parse_registry_csv(bad, "Asia/Shanghai"))
    assert await db.fetchval("SELECT count(*) FROM homes WHERE id = 'h9'") == 0
    assert await db.fetchval("SELECT count(*) FROM devices WHERE id = 'new1'") == 0


def test_cli_import_reports_the_bad_line_and_exit_code(tmp_path: Path, db_url: str) -> None:
    bad = tmp_path / "bad.csv"
    bad.write_text("home_id,device_id,type,room\nh1,m1,water_meter,\nh1,m2,lamp,\n")
    result = subprocess.run(
        [sys.executable, "-m", "eldercare", "devices", "import", str(bad)],
        env={**os.environ, "ELDERCARE_DATABASE_URL": db_url},
        capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert result.returncode == 1
    assert "line 3: type 'lamp' is not one of" in result.stderr
    assert "nothing imported" in result.stderr
