"""Reading a recording (JSON Lines of MQTT messages) back into wire-decoded readings.

Each line is decoded by the real wire decoder, with the payload's own `ts` as the
arrival time, exactly as ingest would have seen it had it arrived on time.
"""

from __future__ import annotations

import functools
import json
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

from core.readings import DeviceType, Reading
from ingest.wire import (
    EARLIEST_TS,
    MAX_FLOW_LPM,
    MAX_VOLUME_L,
    TOPIC_PREFIX,
    Rejection,
    decode,
    encode_payload,
)

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
# The layout recorders write: {"topic":"...","payload":{"ts":"...",...}}. Slicing it
# hands the decoder the payload's own bytes without a second JSON round trip; any other
# layout (spaces, other key order) takes the general path through json.loads.
_HEAD = b'{"topic":"'
_PAYLOAD_KEY = b',"payload":'
_TS_HEAD = b'{"ts":"'
_DEVICE_AT = len(_HEAD) + len(TOPIC_PREFIX)
DEVICE_AT = _DEVICE_AT
HEAD = _HEAD
TS_KEY = b'"ts":"'
# From the '/' after the device id to the payload's ts text, in the recorder's layout.
TELEMETRY_TS = b'/telemetry","payload":{"ts":"'
STATUS_TS = b'/status","payload":{"ts":"'

# The exact shapes the simulators' recorder writes for the three kinds of line that make
# up nearly all of a recording (motion, meter readings, status), from just after the
# device id to the end of the line. A line of one of these shapes is one the wire
# decoder accepts, with the same values (`fast_fields`); any other line, however
# slightly different, goes through the wire decoder itself. Numbers are plain JSON
# numbers without exponents, strings plain ASCII without escapes, seq at most 18 digits
# (below the contract's 2**63 - 1), ts in UTC with milliseconds.
_TS_SEQ = rb'"ts":"(\d{4}-\d\d-\d\dT\d\d:\d\d):([0-5]\d)\.(\d{3})Z","seq":(0|[1-9]\d{0,17})'
_NUM = rb"((?:0|[1-9]\d{0,9})(?:\.\d{1,9})?)"
_END = rb"\}\}\r?\n?\Z"
_PIR = re.compile(
    rb'/telemetry","payload":\{'
    + _TS_SEQ
    + rb',"motion":(true|false)(?:,"room":"([A-Za-z0-9_ -]{0,64})")?'
    + _END
)
_METER = re.compile(
    rb'/telemetry","payload":\{'
    + _TS_SEQ
    + rb',"volume_l":'
    + _NUM
    + rb'(?:,"flow_lpm":'
    + _NUM
    + b")?"
    + _END
)
_STATUS = re.compile(
    rb'/status","payload":\{'
    + _TS_SEQ
    + rb'(?:,"online":(true|false))?(?:,"battery_pct":'
    + _NUM
    + rb')?(?:,"rssi_dbm":(-?(?:0|[1-9]\d{0,9})(?:\.\d{1,9})?))?(?:,"fw":"[A-Za-z0-9._ -]{0,64}")?'
    + _END
)
_TS_TEXT = re.compile(rb"(\d{4}-\d\d-\d\dT\d\d:\d\d):([0-5]\d)\.(\d{3})Z")
_EARLIEST_US = int(EARLIEST_TS.timestamp()) * 1_000_000
# Engine.feed_fields' arguments after the device id: (ts, arrival = ts, seq, status,
# online, motion, room, volume_l, flow_lpm, alarm, test, battery_pct); instants in epoch
# seconds.
FastFields = tuple[
    float,
    float,
    int,
    bool,
    bool | None,
    bool | None,
    str | None,
    float | None,
    float | None,
    bool | None,
    bool | None,
    float | None,
]


class RecordingError(ValueError):
    """A recording line that is not a `{"topic": ..., "payload": {...}}` object."""


@dataclass(frozen=True, slots=True)
class Line:
    """One recording line split into what the decoder needs."""

    number: int
    topic: str
    payload: bytes
    ts: datetime | None  # the payload's own ts, when readable
    fast: bool  # split by slicing (a decoder rejection is then re-checked the slow way)


