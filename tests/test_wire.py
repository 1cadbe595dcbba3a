"""Wire contract v1: what the decoder accepts and the one reason it gives for what it refuses."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from core.readings import Channel, DeviceType, Reading
from ingest.wire import Rejection, decode, format_ts, parse_topic, topic_for

NOW = datetime(2026, 11, 29, 12, 0, tzinfo=UTC)


def run(topic: str, payload: bytes, device_type: DeviceType | None = DeviceType.WATER_METER):
    return decode(topic, payload, lambda _: device_type, NOW)


METER = "eldercare/v1/devices/m-1/telemetry"


def test_topic_round_trip() -> None:
    assert parse_topic(topic_for("dev_9-A", Channel.STATUS)).device_id == "dev_9-A"  # type: ignore[union-attr]


@pytest.mark.parametrize(
    "topic",
    [
        "eldercare/v1/devices/m-1",
        "eldercare/v1/devices/m-1/telemetry/extra",
        "eldercare/v1/devices//telemetry",
        "eldercare/v1/devices/" + "x" * 65 + "/telemetry",
        "eldercare/v1/devices/m 1/telemetry",
        "other/v1/devices/m-1/telemetry",
    ],
)
def test_bad_topics(topic: str) -> None:
    assert run(topic, b"{}") == Rejection("bad_topic")


def test_water_meter_with_offset_time() -> None:
    reading = run(METER, b'{"ts":"2026-11-29T18:00:00+08:00","seq":3,"volume_l":10,"flow_lpm":2.5}')
    assert isinstance(reading, Reading)
    assert reading.ts == datetime(2026, 11, 29, 10, 0, tzinfo=UTC)
    assert (reading.volume_l, reading.flow_lpm, reading.seq) == (10.0, 2.5, 3)


def test_epoch_milliseconds() -> None:
    ms = int((NOW - timedelta(minutes=1)).timestamp() * 1000)
    reading = run(METER, f'{{"ts":{ms},"seq":0,"volume_l":0}}'.encode())
    assert isinstance(reading, Reading) and reading.ts == NOW - timedelta(minutes=1)


def test_smoke_self_test_needs_no_alarm_field() -> None:
    reading = run(METER, b'{"ts":"2026-11-29T10:00:00Z","seq":1,"test":true}', DeviceType.SMOKE)
    assert isinstance(reading, Reading) and reading.test is True and reading.alarm is None


def test_status_channel() -> None:
    topic = "eldercare/v1/devices/m-1/status"
    reading = run(topic, b'{"ts":"2026-11-29T10:00:00Z","seq":1,"online":false,"rssi_dbm":-70}')
    assert isinstance(reading, Reading) and reading.online is False and reading.volume_l is None


def test_unknown_fields_are_ignored_for_forward_compatibility() -> None:
    assert isinstance(
        run(METER, b'{"ts":"2026-11-29T10:00:00Z","seq":1,"volume_l":1,"x":2}'), Reading
    )


@pytest.mark.parametrize(
    ("payload", "device_type", "reason"),
    [
        (b"x" * 4097, DeviceType.WATER_METER, "oversize"),
        (b"[1,2]", DeviceType.WATER_METER, "schema: payload not an object"),
        (b'{"ts":NaN,"seq":1}', DeviceType.WATER_METER, "bad_json"),
        (b'{"ts":"2026-11-29T10:00:00","seq":1,"volume_l":1}', DeviceType.WATER_METER,
         "schema: ts has no UTC offset"),
        (b'{"ts":"yesterday","seq":1,"volume_l":1}', DeviceType.WATER_METER,
         "schema: ts not RFC 3339"),
        (b'{"ts":true,"seq":1,"volume_l":1}', DeviceType.WATER_METER, "schema: ts not a timestamp"),
        (b'{"ts":5,"seq":1,"volume_l":1}', DeviceType.WATER_METER, "out_of_range: ts"),
        (b'{"ts":"2026-11-29T10:00:00Z","seq":-1,"volume_l":1}', DeviceType.WATER_METER,
         "out_of_range: seq"),
        (b'{"ts":"2026-11-29T10:00:00Z","seq":1.5,"volume_l":1}', DeviceType.WATER_METER,
         "schema: seq not an integer"),
        (b'{"ts":"2026-11-29T10:00:00Z","seq":1,"volume_l":-3}', DeviceType.WATER_METER,
         "out_of_range: volume_l"),
        (b'{"ts":"2026-11-29T10:00:00Z","seq":1,"volume_l":true}', DeviceType.WATER_METER,
         "schema: volume_l not a number"),
        (b'{"ts":"2026-11-29T10:00:00Z","seq":1,"motion":"yes"}', DeviceType.PIR,
         "schema: motion not a boolean"),
        (b'{"ts":"2026-11-29T10:00:00Z","seq":1}', DeviceType.PIR, "schema: motion missing"),
        (b'{"ts":"2026-11-29T10:00:00Z","seq":1}', DeviceType.SMOKE, "schema: alarm missing"),
        (b'{"ts":"2026-11-29T10:00:00Z","seq":1,"motion":true,"room":"' + b"r" * 65 + b'"}',
         DeviceType.PIR, "out_of_range: room"),
        (b'{"ts":"2026-11-29T12:06:00Z","seq":1,"volume_l":1}', DeviceType.WATER_METER,
         "future_timestamp"),
        (b'{"ts":"2026-11-29T10:00:00Z","seq":1,"volume_l":1}', None, "unknown_device"),
    ],
)  # fmt: skip
def test_rejections(payload: bytes, device_type: DeviceType | None, reason: str) -> None:
    assert run(METER, payload, device_type) == Rejection(reason)


def test_clock_drift_within_tolerance_is_accepted() -> None:
    payload = f'{{"ts":"{format_ts(NOW + timedelta(minutes=4))}","seq":1,"volume_l":1}}'
    assert isinstance(run(METER, payload.encode()), Reading)
