"""Readings flow from a real MQTT broker through ingest into PostgreSQL."""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime, timedelta

import asyncpg
import pytest

from core.readings import DeviceType
from ingest.wire import format_ts, topic_for
from storage.dead_letters import DEAD_LETTER_KEEP_BYTES
from tests.ingest_helpers import publisher, register_home, running_ingest, ts, wait_until
from tests.services import Mosquitto


async def count(db: asyncpg.Connection, sql: str, *args: object) -> int:
    value = await db.fetchval(sql, *args)
    return int(value)


async def test_each_device_type_lands_in_readings_with_its_values(
    db: asyncpg.Connection, db_url: str, mosquitto: Mosquitto
) -> None:
    await register_home(db, "home-a", {
        "meter-a": (DeviceType.WATER_METER, None),
        "pir-a": (DeviceType.PIR, "kitchen"),
        "smoke-a": (DeviceType.SMOKE, "kitchen"),
    })  # fmt: skip
    async with running_ingest(db_url, mosquitto.target()), publisher(mosquitto) as pub:
        await pub.publish_all_async([
            (topic_for("meter-a", "telemetry"),
             {"ts": "2026-11-29T08:00:00+08:00", "seq": 7, "volume_l": 1234.5, "flow_lpm": 6.0,
              "battery_pct": 88}),
            (topic_for("pir-a", "telemetry"),
             {"ts": 1795910400000, "seq": 3, "motion": True, "room": "kitchen"}),
            (topic_for("smoke-a", "telemetry"),
             {"ts": "2026-11-29T00:00:01Z", "seq": 1, "alarm": True}),
        ])  # fmt: skip
        await wait_until(lambda: _rows_at_least(db, 3), what="three readings")

    rows = {r["device_id"]: r for r in await db.fetch("SELECT * FROM readings")}
    meter = rows["meter-a"]
    assert meter["ts"] == datetime(2026, 11, 29, 0, 0, tzinfo=UTC)  # +08:00 → UTC
    assert (meter["seq"], meter["volume_l"], meter["flow_lpm"]) == (7, 1234.5, 6.0)
    assert meter["battery_pct"] == 88 and meter["home_id"] == "home-a"
    pir = rows["pir-a"]
    assert pir["ts"] == datetime(2026, 11, 29, 0, 0, tzinfo=UTC)  # epoch milliseconds
    assert pir["motion"] is True and pir["room"] == "kitchen" and pir["volume_l"] is None
    assert rows["smoke-a"]["alarm"] is True and rows["smoke-a"]["test"] is None


async def _rows_at_least(db: asyncpg.Connection, n: int, table: str = "readings") -> bool:
    return await count(db, f"SELECT count(*) FROM {table}") >= n


async def test_status_messages_update_device_state_by_measurement_time(
    db: asyncpg.Connection, db_url: str, mosquitto: Mosquitto
) -> None:
    await register_home(db, "home-b", {"smoke-b": (DeviceType.SMOKE, "hall")})
    status = topic_for("smoke-b", "status")
    async with running_ingest(db_url, mosquitto.target()), publisher(mosquitto) as pub:
        await pub.publish_all_async([
            (status, {"ts": ts(10), "seq": 10, "online": True, "battery_pct": 71,
                      "rssi_dbm": -60, "fw": "1.2"}),
        ])  # fmt: skip
        await wait_until(lambda: _rows_at_least(db, 1), what="first status")
        # A newer status, then an older one arriving late: the newer must win.
        await pub.publish_all_async(
            [
                (status, {"ts": ts(5), "seq": 11, "online": False, "battery_pct": 70}),
            ]
        )
        await wait_until(lambda: _rows_at_least(db, 2), what="second status")
        await pub.publish_all_async(
            [
                (status, {"ts": ts(20), "seq": 9, "online": True, "battery_pct": 99}),
            ]
        )
        await wait_until(lambda: _rows_at_least(db, 3), what="late status")

    state = await db.fetchrow("SELECT * FROM device_state WHERE device_id = 'smoke-b'")
    assert state["online"] is False
    assert state["battery_pct"] == 70
    assert state["last_seq"] == 11
    assert state["fw"] == "1.2"  # kept from the status that carried it


