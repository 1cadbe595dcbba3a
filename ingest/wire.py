"""Wire contract v1 (DESIGN.md): topic + payload bytes → a typed Reading, or a Rejection.

Pure code: no I/O. The caller supplies the device's registered type (from the
registry) and the arrival time, so the same decoder serves live ingest, the
simulators' self-checks and backtests.
"""

from __future__ import annotations

import dataclasses
import functools
import json
import math
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from core.pipeline import Heartbeat, heartbeat_worker
from core.readings import DEVICE_ID_PATTERN, Channel, DeviceType, Reading

TOPIC_PREFIX = "eldercare/v1/devices/"
# Subscription filter for every device's telemetry and status.
TOPIC_FILTER = "eldercare/v1/devices/+/+"
MAX_PAYLOAD_BYTES = 4096
# A batched upload of 96 reads (a day of 15-minute reads) is about 5.3 KB in RFC 3339:
# it cannot fit the contract's 4096 bytes, so an upload carrying `readings` may be up to
# this size. Anything else above MAX_PAYLOAD_BYTES is still `oversize`.
MAX_BATCHED_PAYLOAD_BYTES = 8192
# How far ahead of our arrival time a device clock may be before we call the
# reading impossible. Small clock drift is normal; hours ahead is a broken clock
# whose data would sort after everything real and confuse absence detectors.
DEFAULT_MAX_FUTURE = timedelta(minutes=5)
# Nothing this system stores predates it; such a timestamp is a device with an unset clock.
EARLIEST_TS = datetime(2000, 1, 1, tzinfo=UTC)
# How far back a reading may lie behind our arrival time. A meter back from a long outage
# uploads days of reads; years-old data is a reset clock, and on TimescaleDB every such
# reading would create a chunk far in the past. Ingest can narrow it (a setting).
DEFAULT_MAX_AGE = timedelta(days=400)
# A batched upload (DESIGN.md: NB-IoT meters) carries at most a day of 15-minute reads.
MAX_BATCHED_READINGS = 96
MAX_SEQ = 2**63 - 1
MAX_TEXT_CHARS = 64
MAX_VOLUME_L = 1e9  # a meter index beyond a million cubic metres is a decoding error
MAX_FLOW_LPM = 1000.0
# The longest topic that can be valid: the prefix, a 64-character id, "/", "telemetry".
MAX_TOPIC_CHARS = len(TOPIC_PREFIX) + 64 + 1 + len("telemetry")

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


@dataclass(frozen=True, slots=True)
class Rejection:
    """Why a message (or one element of a batched upload) was not accepted: one reason,
    as stored in dead letters. `element` is the bad element's JSON for a batched upload's
    element, None when the whole message is refused."""

    reason: str
    element: bytes | None = None


@dataclass(frozen=True, slots=True)
class Topic:
    """The parts of a valid topic."""

    device_id: str
    channel: Channel


def topic_for(device_id: str, channel: Channel | str) -> str:
    """The topic a device publishes a channel's messages on."""
    return f"{TOPIC_PREFIX}{device_id}/{Channel(channel).value}"


def parse_topic(topic: str) -> Topic | Rejection:
    """Split `eldercare/v1/devices/{device_id}/{channel}`, or reject it as `bad_topic`."""
    if len(topic) > MAX_TOPIC_CHARS:
        return Rejection("bad_topic")  # never cached: a flood of long topics costs nothing
    return _parse_short_topic(topic)


# A fleet has a bounded set of topics, each seen thousands of times a day: parsing one
# once is enough. Only topics short enough to be valid are cached, at most 100,000 of
# them (about 35 MB at the longest), so bogus topics cannot grow memory without bound.
@functools.lru_cache(maxsize=100_000)
def _parse_short_topic(topic: str) -> Topic | Rejection:
    if not topic.startswith(TOPIC_PREFIX):
        return Rejection("bad_topic")
    device_id, sep, channel = topic[len(TOPIC_PREFIX) :].partition("/")
    if not sep or not DEVICE_ID_PATTERN.fullmatch(device_id):
        return Rejection("bad_topic")
    try:
        return Topic(device_id, Channel(channel))
    except ValueError:
        return Rejection("bad_topic")


