"""The detector stage live: committed readings in, findings stored once, state kept."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime, timedelta

import asyncpg

from core.clock import ManualClock
from core.readings import Channel, DeviceType, Reading
from detectors.service import DetectorService
from ingest.wire import format_ts, topic_for
from tests.ingest_helpers import publisher, register_home, running_ingest, wait_until
from tests.services import Mosquitto

START = datetime(2026, 11, 20, 2, 0, tzinfo=UTC)  # 10:00 in Shanghai


@asynccontextmanager
async def running_detectors(db_url: str, clock: ManualClock) -> AsyncIterator[DetectorService]:
    service = DetectorService(db_url, clock, tick_interval_s=0.05)
    ready = asyncio.Event()
    task = asyncio.create_task(service.run(ready), name="test-detectors")
    try:
        await asyncio.wait_for(ready.wait(), 30)
        yield service
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task


def smoke(seq: int, at: datetime, alarm: bool) -> Reading:
    return Reading("smoke-1", DeviceType.SMOKE, Channel.TELEMETRY, at, seq, at, alarm=alarm)


async def findings(db: asyncpg.Connection) -> list[tuple[str, str]]:
    rows = await db.fetch("SELECT kind, severity FROM findings ORDER BY at, id")
    return [(r["kind"], r["severity"]) for r in rows]


async def stored_readings(db: asyncpg.Connection, readings: list[Reading]) -> None:
    """Store readings as ingest would, so a restart can replay them."""
    await db.executemany(
        "INSERT INTO readings (device_id, home_id, ts, seq, received_at, channel, alarm)"
        " VALUES ($1, 'home-1', $2, $3, $2, 'telemetry', $4)",
        [(r.device_id, r.ts, r.seq, r.alarm) for r in readings],
    )


async def test_smoke_alarm_is_a_critical_finding_stored_once_across_a_restart(
    db: asyncpg.Connection, db_url: str
) -> None:
    await register_home(db, "home-1", {"smoke-1": (DeviceType.SMOKE, "kitchen")})
    clock = ManualClock(START)
    alarm = [smoke(1, START, True)]
    await stored_readings(db, alarm)
    async with running_detectors(db_url, clock) as service:
        service.on_committed(alarm, 0.0)
        await wait_until(lambda: _has(db, "smoke_alarm"), what="smoke finding")
    assert await findings(db) == [("smoke_alarm", "critical")]

    # A restart replays the stored reading: the same finding, not a second one.
    clock.advance(timedelta(seconds=30))
    async with running_detectors(db_url, clock) as service:
        clear = [smoke(2, START + timedelta(seconds=20), False)]
        await stored_readings(db, clear)
        service.on_committed(clear, 0.0)
        await wait_until(lambda: _count(db, 2), what="the clearing finding")
    kinds = await db.fetch("SELECT kind, clears FROM findings ORDER BY at")
    assert [(r["kind"], r["clears"]) for r in kinds] == [
        ("smoke_alarm", False),
        ("smoke_alarm", True),
    ]


async def _has(db: asyncpg.Connection, kind: str) -> bool:
    return bool(await db.fetchval("SELECT count(*) FROM findings WHERE kind = $1", kind))


async def _count(db: asyncpg.Connection, n: int) -> bool:
    return int(await db.fetchval("SELECT count(*) FROM findings")) >= n


async def test_silence_from_every_device_is_one_system_finding(
    db: asyncpg.Connection, db_url: str
) -> None:
    """The pipeline guard: nothing from any device for minutes is our problem, not the homes'."""
    await register_home(db, "home-1", {"smoke-1": (DeviceType.SMOKE, "kitchen")})
    clock = ManualClock(START)
    async with running_detectors(db_url, clock) as service:
        heartbeat = [smoke(1, START, False)]
        service.on_committed(heartbeat, 0.0)
        for minute in range(1, 31):  # half an hour with nothing from anywhere
            clock.set(START + timedelta(minutes=minute))
            service.nudge()
            await asyncio.sleep(0.02)
        await wait_until(lambda: _has(db, "pipeline_silent"), what="system finding")
    categories = [r["category"] for r in await db.fetch("SELECT category FROM findings")]
    assert categories.count("system") == 1
    assert "inactivity" not in categories


async def test_a_smoke_reading_through_broker_and_ingest_becomes_a_finding(
    db: asyncpg.Connection, db_url: str, mosquitto: Mosquitto
) -> None:
    """Event-driven detectors run on each committed batch of the real ingest."""
    await register_home(db, "home-1", {"smoke-1": (DeviceType.SMOKE, "kitchen")})
    now = datetime.now(UTC)
    clock = ManualClock(now)
    message = (topic_for("smoke-1", "telemetry"), {"ts": format_ts(now), "seq": 1, "alarm": True})
    async with (
        running_detectors(db_url, clock) as detectors,
        running_ingest(db_url, mosquitto.target(), on_committed=detectors.on_committed),
        publisher(mosquitto) as pub,
    ):
        await pub.publish_all_async([message])
        await wait_until(lambda: _has(db, "smoke_alarm"), what="finding from live smoke")
    assert await findings(db) == [("smoke_alarm", "critical")]


async def test_a_new_home_learning_from_history_does_not_alert_about_the_past(
    db: asyncpg.Connection, db_url: str
) -> None:
    await register_home(db, "home-1", {"smoke-1": (DeviceType.SMOKE, "kitchen")})
    clock = ManualClock(START)
    old, recent = START - timedelta(days=2), START - timedelta(minutes=20)
    await stored_readings(db, [smoke(1, old, True), smoke(2, old + timedelta(minutes=5), False),
                               smoke(3, recent, True)])  # fmt: skip
    async with running_detectors(db_url, clock):
        await wait_until(lambda: _count(db, 3), what="the replayed findings")
    rows = await db.fetch(
        "SELECT at, taken_at IS NOT NULL AS past FROM findings"
        " WHERE kind = 'smoke_alarm' ORDER BY at"
    )
    # Two days ago is the past (stored, not for the alert stage); twenty minutes ago is news.
    assert [(r["at"], r["past"]) for r in rows] == [
        (old, True), (old + timedelta(minutes=5), True), (recent, False)
    ]  # fmt: skip