async def test_a_message_published_twice_is_stored_once(
    db: asyncpg.Connection, db_url: str, mosquitto: Mosquitto
) -> None:
    await register_home(db, "home-c", {"meter-c": (DeviceType.WATER_METER, None)})
    message = (topic_for("meter-c", "telemetry"), {"ts": ts(1), "seq": 1, "volume_l": 5.0})
    async with running_ingest(db_url, mosquitto.target()) as ingest, publisher(mosquitto) as pub:
        await pub.publish_all_async([message, message])
        await wait_until(lambda: _processed(ingest, 2), what="both copies processed")
    assert await count(db, "SELECT count(*) FROM readings") == 1
    assert ingest.stats.duplicates == 1


async def _processed(ingest: object, n: int) -> bool:
    stats = ingest.stats  # type: ignore[attr-defined]
    return bool(stats.stored + stats.duplicates + sum(stats.dead_letters.values()) >= n)


BAD_INPUTS = [
    ("eldercare/v1/devices/meter-d/alarm", b'{"ts": 1, "seq": 1}', "bad_topic"),
    ("eldercare/v1/devices/meter.d/telemetry", b"{}", "bad_topic"),
    ("eldercare/v1/devices/meter-d/telemetry", b'{"pad": "' + b"x" * 5000 + b'"}', "oversize"),
    ("eldercare/v1/devices/meter-d/telemetry", b"{not json", "bad_json"),
    ("eldercare/v1/devices/meter-d/telemetry", b"\xff\xfe", "bad_json"),
    ("eldercare/v1/devices/meter-d/telemetry", b'{"seq": 1, "volume_l": 1}', "schema: ts missing"),
    ("eldercare/v1/devices/meter-d/telemetry", b'{"ts": "2026-11-29T08:00:00+08:00", "seq": 1}',
     "schema: volume_l missing"),
    ("eldercare/v1/devices/meter-d/telemetry",
     b'{"ts": "2026-11-29T08:00:00+08:00", "seq": 1, "volume_l": "12"}',
     "schema: volume_l not a number"),
    ("eldercare/v1/devices/meter-d/telemetry",
     b'{"ts": "2026-11-29T08:00:00+08:00", "seq": 1, "volume_l": 1, "battery_pct": 140}',
     "out_of_range: battery_pct"),
    ("eldercare/v1/devices/meter-d/telemetry",
     b'{"ts": "2099-01-01T00:00:00Z", "seq": 1, "volume_l": 1}', "future_timestamp"),
    ("eldercare/v1/devices/ghost-d/telemetry",
     b'{"ts": "2026-11-29T08:00:00+08:00", "seq": 1, "volume_l": 1}', "unknown_device"),
]  # fmt: skip


async def test_bad_input_goes_to_dead_letters_and_the_stream_goes_on(
    db: asyncpg.Connection, db_url: str, mosquitto: Mosquitto
) -> None:
    await register_home(db, "home-d", {"meter-d": (DeviceType.WATER_METER, None)})
    good = [
        (topic_for("meter-d", "telemetry"), {"ts": ts(3 - i), "seq": i, "volume_l": float(i)})
        for i in range(3)
    ]
    # Bad messages between good ones: nothing good may be lost around them.
    stream = [good[0], *[(t, p) for t, p, _ in BAD_INPUTS], good[1], good[2]]
    async with running_ingest(db_url, mosquitto.target()) as ingest, publisher(mosquitto) as pub:
        await pub.publish_all_async(stream)
        await wait_until(lambda: _processed(ingest, len(stream)), what="all messages processed")

    letters = await db.fetch(
        "SELECT topic, payload, reason, payload_bytes, payload_sha256 FROM dead_letters"
    )
    # Each letter keeps its first 2 KiB, with the whole payload's size and SHA-256.
    assert sorted(
        (r["topic"], bytes(r["payload"]), r["reason"], r["payload_bytes"], r["payload_sha256"])
        for r in letters
    ) == sorted(
        (t, p[:DEAD_LETTER_KEEP_BYTES], reason, len(p), hashlib.sha256(p).digest())
        for t, p, reason in BAD_INPUTS
    )
    assert await count(db, "SELECT count(*) FROM readings WHERE device_id = 'meter-d'") == 3
    assert sum(ingest.stats.dead_letters.values()) == len(BAD_INPUTS)
    assert ingest.stats.dead_letters["bad_topic"] == 2


