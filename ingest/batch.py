"""Turning a batch of raw messages into rows to store and dead letters (pure code)."""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from core.readings import Reading
from ingest.mqtt_client import InboundMessage
from ingest.wire import MAX_PAYLOAD_BYTES, Rejection, Topic, decode_payload, parse_topic
from storage.ingest_writes import DeadLetter, reading_record
from storage.registry import DeviceInfo


@dataclass(slots=True)
class DecodedBatch:
    """A batch split into accepted readings and rejected messages."""

    readings: list[Reading] = field(default_factory=list)
    sources: list[InboundMessage] = field(default_factory=list)  # the message of each reading
    rows: list[tuple[object, ...]] = field(default_factory=list)
    dead_letters: list[DeadLetter] = field(default_factory=list)
    reasons: Counter[str] = field(default_factory=Counter)


def topics_of(messages: Sequence[InboundMessage]) -> list[Topic | Rejection]:
    """Each message's parsed topic, or its rejection."""
    return [parse_topic(m.topic) for m in messages]


def decode_messages(
    messages: Sequence[InboundMessage],
    topics: Sequence[Topic | Rejection],
    devices: Mapping[str, DeviceInfo],
    max_future: timedelta,
) -> DecodedBatch:
    """Validate every message against the wire contract and the registry."""
    out = DecodedBatch()
    for message, topic in zip(messages, topics, strict=True):
        received_at = datetime.fromtimestamp(message.received_at_s, UTC)
        result: Reading | Rejection
        info = None
        if len(message.payload) > MAX_PAYLOAD_BYTES:
            result = Rejection("oversize")
        elif isinstance(topic, Rejection):
            result = topic
        else:
            info = devices.get(topic.device_id)
            device_type = info.device_type if info else None
            result = decode_payload(topic, message.payload, device_type, received_at, max_future)
        if isinstance(result, Rejection):
            out.dead_letters.append(
                DeadLetter(message.topic, message.payload, result.reason, received_at)
            )
            # Count by the reason's kind (`schema`, not `schema: ts missing`) for metrics.
            out.reasons[result.reason.split(":", 1)[0]] += 1
        else:
            assert info is not None
            out.readings.append(result)
            out.sources.append(message)
            out.rows.append(reading_record(result, info.home_id))
    return out
