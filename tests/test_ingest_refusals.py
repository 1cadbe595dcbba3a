"""A database that refuses ingest's writes (issue 11, points 10 and 13): insert privilege
revoked, the database read-only, temporary tables forbidden, connections cut mid-write.
Ingest holds every message unacknowledged, says once what the database refuses and what
to do, is not ready meanwhile, and stores everything exactly once when it is fixed."""

from __future__ import annotations

import asyncio
import logging
import uuid
from collections.abc import AsyncIterator, Iterator
from datetime import UTC, datetime, timedelta

import asyncpg
import pytest

from core.pipeline import PipelineProblem, PipelineStatus
from core.readings import DeviceType
from ingest.service import IngestService
from ingest.wire import format_ts, topic_for
from storage.pool import with_database
from tests.ingest_helpers import publisher, register_home, running_ingest, wait_until
from tests.services import Mosquitto

MESSAGES = 300


@pytest.fixture
async def role_url(db: asyncpg.Connection, db_url: str) -> AsyncIterator[tuple[str, str]]:
    """A login role that is not a superuser (privileges bind it) with what ingest needs,
    and its URL to the test's database."""
    role = f"ingest_{uuid.uuid4().hex[:10]}"
    database = await db.fetchval("SELECT current_database()")
    await db.execute(f"CREATE ROLE {role} LOGIN")
    await db.execute(f'GRANT CONNECT, TEMPORARY ON DATABASE "{database}" TO {role}')
    await db.execute(f"GRANT USAGE ON SCHEMA public TO {role}")
    await db.execute(
        f"GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA public TO {role}"
    )
    await db.execute(f"GRANT USAGE ON ALL SEQUENCES IN SCHEMA public TO {role}")
    url = with_database(db_url, database).replace("://postgres@", f"://{role}@", 1)
    try:
        yield role, url
    finally:
        await _cut_connections(db, role)
        await db.execute(f"DROP OWNED BY {role}")
        await db.execute(f"DROP ROLE {role}")


async def _cut_connections(db: asyncpg.Connection, role: str) -> None:
    await db.execute(
        "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE usename = $1", role
    )


def _stream(device_id: str, first_seq: int, n: int) -> Iterator[tuple[str, dict[str, object]]]:
    start = datetime.now(UTC) - timedelta(minutes=30)
    for seq in range(first_seq, first_seq + n):
        ts = format_ts(start + timedelta(seconds=seq))
        yield topic_for(device_id, "telemetry"), {"ts": ts, "seq": seq, "volume_l": seq * 0.5}


def _lines(caplog: pytest.LogCaptureFixture, event: str) -> list[str]:
    return [r.getMessage() for r in caplog.records if r.getMessage().startswith(event + " ")]


async def _hold_then_recover(
    db: asyncpg.Connection,
    ingest: IngestService,
    mosquitto: Mosquitto,
    statuses: list[PipelineStatus],
    caplog: pytest.LogCaptureFixture,
    cause: str,
    restore: str,
) -> None:
    """With the database refusing ingest: publish, check nothing is stored and ingest
    says so once and is not ready; then run `restore` and see everything stored."""
    async with publisher(mosquitto) as pub:
        await pub.publish_all_async(list(_stream("meter-r", 0, MESSAGES)))

        async def refused_said() -> bool:
            return bool(_lines(caplog, "database_refuses_writes"))

        await wait_until(refused_said, what="the refusal logged")
        await asyncio.sleep(3)  # several retries: still one line, nothing stored
        assert await db.fetchval("SELECT count(*) FROM readings") == 0
        assert not ingest.ready
        assert ingest.problem == PipelineProblem.COMMITS_FAILING
        lines = _lines(caplog, "database_refuses_writes")
        assert len(lines) == 1, lines
        assert f"cause={cause}" in lines[0] and "action=" in lines[0]
        await db.execute(restore)

        async def all_stored() -> bool:
            return await db.fetchval("SELECT count(*) FROM readings") >= MESSAGES

        await wait_until(all_stored, what="everything stored after the fix")
        # Alive and well: the next messages are stored as they come.
        await pub.publish_all_async(list(_stream("meter-r", MESSAGES, 10)))

        async def more_stored() -> bool:
            return await db.fetchval("SELECT count(*) FROM readings") >= MESSAGES + 10

        await wait_until(more_stored, what="messages after the recovery")
    seqs = [r["seq"] for r in await db.fetch("SELECT seq FROM readings ORDER BY seq")]
    assert seqs == list(range(MESSAGES + 10)), "each message stored exactly once"
    assert len(_lines(caplog, "database_writes_recovered")) == 1
    assert ingest.ready

    async def delivering() -> bool:
        return ingest.problem is None

    await wait_until(delivering, what="delivering reported again")
    assert [s.problem for s in statuses] == [PipelineProblem.COMMITS_FAILING, None]