async def test_device_registered_after_start_is_accepted_at_once(
    db: asyncpg.Connection, db_url: str, mosquitto: Mosquitto
) -> None:
    await register_home(db, "home-e", {})
    message = (topic_for("late-e", "telemetry"), {"ts": ts(1), "seq": 1, "motion": True})
    async with running_ingest(db_url, mosquitto.target()) as ingest, publisher(mosquitto) as pub:
        await pub.publish_all_async([message])
        await wait_until(lambda: _processed(ingest, 1), what="first message")
        await register_home(db, "home-e2", {"late-e": (DeviceType.PIR, "hall")})
        await pub.publish_all_async([(message[0], {**message[1], "seq": 2})])
        await wait_until(lambda: _processed(ingest, 2), what="second message")
    assert await db.fetchval("SELECT reason FROM dead_letters") == "unknown_device"
    assert await db.fetchval("SELECT home_id FROM readings WHERE device_id = 'late-e'") == "home-e2"


async def test_a_moved_device_reports_to_its_new_home(
    db: asyncpg.Connection, db_url: str, mosquitto: Mosquitto
) -> None:
    await register_home(db, "home-f", {"pir-f": (DeviceType.PIR, "hall")})
    await register_home(db, "home-g", {})
    topic = topic_for("pir-f", "telemetry")
    async with running_ingest(db_url, mosquitto.target()) as ingest, publisher(mosquitto) as pub:
        await pub.publish_all_async([(topic, {"ts": ts(2), "seq": 1, "motion": True})])
        await wait_until(lambda: _processed(ingest, 1), what="first message")
        await db.execute("UPDATE devices SET home_id = 'home-g' WHERE id = 'pir-f'")

        attempt = iter(range(2, 1000))

        async def latest_stored_in_new_home() -> bool:
            seq = next(attempt)
            await pub.publish_all_async([(topic, {"ts": ts(1), "seq": seq, "motion": True})])
            await wait_until(lambda: _processed(ingest, seq), what=f"message {seq}")
            return await db.fetchval("SELECT home_id FROM readings WHERE seq = $1", seq) == "home-g"

        # The registry change reaches ingest by NOTIFY; allow it a moment to arrive.
        await wait_until(latest_stored_in_new_home, timeout_s=10, what="reading in new home")
    homes = [r["home_id"] for r in await db.fetch("SELECT home_id FROM readings ORDER BY seq")]
    assert homes[0] == "home-f"
    # Once a reading went to the new home, every later one did too.
    first_new = homes.index("home-g")
    assert set(homes[first_new:]) == {"home-g"}


@pytest.mark.parametrize("protocol", ["5", "3.1.1"])
async def test_unacked_messages_are_redelivered_after_restart_and_stored_once(
    db: asyncpg.Connection, db_url: str, mosquitto: Mosquitto, protocol: str
) -> None:
    """Stop ingest, publish while it is away, restart with the same client id: all arrive."""
    await register_home(db, "home-h", {"meter-h": (DeviceType.WATER_METER, None)})
    topic = topic_for("meter-h", "telemetry")
    async with running_ingest(db_url, mosquitto.target(), client_id="ingest-h",
                              protocol=protocol) as first, publisher(mosquitto) as pub:  # fmt: skip
        await pub.publish_all_async([(topic, {"ts": ts(9), "seq": 0, "volume_l": 0.0})])
        await wait_until(lambda: _processed(first, 1), what="first message")
    async with publisher(mosquitto) as pub:
        await pub.publish_all_async(
            [(topic, {"ts": ts(8 - i / 100), "seq": i, "volume_l": float(i)}) for i in range(200)]
        )
    async with running_ingest(db_url, mosquitto.target(), client_id="ingest-h",
                              protocol=protocol):  # fmt: skip
        await wait_until(lambda: _rows_at_least(db, 200), what="queued messages")
    assert await count(db, "SELECT count(DISTINCT seq) FROM readings") == 200


