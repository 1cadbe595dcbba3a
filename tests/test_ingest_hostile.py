"""What a hostile or broken device sends, through a real Mosquitto and the real ingest
(issue 11): poison messages, a flood of oversized garbage; and a meter's batched upload
stored element by element, redelivered without duplicates (issue 10)."""

from __future__ import annotations

import asyncio
import contextlib
from collections import Counter
from datetime import UTC, datetime, timedelta

import asyncpg

from core.pipeline import CommittedBatch
from core.readings import DeviceType
from ingest.wire import encode_payload, format_ts, topic_for
from storage.dead_letters import DEAD_LETTER_KEEP_BYTES
from tests.ingest_helpers import publisher, register_home, running_ingest, ts, wait_until
from tests.services import Mosquitto

METER = topic_for("meter-p", "telemetry")
PIR = topic_for("pir-p", "telemetry")


def _poison() -> list[tuple[str, bytes, str]]:
    """(topic, payload, expected reason): each of these once raised out of the decoder,
    or could have, or would have failed in the database."""
    now = ts(1)
    return [
        (METER, f'{{"ts":"{now}","seq":1,"volume_l":1{"0" * 400}}}'.encode(),
         "out_of_range: volume_l"),
        (METER, b'{"ts":"0001-01-01T00:00:00+01:00","seq":1,"volume_l":1}', "out_of_range: ts"),
        (METER, b'{"ts":' + b"9" * 30 + b',"seq":1,"volume_l":1}', "out_of_range: ts"),
        (METER, f'{{"ts":"{now}","seq":1,"volume_l":1,"battery_pct":-1{"0" * 400}}}'.encode(),
         "out_of_range: battery_pct"),
        (METER, f'{{"ts":"{now}","seq":{2**64},"volume_l":1}}'.encode(), "out_of_range: seq"),
        (METER, f'{{"ts":"{now}","seq":1,"volume_l":1e999}}'.encode(), "out_of_range: volume_l"),
        (METER, b'{"ts":NaN,"seq":1,"volume_l":1}', "bad_json"),
        (METER, b"[" * 3000 + b"]" * 3000, "bad_json"),  # nested past the parser's depth
        (METER, b"\xc3\x28\xa0\xa1", "bad_json"),
        (METER, b"{" * 9000, "oversize"),
        (METER, b"x" * 60_000, "oversize"),
        (PIR, f'{{"ts":"{now}","seq":1,"motion":true,"room":"hall\\u0000"}}'.encode(),
         "schema: room contains NUL"),
        (METER, f'{{"ts":"{ts(-30)}","seq":1,"volume_l":1}}'.encode(), "future_timestamp"),
    ]  # fmt: skip


async def test_poison_messages_then_valid_ones_all_valid_stored_and_ingest_alive(
    db: asyncpg.Connection, db_url: str, mosquitto: Mosquitto
) -> None:
    await register_home(db, "home-p", {"meter-p": (DeviceType.WATER_METER, None),
                                       "pir-p": (DeviceType.PIR, "hall")})  # fmt: skip
    poison = _poison()
    valid = [(PIR, {"ts": ts(5 - i / 10), "seq": 10 + i, "motion": True}) for i in range(20)]
    async with running_ingest(db_url, mosquitto.target()) as ingest, publisher(mosquitto) as pub:
        await pub.publish_all_async([(t, p) for t, p, _ in poison] + valid)

        async def everything_handled() -> bool:
            stored = await db.fetchval("SELECT count(*) FROM readings")
            letters = await db.fetchval("SELECT count(*) FROM dead_letters")
            return bool(stored == len(valid) and letters == len(poison))

        await wait_until(everything_handled, what="valid stored, poison dead-lettered")
        # Still running: a message after all that is stored too.
        await pub.publish_all_async([(PIR, {"ts": ts(0.5), "seq": 99, "motion": True})])

        async def last_one() -> bool:
            return bool(await db.fetchval("SELECT count(*) FROM readings WHERE seq = 99"))

        await wait_until(last_one, what="a message after the poison")
    reasons = sorted(r["reason"] for r in await db.fetch("SELECT reason FROM dead_letters"))
    assert reasons == sorted(reason for _, _, reason in poison)
    assert not any(r.startswith("internal") for r in reasons)
    assert ingest.stats.stored == len(valid) + 1


async def test_one_device_flooding_oversized_garbage_stores_a_bounded_number_of_bytes(
    db: asyncpg.Connection, db_url: str, mosquitto: Mosquitto
) -> None:
    """Issue 11: 1,500 oversized payloads stored 91 MB of dead letters in 1.5 s."""
    await register_home(db, "home-f", {"meter-f": (DeviceType.WATER_METER, None)})
    flood, size, rate = 1500, 20_000, 60
    garbage = [(topic_for("meter-f", "telemetry"), bytes([65 + i % 26]) * size)
               for i in range(flood)]  # fmt: skip
    batches: list[CommittedBatch] = []
    async with (
        running_ingest(db_url, mosquitto.target(), on_committed=batches.append,
                       dead_letters_per_device_hour=rate) as ingest,
        publisher(mosquitto) as pub,
    ):  # fmt: skip
        await pub.publish_all_async(garbage)

        async def all_counted() -> bool:
            counted = await db.fetchval("SELECT coalesce(sum(rejected), 0) FROM dead_letter_counts")
            return bool(counted == flood)

        await wait_until(all_counted, timeout_s=60, what="every oversized message counted")
    kept, stored_bytes, whole = await db.fetchrow(
        "SELECT count(*), sum(octet_length(payload)), sum(payload_bytes) FROM dead_letters"
    )
    # The first hour's allowance in full, truncated; the rest only counted. (The flood
    # may straddle an hour boundary, which allows one more hour's worth.)
    assert rate <= kept <= 2 * rate
    assert stored_bytes == kept * DEAD_LETTER_KEEP_BYTES and whole == kept * size
    assert await db.fetchval("SELECT sum(kept) FROM dead_letter_counts") == kept
    assert await db.fetchval("SELECT DISTINCT reason FROM dead_letter_counts") == "oversize"
    assert ingest.stats.dead_letters["oversize"] == flood
    # The stages after ingest see who sends garbage, and how much.
    rejected: Counter[str] = Counter()
    for batch in batches:
        rejected.update(batch.rejected)
    assert rejected == {"meter-f": flood}


