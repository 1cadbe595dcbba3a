"""Wire contract v1 (DESIGN.md): topic + payload bytes → a typed Reading, or a Rejection.

Pure code: no I/O. The caller supplies the device's registered type (from the
registry) and the arrival time, so the same decoder serves live ingest, the
simulators' self-checks and backtests.
"""

from __future__ import annotations

import functools
import json
import math
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from core.readings import DEVICE_ID_PATTERN, Channel, DeviceType, Reading

TOPIC_PREFIX = "eldercare/v1/devices/"
# Subscription filter for every device's telemetry and status.
TOPIC_FILTER = "eldercare/v1/devices/+/+"
MAX_PAYLOAD_BYTES = 4096
# How far ahead of our arrival time a device clock may be before we call the
# reading impossible. Small clock drift is normal; hours ahead is a broken clock
# whose data would sort after everything real and confuse absence detectors.
DEFAULT_MAX_FUTURE = timedelta(minutes=5)
# Nothing this system stores predates it; such a timestamp is a device with an unset clock.
EARLIEST_TS = datetime(2000, 1, 1, tzinfo=UTC)
MAX_SEQ = 2**63 - 1
MAX_TEXT_CHARS = 64
MAX_VOLUME_L = 1e9  # a meter index beyond a million cubic metres is a decoding error
MAX_FLOW_LPM = 1000.0

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


@dataclass(frozen=True, slots=True)
class Rejection:
    """Why a message was not accepted: one reason, as stored in dead letters."""

    reason: str


@dataclass(frozen=True, slots=True)
class Topic:
    """The parts of a valid topic."""

    device_id: str
    channel: Channel


def topic_for(device_id: str, channel: Channel | str) -> str:
    """The topic a device publishes a channel's messages on."""
    return f"{TOPIC_PREFIX}{device_id}/{Channel(channel).value}"


# A fleet has a bounded set of topics, each seen thousands of times a day: parsing one
# once is enough. The bound keeps a flood of bogus topics from growing memory.
@functools.lru_cache(maxsize=200_000)
def parse_topic(topic: str) -> Topic | Rejection:
    """Split `eldercare/v1/devices/{device_id}/{channel}`, or reject it as `bad_topic`."""
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
    if len(payload) > MAX_PAYLOAD_BYTES:
        return Rejection("oversize")
    try:
        # The contract says UTF-8; json.loads would also guess UTF-16 and UTF-32.
        obj = _JSON.decode(payload.decode("utf-8"))
    except (ValueError, RecursionError):  # includes UnicodeDecodeError and JSONDecodeError
        return Rejection("bad_json")
    if not isinstance(obj, dict):
        return Rejection("schema: payload not an object")
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
    if not math.isfinite(value):
        raise _Invalid(f"out_of_range: {field}")
    return float(value)


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
        ts = ts.astimezone(UTC)
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


def decode_payload(
    topic: Topic,
    payload: bytes,
    device_type: DeviceType | None,
    received_at: datetime,
    max_future: timedelta = DEFAULT_MAX_FUTURE,
) -> Reading | Rejection:
    """Validate one message of a known topic against wire contract v1.

    `device_type` is the registry's type for the topic's device, None if unknown.
    """
    obj = parse_payload(payload)
    if isinstance(obj, Rejection):
        return obj
    if device_type is None:
        return Rejection("unknown_device")
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
    except _Invalid as invalid:
        return Rejection(invalid.reason)
    if ts > received_at + max_future:
        return Rejection("future_timestamp")
    return Reading(
        device_id=topic.device_id,
        device_type=device_type,
        channel=topic.channel,
        ts=ts,
        seq=seq,
        received_at=received_at,
        **fields,
    )


def decode(
    topic: str,
    payload: bytes,
    device_type_of: Callable[[str], DeviceType | None],
    received_at: datetime,
    max_future: timedelta = DEFAULT_MAX_FUTURE,
) -> Reading | Rejection:
    """Topic and payload to a Reading or Rejection, with a synchronous registry lookup."""
    if len(payload) > MAX_PAYLOAD_BYTES:
        return Rejection("oversize")
    parts = parse_topic(topic)
    if isinstance(parts, Rejection):
        return parts
    return decode_payload(parts, payload, device_type_of(parts.device_id), received_at, max_future)


def encode_payload(fields: dict[str, Any]) -> bytes:
    """Serialise a payload the way devices and simulators put it on the wire."""
    return json.dumps(fields, separators=(",", ":"), ensure_ascii=False).encode()


def format_ts(ts: datetime) -> str:
    """RFC 3339 text for a timestamp, in UTC with millisecond precision."""
    return ts.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")
