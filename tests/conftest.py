"""Fixtures: a fresh database per test (from a migrated template) and a broker per test."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import asyncpg
import pytest

from core.logs import JsonFormatter, TextFormatter
from storage.migrate import migrate
from tests.services import (
    ADMIN_URL,
    Mosquitto,
    database_url,
    make_mosquitto,
    unique_name,
)


async def _admin(sql: str) -> None:
    conn = await asyncpg.connect(ADMIN_URL)
    try:
        await conn.execute(sql)
    finally:
        await conn.close()


@pytest.fixture(scope="session")
def template_database() -> Iterator[str]:
    """A database migrated once; each test copies it instead of migrating again."""
    name = unique_name("eldercare_tpl")

    async def create() -> None:
        await _admin(f'CREATE DATABASE "{name}"')
        conn = await asyncpg.connect(database_url(name))
        try:
            await migrate(conn)
        finally:
            await conn.close()
        # TimescaleDB runs a background scheduler in each database, and a template must
        # have no sessions: mark it a template that allows none, then end the scheduler's.
        await _admin(f'ALTER DATABASE "{name}" WITH IS_TEMPLATE true ALLOW_CONNECTIONS false')
        await _admin(
            f"SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = '{name}'"
        )

    asyncio.run(create())
    yield name
    asyncio.run(_admin(f'ALTER DATABASE "{name}" WITH IS_TEMPLATE false'))
    asyncio.run(_admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


@pytest.fixture
async def db_url(template_database: str) -> AsyncIterator[str]:
    """A fresh, migrated database for one test."""
    name = unique_name("eldercare_test")
    await _admin(f'CREATE DATABASE "{name}" TEMPLATE "{template_database}"')
    yield database_url(name)
    await _admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture
async def db(db_url: str) -> AsyncIterator[asyncpg.Connection]:
    """A connection to the test's database."""
    conn = await asyncpg.connect(db_url)
    yield conn
    await conn.close()


@pytest.fixture
def mosquitto(tmp_path: Path) -> Iterator[Mosquitto]:
    """A Mosquitto of our own config, for this test only."""
    broker = make_mosquitto(tmp_path / "mosquitto")
    broker.start()
    yield broker
    broker.stop()


@pytest.fixture(autouse=True)
async def no_leftover_tasks() -> AsyncIterator[None]:
    """Fail a test that leaves tasks running behind it (Home Assistant's habit)."""
    before = asyncio.all_tasks()
    yield
    leftover = [t for t in asyncio.all_tasks() - before if not t.done()]
    leftover = [t for t in leftover if t is not asyncio.current_task()]
    assert not leftover, f"tasks left running: {[t.get_name() for t in leftover]}"


@pytest.fixture(autouse=True)
def no_leftover_log_handler() -> Iterator[None]:
    """A command run in-process (`main([...])`) points the root logger at this test's
    captured stderr, which pytest closes afterwards: every later test's log record would
    then print a "Logging error" traceback over the real output. Take that handler away."""
    yield
    root = logging.getLogger()
    for handler in root.handlers[:]:
        if isinstance(handler.formatter, TextFormatter | JsonFormatter):
            root.removeHandler(handler)
