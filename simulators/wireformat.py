"""Simulator events as wire-contract v1 messages: payload dicts, and a fast JSON Lines path.

`payload()` builds the dict a device would publish; `line()` writes the same message as a
recording line straight from the tuple, without building a dict or calling `json.dumps`,
which makes the record mode several times faster. The two must agree byte for byte with
`ingest.wire.encode_payload`; the tests check that on every line of a recording.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from core.pipeline import heartbeat_topic
from ingest.wire import topic_for
from simulators.events import (
    HEARTBEAT,
    INGEST_HEARTBEAT,
    METER,
    METER_BATCH,
    MOTION,
    OFFLINE,
    ONLINE,
    ONLINE_REBOOT,
    SMOKE_ALARM,
    SMOKE_TEST,
    STATUS_KINDS,
    Event,
)
from simulators.layout import DEVICE_COUNT, device_firmware, device_id, device_room
from simulators.meter import NO_FLOW
from simulators.pipeline import WORKER_ID

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_FIRMWARE = tuple(device_firmware(n) for n in range(DEVICE_COUNT))
_ROOMS = tuple(device_room(n) for n in range(DEVICE_COUNT))  # a PIR's `room`
_HEARTBEAT_TOPIC = heartbeat_topic(WORKER_ID)
_HEARTBEAT_HEAD = f'{{"topic":"{_HEARTBEAT_TOPIC}","payload":{{"ts":"'


class WireEncoder:
    """Turns the events of a set of homes into topics, payloads and recording lines.

    Holds per-device topic strings and caches of timestamp prefixes: not thread-safe,
    so each consumer (writer, cursor) should keep to one thread.
    """

    __slots__ = ("_day_prefix", "_line_heads", "_minute", "_minute_prefix", "_topics")

    def __init__(self, home_ids: tuple[str, ...]) -> None:
        self._topics: list[tuple[str, str]] = []  # per (home, device): (telemetry, status)
        self._line_heads: list[tuple[str, str]] = []
        for home_id in home_ids:
            for device in range(DEVICE_COUNT):
                ident = device_id(home_id, device)
                topics = (topic_for(ident, "telemetry"), topic_for(ident, "status"))
                self._topics.append(topics)
                self._line_heads.append(
                    (
                        f'{{"topic":"{topics[0]}","payload":{{"ts":"',
                        f'{{"topic":"{topics[1]}","payload":{{"ts":"',
                    )
                )
        self._day_prefix: dict[int, str] = {}
        self._minute = -1
        self._minute_prefix = ""

    def topic(self, event: Event) -> str:
        """The MQTT topic of an event."""
        if event[4] == INGEST_HEARTBEAT:
            return _HEARTBEAT_TOPIC
        telemetry, status = self._topics[event[1] * DEVICE_COUNT + event[2]]
        return status if event[4] in STATUS_KINDS else telemetry

    def ts_text(self, ms: int) -> str:
        """RFC 3339 UTC with milliseconds, identical to `ingest.wire.format_ts`."""
        minute, rest = divmod(ms, 60_000)
        # Recordings come in time order, so the minute rarely changes between calls.
        if minute != self._minute:
            self._minute = minute
            self._minute_prefix = self._format_minute(minute)
        second, millis = divmod(rest, 1000)
        return f"{self._minute_prefix}{second:02d}.{millis:03d}Z"

    def _format_minute(self, minute: int) -> str:
        day, minute_of_day = divmod(minute, 1440)
        prefix = self._day_prefix.get(day)
        if prefix is None:
            prefix = (_EPOCH + timedelta(days=day)).strftime("%Y-%m-%dT")
            self._day_prefix[day] = prefix
        hour, minute_of_hour = divmod(minute_of_day, 60)
        return f"{prefix}{hour:02d}:{minute_of_hour:02d}:"

    def payload(self, event: Event) -> dict[str, Any]:
        """The payload object of an event, keys in wire order."""
        ts, _, device, seq, kind, a, b = event
        fields: dict[str, Any] = {"ts": self.ts_text(ts), "seq": seq}
        if kind == MOTION:
            fields.update(motion=True, room=_ROOMS[device])
        elif kind == METER:
            fields.update(volume_l=a / 10)
            if b != NO_FLOW:
                fields.update(flow_lpm=b / 1000)
        elif kind == METER_BATCH:
            fields["readings"] = [
                {"ts": self.ts_text(at), "seq": n, "volume_l": index / 10} for at, n, index in b
            ]
        elif kind == INGEST_HEARTBEAT:
            pass
        elif kind == HEARTBEAT:
            fields.update(online=True, battery_pct=a, rssi_dbm=b)
        elif kind == SMOKE_ALARM:
            fields.update(alarm=bool(a), battery_pct=b)
        elif kind == SMOKE_TEST:
            fields.update(test=True, battery_pct=a)
        elif kind == OFFLINE:
            fields.update(online=False)
        elif kind in (ONLINE, ONLINE_REBOOT):
            fields.update(online=True, battery_pct=a, rssi_dbm=b, fw=_FIRMWARE[device])
        else:
            raise ValueError(f"unknown event kind {kind}")
        return fields

    def payload_bytes(self, event: Event) -> bytes:
        """The payload as it goes on the wire (same bytes as `encode_payload(payload(e))`)."""
        line = self.line(event)
        start = line.index('"payload":') + len('"payload":')
        return line[start:-2].encode()

    def line(self, event: Event) -> str:
        """The recording line of an event, newline included (the fast path)."""
        ts, home, device, seq, kind, a, b = event
        if home < 0:  # the ingest worker's heartbeat
            return f'{_HEARTBEAT_HEAD}{self.ts_text(ts)}","seq":{seq}}}}}\n'
        telemetry_head, status_head = self._line_heads[home * DEVICE_COUNT + device]
        topic_head = status_head if kind in STATUS_KINDS else telemetry_head
        head = f'{topic_head}{self.ts_text(ts)}","seq":{seq}'
        if kind == MOTION:
            return f'{head},"motion":true,"room":"{_ROOMS[device]}"}}}}\n'
        if kind == METER:
            if b == NO_FLOW:
                return f'{head},"volume_l":{a / 10!r}}}}}\n'
            return f'{head},"volume_l":{a / 10!r},"flow_lpm":{b / 1000!r}}}}}\n'
        if kind == METER_BATCH:
            reads = ",".join(
                f'{{"ts":"{self.ts_text(at)}","seq":{n},"volume_l":{index / 10!r}}}'
                for at, n, index in b
            )
            return f'{head},"readings":[{reads}]}}}}\n'
        if kind == HEARTBEAT:
            return f'{head},"online":true,"battery_pct":{a},"rssi_dbm":{b}}}}}\n'
        if kind == SMOKE_ALARM:
            return f'{head},"alarm":{"true" if a else "false"},"battery_pct":{b}}}}}\n'
        if kind == SMOKE_TEST:
            return f'{head},"test":true,"battery_pct":{a}}}}}\n'
        if kind == OFFLINE:
            return f'{head},"online":false}}}}\n'
        if kind in (ONLINE, ONLINE_REBOOT):
            fw = _FIRMWARE[device]
            return f'{head},"online":true,"battery_pct":{a},"rssi_dbm":{b},"fw":"{fw}"}}}}\n'
        raise ValueError(f"unknown event kind {kind}")