def _payload_ts(raw: str | int | None) -> datetime | None:
    try:
        if isinstance(raw, int) and not isinstance(raw, bool):
            return _EPOCH + timedelta(milliseconds=raw)
        if isinstance(raw, str):
            moment = datetime.fromisoformat(raw)
            if moment.tzinfo is None:
                return None
            return moment if moment.tzinfo is UTC else moment.astimezone(UTC)
    except (ValueError, OverflowError):
        return None
    return None


def device_of(raw: bytes) -> bytes:
    """The device id of a fast-layout line (b'' when the line has another layout)."""
    if not raw.startswith(_HEAD):
        return b""
    end = raw.find(b"/", _DEVICE_AT)
    return raw[_DEVICE_AT:end] if end > 0 else b""


@functools.lru_cache(maxsize=4096)
def minute_us(prefix: bytes) -> int | None:
    """UTC epoch microseconds of a `YYYY-MM-DDTHH:MM` prefix (None: not a valid one)."""
    try:
        moment = datetime.fromisoformat(prefix.decode("ascii") + ":00+00:00")
    except ValueError:
        return None
    # Whole minutes: exact in integer microseconds.
    return int(moment.timestamp()) * 1_000_000


def fast_fields(raw: bytes, at: int, kind: DeviceType) -> FastFields | None:
    """The reading fields of a canonical recorder line, `at` its '/' after the device id.

    None when the line is not of a canonical shape: the wire decoder must judge it.
    The values are exactly those the wire decoder gives (ts as `Reading.ts.timestamp()`).
    """
    return fast_parser(kind)(raw, at)


def fast_parser(kind: DeviceType) -> Callable[[bytes, int], FastFields | None]:
    """`fast_fields` for the lines of one device type (a replay looks it up once)."""
    if kind is DeviceType.PIR:
        return _pir
    if kind is DeviceType.WATER_METER:
        return _meter
    return _other


def _pir(raw: bytes, at: int) -> FastFields | None:
    m = _PIR.match(raw, at)
    if m is None:
        return _status(raw, at) if raw.startswith(b"/status", at) else None
    base = minute_us(m[1])
    if base is None or base < _EARLIEST_US:
        return None
    ts = (base + int(m[2]) * 1_000_000 + int(m[3]) * 1000) / 1e6
    room = m[6].decode() or None if m[6] else None
    return ts, ts, int(m[4]), False, None, m[5] == b"true", room, None, None, None, None, None


def _meter(raw: bytes, at: int) -> FastFields | None:
    m = _METER.match(raw, at)
    if m is None:
        return _status(raw, at) if raw.startswith(b"/status", at) else None
    base = minute_us(m[1])
    volume = float(m[5])
    flow = float(m[6]) if m[6] is not None else None
    if (
        base is None
        or base < _EARLIEST_US
        or volume > MAX_VOLUME_L
        or (flow is not None and flow > MAX_FLOW_LPM)
    ):
        return None
    ts = (base + int(m[2]) * 1_000_000 + int(m[3]) * 1000) / 1e6
    return ts, ts, int(m[4]), False, None, None, None, volume, flow, None, None, None


def _other(raw: bytes, at: int) -> FastFields | None:
    return _status(raw, at) if raw.startswith(b"/status", at) else None


def _status(raw: bytes, at: int) -> FastFields | None:
    m = _STATUS.match(raw, at)
    if m is None:
        return None
    base = minute_us(m[1])
    battery = float(m[6]) if m[6] is not None else None
    if (
        base is None
        or base < _EARLIEST_US
        or (battery is not None and battery > 100)
        or (m[7] is not None and not -200 <= float(m[7]) <= 0)
    ):
        return None
    ts = (base + int(m[2]) * 1_000_000 + int(m[3]) * 1000) / 1e6
    online = None if m[5] is None else m[5] == b"true"
    return ts, ts, int(m[4]), True, online, None, None, None, None, None, None, battery


def fast_ts(text: bytes) -> float | None:
    """Epoch seconds of a `YYYY-MM-DDTHH:MM:SS.mmmZ` ts text (None if it is not one)."""
    m = _TS_TEXT.fullmatch(text)
    base = minute_us(m[1]) if m is not None else None
    if m is None or base is None:
        return None
    return (base + int(m[2]) * 1_000_000 + int(m[3]) * 1000) / 1e6