class _Invalid(Exception):
    """Internal: carries a rejection reason out of the field checks."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


def _reject_constant(name: str) -> Any:
    raise ValueError(f"JSON constant {name} is not allowed")


# One decoder for every payload: json.loads builds a new one per call when given options.
# It holds no state between calls.
_JSON = json.JSONDecoder(parse_constant=_reject_constant)


def parse_payload(payload: bytes) -> dict[str, Any] | Rejection:
    """Size-check and parse a payload into a JSON object, or reject it."""
    if len(payload) > MAX_BATCHED_PAYLOAD_BYTES:
        return Rejection("oversize")
    try:
        # The contract says UTF-8; json.loads would also guess UTF-16 and UTF-32.
        obj = _JSON.decode(payload.decode("utf-8"))
    except (ValueError, RecursionError):  # includes UnicodeDecodeError and JSONDecodeError
        return Rejection("bad_json")
    if not isinstance(obj, dict):
        return Rejection("schema: payload not an object")
    if len(payload) > MAX_PAYLOAD_BYTES and "readings" not in obj:
        return Rejection("oversize")
    return obj


def _number(obj: dict[str, Any], field: str, *, required: bool = False) -> float | None:
    value = obj.get(field)
    if value is None:
        if required:
            raise _Invalid(f"schema: {field} missing")
        return None
    # bool is an int subclass in Python; true is not a number on the wire.
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise _Invalid(f"schema: {field} not a number")
    try:
        number = float(value)  # an integer of 400 digits overflows here
    except OverflowError as exc:
        raise _Invalid(f"out_of_range: {field}") from exc
    if not math.isfinite(number):
        raise _Invalid(f"out_of_range: {field}")
    return number


def _in_range(field: str, value: float | None, low: float, high: float) -> float | None:
    if value is not None and not low <= value <= high:
        raise _Invalid(f"out_of_range: {field}")
    return value


def _boolean(obj: dict[str, Any], field: str, *, required: bool = False) -> bool | None:
    value = obj.get(field)
    if value is None:
        if required:
            raise _Invalid(f"schema: {field} missing")
        return None
    if not isinstance(value, bool):
        raise _Invalid(f"schema: {field} not a boolean")
    return value


def _text(obj: dict[str, Any], field: str) -> str | None:
    value = obj.get(field)
    if value is None:
        return None
    if not isinstance(value, str):
        raise _Invalid(f"schema: {field} not a string")
    if len(value) > MAX_TEXT_CHARS:
        raise _Invalid(f"out_of_range: {field}")
    if "\x00" in value:  # PostgreSQL text cannot hold NUL: the row would fail to store
        raise _Invalid(f"schema: {field} contains NUL")
    return value or None


def _timestamp(obj: dict[str, Any]) -> datetime:
    value = obj.get("ts")
    if value is None:
        raise _Invalid("schema: ts missing")
    if isinstance(value, bool):
        raise _Invalid("schema: ts not a timestamp")
    if isinstance(value, int):
        try:
            ts = _EPOCH + timedelta(milliseconds=value)
        except OverflowError as exc:
            raise _Invalid("out_of_range: ts") from exc
    elif isinstance(value, str):
        try:
            ts = datetime.fromisoformat(value)
        except ValueError as exc:
            raise _Invalid("schema: ts not RFC 3339") from exc
        if ts.tzinfo is None:
            raise _Invalid("schema: ts has no UTC offset")
        try:
            ts = ts.astimezone(UTC)  # year 1 at +01:00 is before year 1 in UTC
        except OverflowError as exc:
            raise _Invalid("out_of_range: ts") from exc
    else:
        raise _Invalid("schema: ts not a timestamp")
    if ts < EARLIEST_TS:
        raise _Invalid("out_of_range: ts")
    return ts


def _sequence(obj: dict[str, Any]) -> int:
    value = obj.get("seq")
    if value is None:
        raise _Invalid("schema: seq missing")
    if isinstance(value, bool) or not isinstance(value, int):
        raise _Invalid("schema: seq not an integer")
    if not 0 <= value <= MAX_SEQ:
        raise _Invalid("out_of_range: seq")
    return value


Decoded = Reading | Rejection


def decode_payload(
    topic: Topic,
    payload: bytes,
    device_type: DeviceType | None,
    received_at: datetime,
    max_future: timedelta = DEFAULT_MAX_FUTURE,
    max_age: timedelta = DEFAULT_MAX_AGE,
    not_before: datetime | None = None,
) -> list[Decoded]:
    """Validate one message of a known topic against wire contract v1: one result for a
    plain message or a refused one, one per element for a meter's batched upload.

    `device_type` is the registry's type for the topic's device, None if unknown. A
    reading older than `max_age` before `received_at`, or than `not_before` (ingest: a day
    before the device was registered), is `stale_timestamp`. Never raises: whatever the
    payload, a failure is a Rejection (`internal: ...` for one the checks did not
    foresee), so one message cannot stop the others.
    """
    try:
        return _decode_payload(
            topic, payload, device_type, received_at, max_future, max_age, not_before
        )
    except Exception as exc:  # a bug must cost one dead letter, never the worker
        return [Rejection(f"internal: {type(exc).__name__}")]


def _decode_payload(
    topic: Topic,
    payload: bytes,
    device_type: DeviceType | None,
    received_at: datetime,
    max_future: timedelta,
    max_age: timedelta,
    not_before: datetime | None,
) -> list[Decoded]:
    obj = parse_payload(payload)
    if isinstance(obj, Rejection):
        return [obj]
    if device_type is None:
        return [Rejection("unknown_device")]
    oldest = received_at - max_age
    if not_before is not None and not_before > oldest:
        oldest = not_before
    window = (oldest, received_at + max_future)
    try:
        ts = _timestamp(obj)
        seq = _sequence(obj)
        fields: dict[str, Any] = {
            "battery_pct": _in_range("battery_pct", _number(obj, "battery_pct"), 0, 100)
        }
        if topic.channel is Channel.STATUS:
            fields["online"] = _boolean(obj, "online")
            fields["rssi_dbm"] = _in_range("rssi_dbm", _number(obj, "rssi_dbm"), -200, 0)
            fields["fw"] = _text(obj, "fw")
        elif device_type is DeviceType.WATER_METER:
            if "readings" in obj:
                return _batched_upload(topic, obj, ts, fields, received_at, window)
            volume = _number(obj, "volume_l", required=True)
            fields["volume_l"] = _in_range("volume_l", volume, 0, MAX_VOLUME_L)
            fields["flow_lpm"] = _in_range("flow_lpm", _number(obj, "flow_lpm"), 0, MAX_FLOW_LPM)
        elif device_type is DeviceType.PIR:
            fields["motion"] = _boolean(obj, "motion", required=True)
            fields["room"] = _text(obj, "room")
        else:  # smoke
            fields["test"] = _boolean(obj, "test")
            # A self-test report may omit the alarm state; a real report must carry it.
            fields["alarm"] = _boolean(obj, "alarm", required=not fields["test"])
        _check_window(ts, window)
    except _Invalid as invalid:
        return [Rejection(invalid.reason)]
    return [_reading(topic, device_type, ts, seq, received_at, fields)]


def _check_window(ts: datetime, window: tuple[datetime, datetime]) -> None:
    if ts > window[1]:
        raise _Invalid("future_timestamp")
    if ts < window[0]:
        raise _Invalid("stale_timestamp")


def _reading(
    topic: Topic,
    device_type: DeviceType,
    ts: datetime,
    seq: int,
    received_at: datetime,
    fields: dict[str, Any],
) -> Reading:
    return Reading(
        device_id=topic.device_id,
        device_type=device_type,
        channel=topic.channel,
        ts=ts,
        seq=seq,
        received_at=received_at,
        **fields,
    )


def _batched_upload(
    topic: Topic,
    obj: dict[str, Any],
    upload_ts: datetime,
    upload_fields: dict[str, Any],
    received_at: datetime,
    window: tuple[datetime, datetime],
) -> list[Decoded]:
    """A meter's batched upload: each element is a reading of its own, and a bad element
    is a rejection of its own that does not spoil the others (DESIGN.md)."""
    if "volume_l" in obj:
        raise _Invalid("schema: volume_l and readings both present")
    elements = obj["readings"]
    if not isinstance(elements, list):
        raise _Invalid("schema: readings not an array")
    if not elements:
        raise _Invalid("schema: readings empty")
    if len(elements) > MAX_BATCHED_READINGS:
        raise _Invalid("out_of_range: readings")
    _check_window(upload_ts, window)
    out: list[Decoded] = []
    for index, element in enumerate(elements):
        try:
            if not isinstance(element, dict):
                raise _Invalid("schema: not an object")
            ts = _timestamp(element)
            seq = _sequence(element)
            volume = _in_range("volume_l", _number(element, "volume_l", required=True), 0,
                               MAX_VOLUME_L)  # fmt: skip
            _check_window(ts, window)
        except _Invalid as invalid:
            out.append(Rejection(f"readings[{index}] {invalid.reason}", _element_json(element)))
            continue
        out.append(_reading(topic, DeviceType.WATER_METER, ts, seq, received_at,
                            {"volume_l": volume}))  # fmt: skip
    # The upload's own battery level was measured at upload time; it travels with the
    # newest reading, the closest in time, so it is stored and not dropped.
    battery = upload_fields["battery_pct"]
    if battery is not None:
        newest = max(
            (i for i, r in enumerate(out) if isinstance(r, Reading)),
            key=lambda i: out[i].ts,  # type: ignore[union-attr]
            default=None,
        )
        if newest is not None:
            reading = out[newest]
            assert isinstance(reading, Reading)
            out[newest] = dataclasses.replace(reading, battery_pct=battery)
    return out


def _element_json(element: Any) -> bytes:
    """A rejected element as JSON for its dead letter. Never raises: a lone surrogate is
    kept as its escape, and an element nested too deep to write is named, not written."""
    try:
        return encode_payload(element)
    except UnicodeEncodeError:
        return json.dumps(element, separators=(",", ":")).encode()
    except RecursionError:
        return b'"<element nested too deep to keep>"'


def decode(
    topic: str,
    payload: bytes,
    device_type_of: Callable[[str], DeviceType | None],
    received_at: datetime,
    max_future: timedelta = DEFAULT_MAX_FUTURE,
    max_age: timedelta = DEFAULT_MAX_AGE,
    not_before: datetime | None = None,
) -> list[Decoded]:
    """Topic and payload to Readings and Rejections (see decode_payload), with a
    synchronous registry lookup. Never raises."""
    if len(payload) > MAX_BATCHED_PAYLOAD_BYTES:
        return [Rejection("oversize")]
    parts = parse_topic(topic)
    if isinstance(parts, Rejection):
        return [parts]
    try:
        device_type = device_type_of(parts.device_id)
    except Exception as exc:  # the lookup is the caller's; its failure is still one message's
        return [Rejection(f"internal: {type(exc).__name__}")]
    return decode_payload(parts, payload, device_type, received_at, max_future, max_age, not_before)


def heartbeat_payload(seq: int, sent_at: datetime) -> bytes:
    """An ingest heartbeat's payload: `{"ts": sent_at, "seq": n}` (core.pipeline)."""
    return encode_payload({"ts": format_ts(sent_at), "seq": seq})


def decode_heartbeat(topic: str, payload: bytes, received_at: datetime) -> Heartbeat | None:
    """An ingest heartbeat (on `heartbeat_topic(worker)`), or None if this is not a valid
    one. Never raises."""
    worker = heartbeat_worker(topic)
    if worker is None or len(payload) > MAX_PAYLOAD_BYTES:
        return None
    obj = parse_payload(payload)
    if isinstance(obj, Rejection):
        return None
    try:
        return Heartbeat(worker, _sequence(obj), _timestamp(obj), received_at)
    except (_Invalid, ValueError):
        return None


def encode_payload(fields: Any) -> bytes:
    """Serialise a payload the way devices and simulators put it on the wire."""
    return json.dumps(fields, separators=(",", ":"), ensure_ascii=False).encode()


def format_ts(ts: datetime) -> str:
    """RFC 3339 text for a timestamp, in UTC with millisecond precision."""
    return ts.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")
