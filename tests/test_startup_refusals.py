"""A database that refuses the start-up migration (read-only, a privilege missing): the
service says so in one line, is not ready, retries, and starts once the operator acts."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import time
from collections.abc import AsyncIterator
from pathlib import Path

import aiohttp
import asyncpg
import pytest

from tests.processes import stop_process
from tests.services import ADMIN_URL, Mosquitto, database_url, free_port, unique_name

pytestmark = pytest.mark.slow


async def _admin(sql: str) -> None:
    """As the suite's superuser; only this test's database and role are changed."""
    conn = await asyncpg.connect(ADMIN_URL)
    try:
        await conn.execute(sql)
    finally:
        await conn.close()


@pytest.fixture
async def empty_db() -> AsyncIterator[str]:
    """A new, unmigrated database (its name)."""
    name = unique_name("eldercare_refuse")
    await _admin(f'CREATE DATABASE "{name}"')
    yield name
    await _admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


async def _ready(port: int) -> bool:
    try:
        async with (
            aiohttp.ClientSession() as session,
            session.get(f"http://127.0.0.1:{port}/readyz") as response,
        ):
            return response.status == 200
    except aiohttp.ClientError:
        return False


def _text(log: Path) -> str:
    return log.read_text(errors="replace")


def _start_run(env: dict[str, str], log: Path) -> subprocess.Popen[bytes]:
    with log.open("ab") as out:  # the child keeps its own descriptor
        return subprocess.Popen(
            [sys.executable, "-m", "eldercare", "run"], env=env, stdout=out, stderr=out
        )


async def _wait_for_log(log: Path, text: str, timeout_s: float = 60) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if text in _text(log):
            return
        await asyncio.sleep(0.2)
    raise AssertionError(f"no {text!r} in the log:\n{_text(log)}")


@pytest.mark.parametrize("refusal", ["read_only", "no_privilege"])
async def test_a_refused_migration_is_one_line_then_the_service_starts_when_allowed(
    refusal: str, empty_db: str, mosquitto: Mosquitto, tmp_path: Path
) -> None:
    url = database_url(empty_db)
    role = None
    if refusal == "read_only":
        await _admin(f'ALTER DATABASE "{empty_db}" SET default_transaction_read_only = on')
        expected = "read-only"
    else:
        # A role that may connect but not create anything: PostgreSQL 15 gives PUBLIC no
        # CREATE on schema public, and the database belongs to someone else.
        role = unique_name("clerk")
        await _admin(f'CREATE ROLE "{role}" LOGIN')
        url = url.replace("postgresql://postgres@", f"postgresql://{role}@", 1)
        conn = await asyncpg.connect(database_url(empty_db))
        await conn.execute(f'REVOKE CREATE ON SCHEMA public FROM PUBLIC, "{role}"')
        await conn.close()
        expected = f"refuses role '{role}'"
    port = free_port()
    log = tmp_path / "run.log"
    env = {**os.environ, "ELDERCARE_DATABASE_URL": url, "ELDERCARE_MQTT_URL": mosquitto.url(),
           "ELDERCARE_API_PORT": str(port), "ELDERCARE_DATA_DIR": str(tmp_path / "data"),
           "ELDERCARE_INGEST_CLIENT_ID": unique_name("ingest"),
           "ELDERCARE_INGEST_SHARE_GROUP": unique_name("grp")}  # fmt: skip
    process = _start_run(env, log)
    try:
        await _wait_for_log(log, "database_not_ready")
        await asyncio.sleep(5)  # several retries' worth
        assert process.poll() is None, "the process gave up:\n" + _text(log)
        assert not await _ready(port), "ready while the database refuses the migration"
        text = _text(log)
        assert "Traceback" not in text, text
        (line,) = [x for x in text.splitlines() if "database_not_ready" in x]  # one, not one a try
        assert " WARNING " in line and expected in line, line

        # The operator acts; the service starts by itself.
        if refusal == "read_only":
            await _admin(f'ALTER DATABASE "{empty_db}" RESET default_transaction_read_only')
        else:
            await _admin(f'ALTER DATABASE "{empty_db}" OWNER TO "{role}"')
        deadline = time.monotonic() + 90
        while not await _ready(port):
            assert process.poll() is None, _text(log)
            assert time.monotonic() < deadline, "never became ready:\n" + _text(log)
            await asyncio.sleep(0.5)
        assert "database_ready" in _text(log)
    finally:
        await stop_process(process)
        if role is not None:
            await _admin(f'DROP DATABASE IF EXISTS "{empty_db}" WITH (FORCE)')
            await _admin(f'DROP ROLE IF EXISTS "{role}"')
