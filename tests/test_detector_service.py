"""The detector stage live: committed readings in, findings stored once, state kept."""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime, timedelta

import asyncpg

from core.clock import ManualClock
from core.findings import Finding
from core.kinds import Category, Severity
from core.pipeline import CommittedBatch, Heartbeat
from core.readings import Channel, DeviceType, Reading
from detectors.service import DetectorService
from ingest.wire import format_ts, topic_for
from storage.findings import insert_findings, take_untaken_findings
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


AFTERNOON = START + timedelta(hours=4)  # 14:00 in Shanghai


def morning_then_quiet() -> CommittedBatch:
    """Up at 07:00 (a morning), last seen at 11:10: 2 h 50 min of silence at 14:00."""
    times = [START - timedelta(minutes=m) for m in (180, 170, 155, 140)]
    times.append(AFTERNOON - timedelta(minutes=170))
    return CommittedBatch([motion(i + 1, t) for i, t in enumerate(times)], AFTERNOON)


# Sensors enough to time a silence by the firm cold-start limit (3 h by day).
FOUR_ROOMS = {
    "pir-1": (DeviceType.PIR, "living_room"),
    "pir-2": (DeviceType.PIR, "kitchen"),
    "pir-3": (DeviceType.PIR, "bedroom"),
    "pir-4": (DeviceType.PIR, "entrance"),
}


def beat(seq: int, at: datetime) -> Heartbeat:
    return Heartbeat("ingest-1", seq, at, at + timedelta(milliseconds=50))


def motion(seq: int, at: datetime) -> Reading:
    return Reading("pir-1", DeviceType.PIR, Channel.TELEMETRY, at, seq, at, motion=True)


async def _drive(
    service: DetectorService, clock: ManualClock, minutes: range, outage: range = range(0)
) -> None:
    """Minute by minute: ingest's heartbeat every 30 s, committed, except in `outage`
    (the broker stopped: nothing arrives at all)."""
    for minute in minutes:
        now = AFTERNOON + timedelta(minutes=minute)
        clock.set(now)
        if minute not in outage:
            beats = (beat(2 * minute, now - timedelta(seconds=30)), beat(2 * minute + 1, now))
            service.on_committed(CommittedBatch((), now, heartbeats=beats))
        service.nudge()
        await asyncio.sleep(0.02)


async def test_broker_stopped_half_an_hour_is_one_system_finding_and_no_inactivity(
    db: asyncpg.Connection, db_url: str
) -> None:
    """The home's last movement was 2 h 50 min before the outage: without the pause, the
    3-hour silence limit would page about it in the middle of the outage."""
    await register_home(db, "home-1", FOUR_ROOMS)
    clock = ManualClock(AFTERNOON)
    async with running_detectors(db_url, clock) as service:
        service.on_committed(morning_then_quiet())
        await _drive(service, clock, range(0, 38), outage=range(5, 35))
        await wait_until(lambda: _count(db, 2), what="the outage and its end")
    rows = await db.fetch("SELECT category, kind, severity, clears FROM findings ORDER BY at")
    assert [(r["category"], r["kind"], r["severity"], r["clears"]) for r in rows] == [
        ("system", "pipeline_down", "high", False),
        ("system", "pipeline_down", "info", True),
    ]


async def test_heartbeat_flowing_while_every_home_is_quiet_pauses_nothing(
    db: asyncpg.Connection, db_url: str
) -> None:
    """Nothing from any device for an hour (a quiet pilot): the heartbeat says the
    pipeline delivers, so nothing is paused and the silent home is found."""
    await register_home(db, "home-1", FOUR_ROOMS)
    clock = ManualClock(AFTERNOON)
    async with running_detectors(db_url, clock) as service:
        service.on_committed(morning_then_quiet())
        await _drive(service, clock, range(0, 40))
        await wait_until(lambda: _has(db, "motion_inactivity"), what="the inactivity finding")
        assert not service.pipeline_paused
    assert not await _has(db, "pipeline_down")


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
        running_ingest(
            db_url,
            mosquitto.target(),
            on_committed=lambda b: detectors.on_committed(b.readings, 0.0),
        ),
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


async def test_a_withdrawal_is_stored_beside_a_clear_of_the_same_moment(
    db: asyncpg.Connection,
) -> None:
    at = START + timedelta(hours=1)
    clear = Finding("home-1", Category.INACTIVITY, "motion_inactivity", Severity.INFO, at,
                    "moving again", clears=True)  # fmt: skip
    withdrawal = dataclasses.replace(clear, explanation="withdrawn: late data", withdrawn=True)
    assert await insert_findings(db, [clear, withdrawal]) == 2
    assert await insert_findings(db, [withdrawal]) == 0  # a replay stores nothing twice
    taken = await take_untaken_findings(db, 10)
    assert sorted((t.finding.withdrawn, t.finding.explanation) for t in taken) == [
        (False, "moving again"),
        (True, "withdrawn: late data"),
    ]
