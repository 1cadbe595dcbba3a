"""Ingest's write against a real database: concurrent batches, dead-letter caps,
heartbeats."""

from __future__ import annotations

import asyncio
import hashlib
from datetime import UTC, datetime, timedelta

import asyncpg

from core.pipeline import Heartbeat
from core.readings import Channel, DeviceType, Reading
from storage.dead_letters import DEAD_LETTER_KEEP_BYTES, DeadLetter
from storage.heartbeats import KEEP, last_heartbeat_seq, recent_heartbeats
from storage.ingest_writes import prepare_ingest_connection, reading_record, write_batch
from tests.ingest_helpers import register_home

NOW = datetime.now(UTC).replace(microsecond=0)


def _rows(devices: int, per_device: int, start: datetime) -> list[tuple[object, ...]]:
    rows = []
    for d in range(devices):
        for i in range(per_device):
            reading = Reading(device_id=f"m-{d}", device_type=DeviceType.WATER_METER,
                              channel=Channel.TELEMETRY, ts=start + timedelta(seconds=i), seq=i,
                              received_at=NOW, volume_l=float(i))  # fmt: skip
            rows.append(reading_record(reading, "home-w"))
    return rows


async def test_overlapping_batches_in_opposite_orders_neither_deadlock_nor_lose_rows(
    db: asyncpg.Connection, db_url: str
) -> None:
    """Issue 11: the merge deadlocked 5 of 5 times with two connections writing
    overlapping rows in opposite order. Rows now go in in key order."""
    devices, per_device, rounds = 20, 100, 5
    await register_home(db, "home-w", {f"m-{d}": (DeviceType.WATER_METER, None)
                                       for d in range(devices)})  # fmt: skip
    first, second = await asyncpg.connect(db_url), await asyncpg.connect(db_url)
    try:
        for conn in (first, second):
            await prepare_ingest_connection(conn)
        inserted = 0
        for n in range(rounds):
            rows = _rows(devices, per_device, NOW - timedelta(days=1, hours=n))
            # Three quarters each, overlapping in the middle half, in opposite orders.
            cut = len(rows) // 4
            forward, backward = rows[: 3 * cut], list(reversed(rows[cut:]))
            results = await asyncio.gather(
                write_batch(first, forward, []), write_batch(second, backward, [])
            )
            inserted += sum(r.inserted for r in results)
            assert sum(r.duplicates for r in results) == 2 * cut
    finally:
        await first.close()
        await second.close()
    total = devices * per_device * rounds
    assert inserted == total
    assert await db.fetchval("SELECT count(*) FROM readings") == total


def _letter(device: str | None, payload: bytes, reason: str, at: datetime) -> DeadLetter:
    topic = f"eldercare/v1/devices/{device}/telemetry" if device else "bogus"
    return DeadLetter(topic, payload, reason, at, device)


async def test_dead_letters_are_truncated_hashed_and_capped_per_device_hour(
    db: asyncpg.Connection,
) -> None:
    await prepare_ingest_connection(db)
    big = b"{" + b"x" * 10_000
    hour = NOW.replace(minute=0, second=0)
    letters = [_letter("d-1", big, "oversize", hour + timedelta(seconds=i)) for i in range(7)]
    letters += [_letter("d-2", b"[]", "schema: payload not an object", hour)]
    letters += [_letter(None, b"{}", "bad_topic", hour)]
    result = await write_batch(db, [], letters, dead_letters_per_device_hour=5)
    assert (result.dead_letters, result.dead_letters_kept) == (9, 7)
    # A second batch in the same hour: d-1 is past its rate, d-2 is not; the next hour
    # starts afresh.
    later = [_letter("d-1", big, "bad_json", hour + timedelta(minutes=5)),
             _letter("d-2", b"[]", "schema: x", hour + timedelta(minutes=5)),
             _letter("d-1", big, "oversize", hour + timedelta(hours=1))]  # fmt: skip
    result = await write_batch(db, [], later, dead_letters_per_device_hour=5)
    assert (result.dead_letters, result.dead_letters_kept) == (3, 2)

    rows = await db.fetch(
        "SELECT device_id, payload, payload_bytes, payload_sha256, received_at FROM dead_letters"
    )
    d1 = [r for r in rows if r["device_id"] == "d-1"]
    assert len(d1) == 6  # five in the first hour, one in the next
    assert {bytes(r["payload"]) for r in d1} == {big[:DEAD_LETTER_KEEP_BYTES]}
    assert {(r["payload_bytes"], bytes(r["payload_sha256"])) for r in d1} == {
        (len(big), hashlib.sha256(big).digest())
    }
    counts = {
        (r["device_id"], r["hour"], r["reason"]): (r["rejected"], r["kept"])
        for r in await db.fetch("SELECT * FROM dead_letter_counts")
    }
    assert counts == {
        ("d-1", hour, "oversize"): (7, 5),
        ("d-1", hour, "bad_json"): (1, 0),
        ("d-1", hour + timedelta(hours=1), "oversize"): (1, 1),
        ("d-2", hour, "schema"): (2, 2),
        ("", hour, "bad_topic"): (1, 1),
    }


async def test_concurrent_writers_keep_no_more_than_the_rate_between_them(
    db: asyncpg.Connection, db_url: str
) -> None:
    conns = [await asyncpg.connect(db_url) for _ in range(4)]
    try:
        for conn in conns:
            await prepare_ingest_connection(conn)
        letters = [_letter("d-9", b"junk", "bad_json", NOW) for _ in range(30)]
        results = await asyncio.gather(
            *(write_batch(c, [], letters, dead_letters_per_device_hour=50) for c in conns)
        )
    finally:
        for conn in conns:
            await conn.close()
    assert sum(r.dead_letters_kept for r in results) == 50
    assert await db.fetchval("SELECT count(*) FROM dead_letters") == 50
    assert await db.fetchval("SELECT sum(rejected) FROM dead_letter_counts") == 120


async def test_heartbeats_are_stored_once_and_trimmed(db: asyncpg.Connection) -> None:
    await prepare_ingest_connection(db)
    old = Heartbeat("w-1", 1, NOW - KEEP - timedelta(minutes=1), NOW - KEEP)
    await write_batch(db, [], [], heartbeats=[old], committed_at=NOW - KEEP)
    beats = [
        Heartbeat("w-1", n, NOW + timedelta(seconds=n), NOW + timedelta(seconds=n + 0.005))
        for n in (2, 3)
    ]
    # A redelivered copy in the same batch and a later one change nothing.
    await write_batch(db, [], [], heartbeats=[*beats, beats[0]], committed_at=NOW)
    await write_batch(db, [], [], heartbeats=beats[:1], committed_at=NOW)
    assert await recent_heartbeats(db, "w-1") == list(reversed(beats))  # the old one trimmed
    assert await last_heartbeat_seq(db, "w-1") == 3
    assert await last_heartbeat_seq(db, "w-2") is None
