"""Reading a recording (JSON Lines of MQTT messages) back into wire-decoded readings.

Each line is decoded by the real wire decoder, with the payload's own `ts` as the
arrival time, exactly as ingest would have seen it had it arrived on time.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

from core.readings import DeviceType, Reading
from ingest.wire import TOPIC_PREFIX, Rejection, decode, encode_payload

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
# The layout recorders write: {"topic":"...","payload":{"ts":"...",...}}. Slicing it
# hands the decoder the payload's own bytes without a second JSON round trip; any other
# layout (spaces, other key order) takes the general path through json.loads.
_HEAD = b'{"topic":"'
_PAYLOAD_KEY = b',"payload":'
_TS_HEAD = b'{"ts":"'
_DEVICE_AT = len(_HEAD) + len(TOPIC_PREFIX)


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
) -> Reading | Rejection:
    """The wire decoder's verdict on one line (arrival time = `received_at`)."""
    result = decode(line.topic, line.payload, device_type_of, received_at)
    if line.fast and isinstance(result, Rejection) and result.reason == "bad_json":
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
            yield Decoded(number, line.topic, decode_line(line, device_type_of, received_at))
