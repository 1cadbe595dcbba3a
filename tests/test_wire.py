"""Wire contract v1: what the decoder accepts and the one reason it gives for what it refuses."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pytest

from core.pipeline import Heartbeat, heartbeat_topic
from core.readings import Channel, DeviceType, Reading
from ingest.wire import (
    Rejection,
    _parse_short_topic,
    decode,
    decode_heartbeat,
    encode_payload,
    format_ts,
    heartbeat_payload,
    parse_topic,
    topic_for,
)

NOW = datetime(2026, 11, 29, 12, 0, tzinfo=UTC)


def run(topic: str, payload: bytes, device_type: DeviceType | None = DeviceType.WATER_METER):
    (result,) = decode(topic, payload, lambda _: device_type, NOW)
    return result


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
        (b"x" * 8193, DeviceType.WATER_METER, "oversize"),
        (b"x" * 4097, DeviceType.WATER_METER, "bad_json"),
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
        # Found by a hostile device: these two raised OverflowError out of the decoder and
        # took the whole process down on every restart.
        (b'{"ts":"2026-11-29T10:00:00Z","seq":1,"volume_l":1' + b"0" * 400 + b"}",
         DeviceType.WATER_METER, "out_of_range: volume_l"),
        (b'{"ts":"0001-01-01T00:00:00+01:00","seq":1,"volume_l":1}', DeviceType.WATER_METER,
         "out_of_range: ts"),
        (b'{"ts":' + b"9" * 30 + b',"seq":1,"volume_l":1}', DeviceType.WATER_METER,
         "out_of_range: ts"),
        (b'{"ts":"2026-11-29T10:00:00Z","seq":1,"battery_pct":-1' + b"0" * 400 + b"}",
         DeviceType.PIR, "out_of_range: battery_pct"),
        # Years-old readings are a reset clock (and chunks far in the past on TimescaleDB).
        (b'{"ts":"2005-06-01T10:00:00Z","seq":1,"volume_l":1}', DeviceType.WATER_METER,
         "stale_timestamp"),
    ],
)  # fmt: skip
def test_rejections(payload: bytes, device_type: DeviceType | None, reason: str) -> None:
    assert run(METER, payload, device_type) == Rejection(reason)


def test_clock_drift_within_tolerance_is_accepted() -> None:
    payload = f'{{"ts":"{format_ts(NOW + timedelta(minutes=4))}","seq":1,"volume_l":1}}'
    assert isinstance(run(METER, payload.encode()), Reading)


def test_a_long_stale_upload_within_the_horizon_is_accepted() -> None:
    ts = format_ts(NOW - timedelta(days=399))
    assert isinstance(run(METER, f'{{"ts":"{ts}","seq":1,"volume_l":1}}'.encode()), Reading)


def test_long_topics_are_refused_and_not_cached() -> None:
    before = _parse_short_topic.cache_info().currsize
    for n in range(50):
        topic = f"eldercare/v1/devices/{'x' * 1000}{n}/telemetry"
        assert run(topic, b"{}") == Rejection("bad_topic")
    assert _parse_short_topic.cache_info().currsize == before


def test_a_failing_registry_lookup_is_one_rejection_not_an_exception() -> None:
    def lookup(device_id: str) -> DeviceType | None:
        raise KeyError(device_id)

    results = decode(METER, b'{"ts":"2026-11-29T10:00:00Z","seq":1,"volume_l":1}', lookup, NOW)
    assert results == [Rejection("internal: KeyError")]


def _upload(elements: object, **extra: object) -> bytes:
    return encode_payload({"ts": "2026-11-29T11:00:00Z", "seq": 900, **extra,
                           "readings": elements})  # fmt: skip


def _read(hour: int, seq: int, volume: object) -> dict[str, object]:
    return {"ts": f"2026-11-29T{hour:02d}:00:00Z", "seq": seq, "volume_l": volume}


def test_a_batched_upload_becomes_one_reading_per_element() -> None:
    payload = _upload([_read(8, 10, 100.0), _read(9, 11, 104.5), _read(10, 12, 104.5)],
                      battery_pct=61)  # fmt: skip
    results = decode(METER, payload, lambda _: DeviceType.WATER_METER, NOW)
    assert all(isinstance(r, Reading) for r in results)
    readings = [r for r in results if isinstance(r, Reading)]
    assert [(r.ts.hour, r.seq, r.volume_l) for r in readings] == [
        (8, 10, 100.0), (9, 11, 104.5), (10, 12, 104.5)
    ]  # fmt: skip
    assert {r.channel for r in readings} == {Channel.TELEMETRY}
    # The upload's battery level is kept, with the newest reading.
    assert [r.battery_pct for r in readings] == [None, None, 61]


def test_a_bad_element_is_rejected_alone_and_keeps_its_own_json() -> None:
    bad = {"ts": "2026-11-29T09:00:00Z", "seq": 11, "volume_l": -5}
    payload = _upload([_read(8, 10, 100.0), bad, "junk", {"seq": 13, "volume_l": 1},
                       _read(10, 14, 101.0)])  # fmt: skip
    results = decode(METER, payload, lambda _: DeviceType.WATER_METER, NOW)
    assert [getattr(r, "reason", "ok") for r in results] == [
        "ok", "readings[1] out_of_range: volume_l", "readings[2] schema: not an object",
        "readings[3] schema: ts missing", "ok",
    ]  # fmt: skip
    rejected = results[1]
    assert isinstance(rejected, Rejection) and rejected.element is not None
    assert json.loads(rejected.element) == bad


@pytest.mark.parametrize(
    ("payload", "device_type", "reason"),
    [
        (_upload([]), DeviceType.WATER_METER, "schema: readings empty"),
        (_upload({"a": 1}), DeviceType.WATER_METER, "schema: readings not an array"),
        (_upload([{}] * 97), DeviceType.WATER_METER, "out_of_range: readings"),
        (_upload([{}] * 97, pad="x" * 8000), DeviceType.WATER_METER, "oversize"),
        (encode_payload({"ts": "2026-11-29T10:00:00Z", "seq": 1, "volume_l": 1,
                         "pad": "x" * 4096}), DeviceType.WATER_METER, "oversize"),
        (_upload([_read(8, 1, 1.0)], volume_l=3), DeviceType.WATER_METER,
         "schema: volume_l and readings both present"),
        (_upload([_read(8, 1, 1.0)]), DeviceType.PIR, "schema: motion missing"),
    ],
)  # fmt: skip
def test_whole_upload_rejections(payload: bytes, device_type: DeviceType, reason: str) -> None:
    assert run(METER, payload, device_type) == Rejection(reason)


def test_an_element_from_the_future_is_refused_alone() -> None:
    payload = _upload([_read(10, 1, 1.0), _read(13, 2, 1.0)])
    results = decode(METER, payload, lambda _: DeviceType.WATER_METER, NOW)
    assert isinstance(results[0], Reading)
    assert results[1] == Rejection("readings[1] future_timestamp", results[1].element)  # type: ignore[union-attr]


def test_a_day_of_15_minute_reads_fits_one_upload() -> None:
    start = NOW - timedelta(days=1)
    elements = [{"ts": format_ts(start + timedelta(minutes=15 * n)), "seq": 1000 + n,
                 "volume_l": 123456.5 + n} for n in range(96)]  # fmt: skip
    payload = _upload(elements, battery_pct=80)
    assert len(payload) > 4096
    results = decode(METER, payload, lambda _: DeviceType.WATER_METER, NOW)
    assert len(results) == 96 and all(isinstance(r, Reading) for r in results)


def test_heartbeat_round_trip_and_refusals() -> None:
    topic = heartbeat_topic("ingest-1")
    sent = NOW - timedelta(seconds=2)
    beat = decode_heartbeat(topic, heartbeat_payload(7, sent), NOW)
    assert beat == Heartbeat("ingest-1", 7, sent, NOW) and beat.round_trip_s == 2.0
    assert decode_heartbeat(METER, heartbeat_payload(7, sent), NOW) is None
    assert decode_heartbeat(topic, b'{"ts":"0001-01-01T00:00:00+01:00","seq":1}', NOW) is None
    assert decode_heartbeat(topic, b"[]", NOW) is None
    assert decode_heartbeat("eldercare/v1/ingest/a b/heartbeat", b"{}", NOW) is None


def test_a_reading_from_before_not_before_is_stale() -> None:
    registered = NOW - timedelta(days=3)
    not_before = registered - timedelta(days=1)
    old = f'{{"ts":"{format_ts(not_before - timedelta(minutes=1))}","seq":1,"volume_l":1}}'
    recent = f'{{"ts":"{format_ts(not_before + timedelta(minutes=1))}","seq":2,"volume_l":1}}'
    meter = lambda _: DeviceType.WATER_METER  # noqa: E731
    assert decode(METER, old.encode(), meter, NOW, not_before=not_before) == [
        Rejection("stale_timestamp")
    ]
    assert isinstance(decode(METER, recent.encode(), meter, NOW, not_before=not_before)[0], Reading)
    # A shorter horizon than the default, as ELDERCARE_INGEST_MAX_AGE_DAYS sets it.
    results = decode(METER, recent.encode(), meter, NOW, max_age=timedelta(days=2))
    assert results == [Rejection("stale_timestamp")]
    # In a batched upload, each element on its own.
    upload = _upload([_read(10, 1, 1.0), {"ts": format_ts(not_before - timedelta(hours=1)),
                                           "seq": 2, "volume_l": 1.0}])  # fmt: skip
    results = decode(METER, upload, meter, NOW, not_before=not_before)
    assert isinstance(results[0], Reading)
    assert isinstance(results[1], Rejection) and results[1].reason == "readings[1] stale_timestamp"


def test_text_fields_with_nul_are_refused() -> None:
    payload = b'{"ts":"2026-11-29T10:00:00Z","seq":1,"motion":true,"room":"a\\u0000b"}'
    assert run(METER, payload, DeviceType.PIR) == Rejection("schema: room contains NUL")


def test_a_rejected_element_that_cannot_be_utf8_is_kept_escaped() -> None:
    """Found by the fuzz: a lone surrogate in a bad element made the whole upload an
    `internal:` rejection, losing its good elements."""
    payload = (b'{"ts":"2026-11-29T11:00:00Z","seq":9,"readings":['
               b'{"ts":"2026-11-29T10:00:00Z","seq":1,"volume_l":1},'
               b'{"ts":"\\ud800","seq":2,"volume_l":1}]}')  # fmt: skip
    results = decode(METER, payload, lambda _: DeviceType.WATER_METER, NOW)
    assert isinstance(results[0], Reading)
    assert results[1] == Rejection("readings[1] schema: ts not RFC 3339",
                                   b'{"ts":"\\ud800","seq":2,"volume_l":1}')  # fmt: skip