async def test_insert_revoked_holds_everything_until_it_is_granted_again(
    db: asyncpg.Connection,
    role_url: tuple[str, str],
    mosquitto: Mosquitto,
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.INFO, logger="eldercare.ingest")
    role, url = role_url
    await register_home(db, "home-r", {"meter-r": (DeviceType.WATER_METER, None)})
    statuses: list[PipelineStatus] = []
    async with running_ingest(url, mosquitto.target(), heartbeat_s=0.5,
                              on_status=statuses.append) as ingest:  # fmt: skip
        await db.execute(f"REVOKE INSERT ON readings FROM {role}")
        await _hold_then_recover(db, ingest, mosquitto, statuses, caplog, "privilege",
                                 f"GRANT INSERT ON readings TO {role}")  # fmt: skip


async def test_read_only_database_and_cut_connections_hold_everything(
    db: asyncpg.Connection,
    role_url: tuple[str, str],
    mosquitto: Mosquitto,
    caplog: pytest.LogCaptureFixture,
) -> None:
    """Sessions ended under ingest (as in a restart), then every new one read-only: the
    pool cannot even create its staging table."""
    caplog.set_level(logging.INFO, logger="eldercare.ingest")
    role, url = role_url
    database = await db.fetchval("SELECT current_database()")
    await register_home(db, "home-r", {"meter-r": (DeviceType.WATER_METER, None)})
    statuses: list[PipelineStatus] = []
    async with running_ingest(url, mosquitto.target(), heartbeat_s=0.5,
                              on_status=statuses.append) as ingest:  # fmt: skip
        await db.execute(f'ALTER DATABASE "{database}" SET default_transaction_read_only = on')
        await _cut_connections(db, role)
        await _hold_then_recover(
            db, ingest, mosquitto, statuses, caplog, "read_only",
            f'ALTER DATABASE "{database}" RESET default_transaction_read_only',
        )  # fmt: skip


async def test_temporary_tables_forbidden_hold_everything(
    db: asyncpg.Connection,
    role_url: tuple[str, str],
    mosquitto: Mosquitto,
    caplog: pytest.LogCaptureFixture,
) -> None:
    """The pool's CREATE TEMP TABLE refused on every new connection."""
    caplog.set_level(logging.INFO, logger="eldercare.ingest")
    role, url = role_url
    database = await db.fetchval("SELECT current_database()")
    await register_home(db, "home-r", {"meter-r": (DeviceType.WATER_METER, None)})
    statuses: list[PipelineStatus] = []
    async with running_ingest(url, mosquitto.target(), heartbeat_s=0.5,
                              on_status=statuses.append) as ingest:  # fmt: skip
        await db.execute(f'REVOKE TEMPORARY ON DATABASE "{database}" FROM PUBLIC, {role}')
        await _cut_connections(db, role)
        await _hold_then_recover(db, ingest, mosquitto, statuses, caplog, "privilege",
                                 f'GRANT TEMPORARY ON DATABASE "{database}" TO {role}')  # fmt: skip


async def test_ingest_started_against_a_refusing_database_waits_for_it(
    db: asyncpg.Connection,
    role_url: tuple[str, str],
    mosquitto: Mosquitto,
    caplog: pytest.LogCaptureFixture,
) -> None:
    """Issue 11, point 13: ingest exited within a second when its pool's CREATE TEMP TABLE
    was refused at start-up, and restarted into tracebacks."""
    caplog.set_level(logging.INFO, logger="eldercare.ingest")
    role, url = role_url
    database = await db.fetchval("SELECT current_database()")
    await register_home(db, "home-r", {"meter-r": (DeviceType.WATER_METER, None)})
    await db.execute(f'REVOKE TEMPORARY ON DATABASE "{database}" FROM PUBLIC, {role}')
    statuses: list[PipelineStatus] = []
    async with running_ingest(url, mosquitto.target(), heartbeat_s=0.5,
                              on_status=statuses.append) as ingest:  # fmt: skip
        await _hold_then_recover(db, ingest, mosquitto, statuses, caplog, "privilege",
                                 f'GRANT TEMPORARY ON DATABASE "{database}" TO {role}')  # fmt: skip