async def test_a_last_will_marks_the_device_offline_despite_its_old_timestamp(
    db: asyncpg.Connection, db_url: str, mosquitto: Mosquitto
) -> None:
    """The will's ts is its connect time; it must still win over heartbeats sent since."""
    await register_home(db, "home-w", {"pir-w": (DeviceType.PIR, "hall")})
    status = topic_for("pir-w", "status")

    async def online() -> object:
        return await db.fetchval("SELECT online FROM device_state WHERE device_id = 'pir-w'")

    async with running_ingest(db_url, mosquitto.target()) as ingest, publisher(mosquitto) as pub:
        await pub.publish_all_async([
            (status, {"ts": ts(30), "seq": 0, "online": True}),  # announced at connect
            (status, {"ts": ts(2), "seq": 5, "online": True, "battery_pct": 80}),  # heartbeat
        ])  # fmt: skip
        await wait_until(lambda: _processed(ingest, 2), what="connect and heartbeat")
        assert await online() is True
        # The broker publishes the will, written at connect (ts 30 minutes ago, seq 1).
        await pub.publish_all_async([(status, {"ts": ts(30), "seq": 1, "online": False})])
        await wait_until(lambda: _processed(ingest, 3), what="the will")
        assert await online() is False
        # A late-arriving copy of an old heartbeat does not bring it back...
        await pub.publish_all_async([(status, {"ts": ts(3), "seq": 4, "online": True})])
        await wait_until(lambda: _processed(ingest, 4), what="a late heartbeat")
        assert await online() is False
        # ...but the device reconnecting and announcing itself does.
        await pub.publish_all_async([(status, {"ts": ts(-0.1), "seq": 0, "online": True})])
        await wait_until(lambda: _processed(ingest, 5), what="the reconnect")
        assert await online() is True


async def test_readings_before_registration_or_past_the_horizon_are_stale(
    db: asyncpg.Connection, db_url: str, mosquitto: Mosquitto
) -> None:
    """Issue 11: readings from 2000–2010 were stored (and made TimescaleDB chunks far in
    the past). The horizon is a setting; a day before registration is the other bound."""
    now = datetime.now(UTC)
    await register_home(db, "home-n", {"new-n": (DeviceType.WATER_METER, None)}, installed_at=now)
    await register_home(db, "home-o", {"old-n": (DeviceType.WATER_METER, None)},
                        installed_at=now - timedelta(days=365))  # fmt: skip

    def message(device: str, age: timedelta, seq: int) -> tuple[str, dict[str, object]]:
        return topic_for(device, "telemetry"), {"ts": format_ts(now - age), "seq": seq,
                                                "volume_l": 1.0}  # fmt: skip

    stream = [
        message("new-n", timedelta(days=2), 1),  # before the device was registered
        message("new-n", timedelta(hours=12), 2),  # installed, registered next morning
        message("old-n", timedelta(days=40), 3),  # past a 30-day horizon
        message("old-n", timedelta(days=20), 4),
        message("old-n", timedelta(days=365 * 20), 5),  # a reset clock
    ]
    async with (
        running_ingest(db_url, mosquitto.target(), max_age=timedelta(days=30)) as ingest,
        publisher(mosquitto) as pub,
    ):
        await pub.publish_all_async(stream)
        await wait_until(lambda: _processed(ingest, len(stream)), what="all processed")
    assert [r["seq"] for r in await db.fetch("SELECT seq FROM readings ORDER BY seq")] == [2, 4]
    letters = await db.fetch("SELECT device_id, reason FROM dead_letters ORDER BY device_id")
    assert [(r["device_id"], r["reason"]) for r in letters] == [
        ("new-n", "stale_timestamp"), ("old-n", "stale_timestamp"), ("old-n", "stale_timestamp"),
    ]  # fmt: skip
