"""Nothing lost, nothing duplicated: a killed ingest process and a database outage."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import asyncpg
import pytest

from core.readings import DeviceType
from ingest.wire import format_ts, topic_for
from simulators.publisher import DevicePublisher
from tests.ingest_helpers import register_home, running_ingest, wait_until
from tests.processes import stop_process
from tests.services import PG_CTL, SIMULATOR_USER, Mosquitto, unique_name


def stream(device_id: str, n: int) -> Iterator[tuple[str, dict[str, object]]]:
    """n readings of one meter, a second apart, ending a little before now."""
    start = datetime.now(UTC) - timedelta(seconds=n + 60)
    topic = topic_for(device_id, "telemetry")
    for i in range(n):
        yield topic, {"ts": format_ts(start + timedelta(seconds=i)), "seq": i, "volume_l": i * 0.1}


def start_ingest_process(
    db_url: str, broker: Mosquitto, group: str, log: Path
) -> subprocess.Popen[bytes]:
    """`eldercare ingest` as its own OS process, as it runs in production."""
    env = {
        **os.environ,
        "ELDERCARE_DATABASE_URL": db_url,
        "ELDERCARE_MQTT_URL": broker.url(),
        "ELDERCARE_INGEST_CLIENT_ID": "ingest-killed",
        "ELDERCARE_INGEST_SHARE_GROUP": group,
    }
    with log.open("ab") as log_file:  # the child keeps its own descriptor
        return subprocess.Popen(
            [sys.executable, "-m", "eldercare", "ingest"],
            env=env, stdout=log_file, stderr=log_file,
        )  # fmt: skip


async def stored(db: asyncpg.Connection) -> int:
    return int(await db.fetchval("SELECT count(*) FROM readings WHERE device_id = 'meter-k'"))


@pytest.mark.slow
async def test_sigkill_during_10000_messages_loses_and_duplicates_nothing(
    db: asyncpg.Connection, db_url: str, mosquitto: Mosquitto, tmp_path: Path
) -> None:
    n = 10_000
    await register_home(db, "home-k", {"meter-k": (DeviceType.WATER_METER, None),
                                       "probe-k": (DeviceType.PIR, None)})  # fmt: skip
    group = unique_name("grp")
    ingest = start_ingest_process(db_url, mosquitto, group, tmp_path / "ingest.log")
    pub = DevicePublisher(mosquitto.target(SIMULATOR_USER), unique_name("pub"))
    await asyncio.to_thread(pub.connect)
    try:
        # Until ingest has subscribed once, the broker has no session to queue for:
        # wait for a probe to be stored before the stream starts.
        probe = topic_for("probe-k", "telemetry")

        async def probe_stored() -> bool:
            await pub.publish_all_async([(probe, {"ts": format_ts(datetime.now(UTC)),
                                                  "seq": 0, "motion": True})])  # fmt: skip
            return bool(await db.fetchval("SELECT count(*) FROM readings WHERE seq = 0"))

        await wait_until(probe_stored, timeout_s=60, what="ingest subscribed")
        publishing = asyncio.create_task(pub.publish_all_async(stream("meter-k", n)))
        await wait_until(lambda: _at_least(db, 1500), timeout_s=60, what="ingest under way")
        ingest.send_signal(signal.SIGKILL)
        ingest.wait()
        killed_at = await stored(db)
        assert killed_at < n, "the kill came too late to test anything"
        ingest = start_ingest_process(db_url, mosquitto, group, tmp_path / "ingest.log")
        assert await publishing == n
        await wait_until(lambda: _at_least(db, n), timeout_s=120, what="all 10,000 stored")
        await asyncio.sleep(1)  # anything redelivered late would show up as an extra row
    finally:
        await stop_process(ingest)
        await asyncio.to_thread(pub.close)
    seqs = await db.fetch("SELECT seq FROM readings WHERE device_id = 'meter-k' ORDER BY seq")
    assert [r["seq"] for r in seqs] == list(range(n))


async def _at_least(db: asyncpg.Connection, n: int) -> bool:
    return await stored(db) >= n


@pytest.mark.slow
@pytest.mark.skipif(not PG_CTL, reason="ELDERCARE_TEST_PG_CTL names no way to stop the database")
async def test_database_down_for_20_seconds_loses_nothing_and_recovers_alone(
    db_url: str, mosquitto: Mosquitto
) -> None:
    n = 3000
    conn = await asyncpg.connect(db_url)
    await register_home(conn, "home-o", {"meter-o": (DeviceType.WATER_METER, None)})
    await conn.close()
    messages = list(stream("meter-o", n))
    # A small in-flight limit, so the 2,000 messages sent during the outage must pause reading.
    async with running_ingest(
        db_url, mosquitto.target(), batch_size=200, max_inflight=1000
    ) as ingest:
        pub = DevicePublisher(mosquitto.target(SIMULATOR_USER), unique_name("pub"))
        await asyncio.to_thread(pub.connect)
        try:
            await pub.publish_all_async(messages[:1000])
            await wait_until(lambda: _stats_stored(ingest, 1000), what="first thousand")
            await _pg_ctl("stop")
            try:
                # Devices keep publishing while the database is away.
                await pub.publish_all_async(messages[1000:])
                await asyncio.sleep(20)
                assert ingest.stats.stored == 1000
                assert ingest.stats.paused, "ingest should stop reading when it cannot commit"
            finally:
                await _pg_ctl("start")
            await wait_until(lambda: _stats_stored(ingest, n), timeout_s=90, what="recovery")
        finally:
            await asyncio.to_thread(pub.close)
    conn = await asyncpg.connect(db_url)
    try:
        seqs = [r["seq"] for r in await conn.fetch("SELECT seq FROM readings ORDER BY seq")]
    finally:
        await conn.close()
    assert seqs == list(range(n))


async def _stats_stored(ingest: object, n: int) -> bool:
    return bool(ingest.stats.stored >= n)  # type: ignore[attr-defined]


async def _pg_ctl(action: str) -> None:
    proc = await asyncio.create_subprocess_exec(*PG_CTL.split(), action)
    assert await proc.wait() == 0, f"{PG_CTL} {action} failed"