def _upload(now: datetime, elements: list[object], seq: int = 500) -> bytes:
    return encode_payload({"ts": format_ts(now), "seq": seq, "battery_pct": 64,
                           "readings": elements})  # fmt: skip


def _hourly_reads(now: datetime, hours: int) -> list[object]:
    start = now - timedelta(hours=hours)
    return [{"ts": format_ts(start + timedelta(hours=h)), "seq": 100 + h,
             "volume_l": 2000.0 + 3.5 * h} for h in range(hours)]  # fmt: skip


async def test_a_batched_upload_is_stored_element_by_element_once_however_often_it_comes(
    db: asyncpg.Connection, db_url: str, mosquitto: Mosquitto
) -> None:
    """Issue 10: a day of hourly reads in one message, two of them bad; published twice
    and redelivered to a restarted ingest that never acknowledged it."""
    await register_home(db, "home-u", {"meter-u": (DeviceType.WATER_METER, None)})
    now = datetime.now(UTC)
    elements = _hourly_reads(now, 24)
    elements[5] = {**elements[5], "volume_l": -1}  # type: ignore[dict-item]
    elements[9] = {"seq": 109, "volume_l": 1}  # no ts
    upload = (topic_for("meter-u", "telemetry"), _upload(now, elements))
    client_id = "ingest-upload"
    batches: list[CommittedBatch] = []

    # First: the readings table locked, so the upload is received and its write blocks;
    # ingest is stopped before it can commit or acknowledge anything.
    blocker = await asyncpg.connect(db_url)
    try:
        async with running_ingest(db_url, mosquitto.target(), client_id=client_id) as first:
            transaction = blocker.transaction()
            await transaction.start()
            await blocker.execute("LOCK TABLE readings IN ACCESS EXCLUSIVE MODE")
            async with publisher(mosquitto) as pub:
                await pub.publish_all_async([upload])

            async def write_waiting() -> bool:
                return bool(await db.fetchval(
                    "SELECT count(*) FROM pg_locks WHERE NOT granted"
                    " AND relation = 'readings'::regclass"))  # fmt: skip

            await wait_until(write_waiting, what="ingest's write waiting on the lock")
            assert first.stats.stored == 0
        await transaction.rollback()
    finally:
        with contextlib.suppress(asyncpg.InterfaceError):
            await blocker.close()
    assert await db.fetchval("SELECT count(*) FROM readings") == 0

    # Then a restarted ingest (same session) gets it again, and a device resends it too.
    async with (
        running_ingest(db_url, mosquitto.target(), client_id=client_id,
                       on_committed=batches.append) as second,
        publisher(mosquitto) as pub,
    ):  # fmt: skip

        async def redelivered() -> bool:
            return await db.fetchval("SELECT count(*) FROM readings") == 22

        await wait_until(redelivered, what="the upload redelivered and stored")
        await pub.publish_all_async([upload])

        async def second_copy() -> bool:
            return second.stats.duplicates >= 22

        await wait_until(second_copy, what="the second copy processed")
        await asyncio.sleep(0.2)
    rows = await db.fetch("SELECT ts, seq, volume_l, battery_pct FROM readings ORDER BY ts")
    assert [r["seq"] for r in rows] == [100 + h for h in range(24) if h not in (5, 9)]
    assert [r["volume_l"] for r in rows] == [2000.0 + 3.5 * h for h in range(24)
                                             if h not in (5, 9)]  # fmt: skip
    assert [r["battery_pct"] for r in rows] == [None] * 21 + [64]  # with the newest read
    letters = await db.fetch("SELECT reason, payload FROM dead_letters ORDER BY reason")
    # One dead letter per bad element per copy processed, each keeping just its element.
    assert {r["reason"] for r in letters} == {"readings[5] out_of_range: volume_l",
                                              "readings[9] schema: ts missing"}  # fmt: skip
    assert {bytes(r["payload"]) for r in letters} == {
        encode_payload(elements[5]),
        encode_payload(elements[9]),
    }
    state = await db.fetchrow("SELECT last_seq, battery_pct FROM device_state")
    assert (state["last_seq"], state["battery_pct"]) == (123, 64)
    readings = [r for batch in batches for r in batch.readings]
    assert len(readings) == 44 and {r.seq for r in readings} == {row["seq"] for row in rows}
    assert sum(sum(b.rejected.values()) for b in batches) == 4