def line_ts(raw: bytes) -> float | None:
    """The payload ts of a fast-layout line as UTC epoch seconds (None if unreadable)."""
    at = raw.find(b'"ts":"')
    if at < 0:
        return None
    end = raw.find(b'"', at + 6)
    moment = _payload_ts(raw[at + 6 : end].decode("ascii", "replace"))
    return moment.timestamp() if moment is not None else None


def split_line(raw: bytes, number: int) -> Line:
    """Split one non-blank line into topic, payload bytes and payload ts."""
    if raw.startswith(_HEAD):
        topic_end = raw.find(b'"', len(_HEAD))
        body = raw.rstrip()
        if (
            topic_end > 0
            and raw.startswith(_PAYLOAD_KEY, topic_end + 1)
            and body.endswith(b"}}")
            and b"\\" not in raw[:topic_end]
        ):
            payload = body[topic_end + 1 + len(_PAYLOAD_KEY) : -1]
            ts = None
            if payload.startswith(_TS_HEAD):
                ts_end = payload.find(b'"', len(_TS_HEAD))
                ts = _payload_ts(payload[len(_TS_HEAD) : ts_end].decode("ascii", "replace"))
            else:
                ts = _general_ts(payload)
            return Line(number, raw[len(_HEAD) : topic_end].decode(), payload, ts, True)
    return _general(raw, number)


def _general_ts(payload: bytes) -> datetime | None:
    try:
        obj = json.loads(payload)
    except ValueError:
        return None
    value = obj.get("ts") if isinstance(obj, dict) else None
    return _payload_ts(value if isinstance(value, str | int) else None)


def _general(raw: bytes, number: int) -> Line:
    try:
        obj = json.loads(raw)
    except ValueError as exc:
        raise RecordingError(f"line {number}: not JSON ({exc})") from None
    if not isinstance(obj, dict) or not isinstance(obj.get("topic"), str):
        raise RecordingError(f'line {number}: expected {{"topic": "...", "payload": {{...}}}}')
    payload = obj.get("payload")
    if not isinstance(payload, dict):
        raise RecordingError(f"line {number}: payload is not a JSON object")
    value = payload.get("ts")
    ts = _payload_ts(value if isinstance(value, str | int) else None)
    return Line(number, obj["topic"], encode_payload(payload), ts, False)


def decode_line(
    line: Line, device_type_of: Callable[[str], DeviceType | None], received_at: datetime
) -> list[Reading | Rejection]:
    """The wire decoder's verdict on one line (arrival time = `received_at`): one result,
    or one per element of a meter's batched upload."""
    result = decode(line.topic, line.payload, device_type_of, received_at)
    if line.fast and len(result) == 1 and getattr(result[0], "reason", None) == "bad_json":
        # The slice may have cut a line with extra keys; the general split decides.
        return decode_line(_general_from(line), device_type_of, received_at)
    return result


def _general_from(line: Line) -> Line:
    raw = b'{"topic":' + json.dumps(line.topic).encode() + b',"payload":' + line.payload + b"}"
    try:
        return _general(raw, line.number)
    except RecordingError:
        return Line(line.number, line.topic, line.payload, line.ts, False)


@dataclass(frozen=True, slots=True)
class Decoded:
    """One line of a recording after the wire decoder."""

    line: int
    topic: str
    result: Reading | Rejection


def decode_recording(
    path: Path, device_type_of: Callable[[str], DeviceType | None]
) -> Iterator[Decoded]:
    """Decode every non-blank line of a recording, in file order."""
    last_ts = _EPOCH
    with path.open("rb") as handle:
        for number, raw in enumerate(handle, start=1):
            if not raw.strip():
                continue
            line = split_line(raw, number)
            # A payload whose ts cannot be read is rejected by the decoder anyway; the
            # previous arrival time stands in for it.
            received_at = line.ts if line.ts is not None else last_ts
            last_ts = received_at
            for result in decode_line(line, device_type_of, received_at):
                yield Decoded(number, line.topic, result)
