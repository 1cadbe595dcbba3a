"""Issue 11's done-when: a 15,000-message hostile mix with four hostile logins loses
nothing and stops nothing.

A broker of the shipped config (dynamic security), the real ingest, and twelve devices
publishing valid readings under their own logins, while four more device logins (real
credentials, issued as for any device) misbehave at the same time:
- one tries to read: ingest's `$share` group, the devices' topics, `#`;
- one keeps connecting under ingest's client id;
- one publishes readings under other devices' topics;
- one sends garbage on its own topic: malformed, oversized, huge numbers, ancient and
  stale timestamps, and one reading a hundred times.
Every valid reading is stored once, nothing spoofed is stored, what reaches ingest is
dead-lettered with its reason (within the dead-letter cap), and ingest is still ready.
"""

from __future__ import annotations

import asyncio
from collections import Counter
from collections.abc import Iterator
from typing import Any

import asyncpg

from core.readings import DeviceType
from eldercare.broker_admin import DynsecAdmin
from eldercare.mosquitto import ADMIN_USER
from ingest.wire import topic_for
from simulators.publisher import DevicePublisher
from storage.dead_letters import DEAD_LETTER_KEEP_BYTES, DEFAULT_PER_DEVICE_HOUR
from tests.ingest_helpers import register_home, running_ingest, ts, wait_until
from tests.mqtt_device import Device, device
from tests.services import Mosquitto

VALID_DEVICES = 12
VALID_PER_DEVICE = 1175  # 14,100 valid readings
GARBAGE_PER_KIND = 100  # six kinds below: 600 messages, 500 of them dead letters
SPOOFS = 300  # 12 x 1,175 + 600 + 300 = 15,000 messages
SPOOF_SEQ = 10**6  # spoofed readings carry seqs from here, so any stored one shows
SUBSCRIBE_ROUNDS = 20
TAKEOVERS = 20

SUBSCRIBER, THIEF, SPOOFER, JUNK = "hx-reader", "hx-thief", "hx-spoofer", "hx-junk"
VALID = [f"hx-pir-{i:02d}" for i in range(VALID_DEVICES)]


def _garbage() -> Iterator[tuple[bytes, str | None]]:
    """(payload, expected reason) on the junk meter's own topic; None: stored or a
    duplicate (the same reading again)."""
    now = ts(2)
    for i in range(GARBAGE_PER_KIND):
        seq = 1000 + i
        yield b'{"ts":"%s","seq":%d,"volume_l":' % (now.encode(), seq), "bad_json"
        yield b"{" + b"x" * 60_000 + b"}", "oversize"  # under the broker's 64 KiB limit
        yield (f'{{"ts":"{now}","seq":{seq},"volume_l":1{"0" * 400}}}'.encode(),
               "out_of_range: volume_l")  # fmt: skip
        yield (b'{"ts":"0001-01-01T00:00:00+01:00","seq":%d,"volume_l":1}' % seq,
               "out_of_range: ts")  # fmt: skip
        yield b'{"ts":"2001-01-01T00:00:00Z","seq":%d,"volume_l":1}' % seq, "stale_timestamp"
        yield b'{"ts":"%s","seq":7,"volume_l":12.5}' % now.encode(), None  # duplicates


def _expected_letters() -> Counter[str]:
    return Counter(reason for _, reason in _garbage() if reason is not None)


def _readings(device_id: str) -> list[tuple[str, dict[str, Any]]]:
    topic = topic_for(device_id, "telemetry")
    return [(topic, {"ts": ts((VALID_PER_DEVICE - seq) / 60), "seq": seq, "motion": True})
            for seq in range(1, VALID_PER_DEVICE + 1)]  # fmt: skip


def _publish_as(broker: Mosquitto, login: tuple[str, str], messages: list[Any]) -> int:
    """Publish as a device's own login and client id; waits for every PUBACK."""
    pub = DevicePublisher(broker.target(login), login[0])
    pub.connect()
    try:
        return pub.publish_all(messages)
    finally:
        pub.close()


def _read_attempts(broker: Mosquitto, password: str, group: str) -> tuple[list[Any], list[str]]:
    """Subscribe again and again to what only ingest may read; the SUBACK codes, and
    whatever the broker delivered."""
    codes: list[Any] = []
    with device(broker, SUBSCRIBER, password, SUBSCRIBER) as d:
        for _ in range(SUBSCRIBE_ROUNDS):
            for topic_filter in (f"$share/{group}/eldercare/v1/devices/+/+", "#"):
                codes.extend(d.subscribe(topic_filter))
        return codes, list(d.received)


def _takeovers(broker: Mosquitto, password: str, client_id: str) -> list[bool]:
    """Connect under ingest's client id again and again: was each refused?"""
    refused = []
    for _ in range(TAKEOVERS):
        d = Device(broker, THIEF, password, client_id)
        refused.append(d.refused)
        d.close()
    return refused


def _spoof(broker: Mosquitto, password: str) -> list[Any]:
    """Publish readings under the valid devices' topics; each PUBACK's reason code."""
    with device(broker, SPOOFER, password, SPOOFER) as d:
        return [d.publish(topic_for(VALID[i % VALID_DEVICES], "telemetry"),
                          b'{"ts":"%s","seq":%d,"motion":false}'
                          % (ts(1).encode(), SPOOF_SEQ + i))
                for i in range(SPOOFS)]  # fmt: skip


