"""`eldercare db migrate` as the database's owner, who is no superuser (the usual
production set-up): on plain PostgreSQL and on TimescaleDB, where the extension is
trusted, so the owner may create it and readings becomes a hypertable."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from dataclasses import dataclass

import asyncpg
import pytest

from eldercare.runtime import migrate_and_detect
from storage.backend import timescaledb_loadable
from tests.services import ADMIN_URL, EXPECT_BACKEND, database_url, unique_name


async def _admin(sql: str) -> None:
    conn = await asyncpg.connect(ADMIN_URL)
    try:
        await conn.execute(sql)
    finally:
        await conn.close()


@dataclass(frozen=True)
class OwnedDatabase:
    name: str
    role: str

    @property
    def url(self) -> str:
        """The database as its owner (trust auth on the suite's servers)."""
        return database_url(self.name).replace(
            "postgresql://postgres@", f"postgresql://{self.role}@", 1
        )


@pytest.fixture
async def owned() -> AsyncIterator[OwnedDatabase]:
    """A fresh database owned by a fresh role that is not a superuser."""
    db = OwnedDatabase(unique_name("eldercare_owned"), unique_name("owner"))
    await _admin(f'CREATE ROLE "{db.role}" LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE')
    await _admin(f'CREATE DATABASE "{db.name}" OWNER "{db.role}"')
    assert db.role in db.url
    yield db
    await _admin(f'DROP DATABASE IF EXISTS "{db.name}" WITH (FORCE)')
    await _admin(f'DROP ROLE IF EXISTS "{db.role}"')


async def _is_hypertable(url: str) -> bool:
    conn = await asyncpg.connect(url)
    try:
        if not await conn.fetchval(
            "SELECT count(*) FROM pg_extension WHERE extname = 'timescaledb'"
        ):
            return False
        return bool(
            await conn.fetchval(
                "SELECT count(*) FROM timescaledb_information.hypertables"
                " WHERE hypertable_name = 'readings'"
            )
        )
    finally:
        await conn.close()


async def test_the_owner_migrates_without_being_a_superuser(owned: OwnedDatabase) -> None:
    applied, backend = await migrate_and_detect(owned.url)
    assert applied, "nothing was applied to a fresh database"
    again, _ = await migrate_and_detect(owned.url)
    assert again == []
    conn = await asyncpg.connect(owned.url)
    try:
        assert not await conn.fetchval("SELECT rolsuper FROM pg_roles WHERE rolname = current_user")
        assert (
            await conn.fetchval("SELECT tableowner FROM pg_tables WHERE tablename = 'readings'")
            == owned.role
        )
    finally:
        await conn.close()
    if EXPECT_BACKEND:
        assert backend.name == EXPECT_BACKEND
    assert await _is_hypertable(owned.url) == (backend.name == "timescaledb")


@pytest.mark.skipif(EXPECT_BACKEND != "timescaledb", reason="TimescaleDB only")
async def test_a_role_that_may_not_create_the_extension_gets_a_plain_table_and_is_told_why(
    owned: OwnedDatabase, caplog: pytest.LogCaptureFixture
) -> None:
    # A role that owns the schema it writes to but not the database: it may not create
    # extensions there (not even trusted ones).
    clerk = unique_name("clerk")
    await _admin(f'CREATE ROLE "{clerk}" LOGIN')
    try:
        await _admin(f'ALTER DATABASE "{owned.name}" OWNER TO postgres')
        conn = await asyncpg.connect(database_url(owned.name))
        await conn.execute(f'GRANT CREATE, USAGE ON SCHEMA public TO "{clerk}"')
        await conn.close()
        url = owned.url.replace(f"//{owned.role}@", f"//{clerk}@", 1)
        caplog.set_level(logging.INFO, logger="eldercare")
        _, backend = await migrate_and_detect(url)
        assert backend.name == "postgresql"
        (line,) = [
            r.getMessage() for r in caplog.records if "timescaledb_not_enabled" in r.getMessage()
        ]
        assert "CREATE EXTENSION timescaledb" in line and "eldercare db migrate" in line
        # The operator does what the line says; migrating again makes the hypertable.
        conn = await asyncpg.connect(database_url(owned.name))
        await conn.execute("CREATE EXTENSION timescaledb")
        await conn.close()
        _, backend = await migrate_and_detect(url)
        assert backend.name == "timescaledb"
        assert await _is_hypertable(url)
    finally:
        await _admin(f'DROP DATABASE IF EXISTS "{owned.name}" WITH (FORCE)')
        await _admin(f'DROP ROLE IF EXISTS "{clerk}"')


async def test_timescaledb_is_recognised_without_the_privilege_to_read_server_settings(
    owned: OwnedDatabase,
) -> None:
    conn = await asyncpg.connect(owned.url)
    try:
        with pytest.raises(asyncpg.InsufficientPrivilegeError):
            await conn.fetchval("SELECT current_setting('shared_preload_libraries')")
        loadable = await timescaledb_loadable(conn)
    finally:
        await conn.close()
    if EXPECT_BACKEND:
        assert loadable == (EXPECT_BACKEND == "timescaledb")