async def test_a_15000_message_hostile_mix_loses_nothing_and_stops_nothing(
    db: asyncpg.Connection, db_url: str, mosquitto: Mosquitto
) -> None:
    await register_home(db, "home-hx", {**{d: (DeviceType.PIR, "hall") for d in VALID},
                                        SPOOFER: (DeviceType.PIR, "bed"),
                                        SUBSCRIBER: (DeviceType.PIR, "bath"),
                                        THIEF: (DeviceType.PIR, "kitchen"),
                                        JUNK: (DeviceType.WATER_METER, None)})  # fmt: skip

    def issue() -> dict[str, str]:
        with DynsecAdmin(mosquitto.target(ADMIN_USER)) as admin:
            creds = admin.issue([*VALID, SUBSCRIBER, THIEF, SPOOFER, JUNK])
            return {c.device_id: c.password for c in creds}

    passwords = await asyncio.to_thread(issue)
    garbage = [(topic_for(JUNK, "telemetry"), payload) for payload, _ in _garbage()]
    async with running_ingest(db_url, mosquitto.target()) as ingest:
        group, ingest_id = ingest.config.share_group, ingest.config.client_id
        valid, junk, (suback_codes, read), refused, spoof_acks = await asyncio.gather(
            asyncio.gather(*(asyncio.to_thread(_publish_as, mosquitto, (d, passwords[d]),
                                               _readings(d)) for d in VALID)),
            asyncio.to_thread(_publish_as, mosquitto, (JUNK, passwords[JUNK]), garbage),
            asyncio.to_thread(_read_attempts, mosquitto, passwords[SUBSCRIBER], group),
            asyncio.to_thread(_takeovers, mosquitto, passwords[THIEF], ingest_id),
            asyncio.to_thread(_spoof, mosquitto, passwords[SPOOFER]),
        )  # fmt: skip
        sent = sum(valid) + junk
        assert sent + len(spoof_acks) == 15_000

        expected = _expected_letters()

        async def all_handled() -> bool:
            stored = await db.fetchval("SELECT count(*) FROM readings")
            counted = await db.fetchval("SELECT coalesce(sum(rejected), 0) FROM dead_letter_counts")
            return bool(stored == VALID_DEVICES * VALID_PER_DEVICE + 1
                        and counted == sum(expected.values()))  # fmt: skip

        await wait_until(all_handled, timeout_s=120, what="every valid reading and dead letter")

        # The readers got nothing and took nothing: each subscription refused.
        assert len(suback_codes) == 2 * SUBSCRIBE_ROUNDS
        assert all(code.is_failure for code in suback_codes), suback_codes
        assert read == []
        # Ingest's client id was never taken; the spoofed readings went nowhere.
        assert refused == [True] * TAKEOVERS
        assert all(ack.is_failure for ack in spoof_acks)

        # Still running and ready: one more reading is stored.
        assert ingest.subscribed and ingest.ready
        last = topic_for(VALID[0], "telemetry")
        await asyncio.to_thread(_publish_as, mosquitto, (VALID[0], passwords[VALID[0]]),
                                [(last, {"ts": ts(), "seq": 99_999, "motion": True})])  # fmt: skip

        async def last_stored() -> bool:
            return bool(await db.fetchval("SELECT count(*) FROM readings WHERE seq = 99999"))

        await wait_until(last_stored, what="a reading after the mix")
        assert ingest.subscribed and ingest.ready
        duplicates = ingest.stats.duplicates
        counted = ingest.stats.dead_letters

    # Every valid reading once, each device's whole sequence; nothing spoofed.
    rows = await db.fetch(
        "SELECT device_id, count(*) AS n, count(DISTINCT seq) AS seqs, min(seq) AS lo,"
        " max(seq) AS hi, bool_and(motion) AS motion FROM readings"
        " WHERE device_id <> $1 AND seq < 99999 GROUP BY device_id ORDER BY device_id",
        JUNK,
    )  # fmt: skip
    assert [tuple(r) for r in rows] == [
        (d, VALID_PER_DEVICE, VALID_PER_DEVICE, 1, VALID_PER_DEVICE, True) for d in VALID
    ]
    assert await db.fetchval("SELECT count(*) FROM readings WHERE seq >= $1", SPOOF_SEQ) == 0
    # The junk meter's one good reading, sent a hundred times, stored once.
    junk = await db.fetch("SELECT seq, volume_l FROM readings WHERE device_id = $1", JUNK)
    assert [tuple(r) for r in junk] == [(7, 12.5)]
    assert duplicates >= GARBAGE_PER_KIND - 1

    # The garbage dead-lettered by reason: all counted, a capped number kept, truncated.
    kinds: Counter[str] = Counter()
    for reason, n in expected.items():
        kinds[reason.split(":")[0]] += n
    by_kind = await db.fetch(
        "SELECT device_id, reason, sum(rejected)::int AS n FROM dead_letter_counts"
        " GROUP BY device_id, reason"
    )
    assert {(r["device_id"], r["reason"], r["n"]) for r in by_kind} == {
        (JUNK, kind, n) for kind, n in kinds.items()
    }
    assert counted == kinds
    letters = await db.fetch("SELECT device_id, reason, payload, payload_bytes FROM dead_letters")
    # (The mix may straddle an hour boundary, which allows one more hour's worth.)
    assert DEFAULT_PER_DEVICE_HOUR <= len(letters) <= 2 * DEFAULT_PER_DEVICE_HOUR
    assert {r["device_id"] for r in letters} == {JUNK}
    # The kinds arrive interleaved, so the letters kept have each reason.
    assert {r["reason"] for r in letters} == set(expected)
    assert not any(r["reason"].startswith("internal") for r in letters)
    assert max(len(r["payload"]) for r in letters) <= DEAD_LETTER_KEEP_BYTES
    assert {r["payload_bytes"] for r in letters if r["reason"] == "oversize"} == {60_002}
