"""Turning a batch of raw messages into rows to store, dead letters and the heartbeats
that came back (pure code)."""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from core.pipeline import Heartbeat
from core.readings import DEVICE_ID_PATTERN, Reading
from ingest.mqtt_client import InboundMessage
from ingest.wire import (
    DEFAULT_MAX_AGE,
    MAX_BATCHED_PAYLOAD_BYTES,
    TOPIC_PREFIX,
    Rejection,
    Topic,
    decode_heartbeat,
    decode_payload,
    parse_topic,
)
from storage.dead_letters import DeadLetter, reason_kind
from storage.ingest_writes import reading_record
from storage.registry import DeviceInfo

# A device's data may start this long before its registration (installed, then entered
# into the registry the next morning); older readings are `stale_timestamp` (issue 11).
BEFORE_REGISTRATION = timedelta(days=1)


@dataclass(slots=True)
class DecodedBatch:
    """A batch split into accepted readings and rejected messages.

    `rejected` counts dead letters per device id named by a valid topic (what the stages
    after ingest see in CommittedBatch.rejected); `reasons` counts them by kind.
    """

    readings: list[Reading] = field(default_factory=list)
    sources: list[InboundMessage] = field(default_factory=list)  # the message of each reading
    rows: list[tuple[object, ...]] = field(default_factory=list)
    dead_letters: list[DeadLetter] = field(default_factory=list)
    reasons: Counter[str] = field(default_factory=Counter)
    rejected: Counter[str] = field(default_factory=Counter)


def topics_of(messages: Sequence[InboundMessage]) -> list[Topic | Rejection]:
    """Each message's parsed topic, or its rejection."""
    return [parse_topic(m.topic) for m in messages]


def arrival(message: InboundMessage, clock_offset_s: float) -> datetime:
    """When a message arrived, on the pipeline's clock: its wall-clock arrival moved by
    the clock's offset from the wall clock (zero live; the demo's clock runs ahead)."""
    return datetime.fromtimestamp(message.received_at_s + clock_offset_s, UTC)


def dead_letter_device(message_topic: str, topic: Topic | Rejection) -> str | None:
    """The device a message's topic names, for counting its dead letters: a valid topic's
    device, or the device part of an otherwise bad one; None when it names none."""
    if isinstance(topic, Topic):
        return topic.device_id
    if message_topic.startswith(TOPIC_PREFIX):
        candidate = message_topic[len(TOPIC_PREFIX) :].partition("/")[0]
        if DEVICE_ID_PATTERN.fullmatch(candidate):
            return candidate
    return None


def split_heartbeats(
    messages: Sequence[InboundMessage], heartbeat_topic: str, clock_offset_s: float
) -> tuple[list[InboundMessage], list[tuple[InboundMessage, Heartbeat]]]:
    """Device messages, and this worker's heartbeats that came back. A heartbeat that
    does not decode stays with the device messages (and becomes a dead letter)."""
    devices: list[InboundMessage] = []
    beats: list[tuple[InboundMessage, Heartbeat]] = []
    for message in messages:
        if message.topic == heartbeat_topic:
            beat = decode_heartbeat(
                message.topic, message.payload, arrival(message, clock_offset_s)
            )
            if beat is not None:
                beats.append((message, beat))
                continue
        devices.append(message)
    return devices, beats


def decode_messages(
    messages: Sequence[InboundMessage],
    topics: Sequence[Topic | Rejection],
    devices: Mapping[str, DeviceInfo],
    max_future: timedelta,
    max_age: timedelta = DEFAULT_MAX_AGE,
    clock_offset_s: float = 0.0,
) -> DecodedBatch:
    """Validate every message against the wire contract and the registry."""
    out = DecodedBatch()
    for message, topic in zip(messages, topics, strict=True):
        received_at = arrival(message, clock_offset_s)
        results: list[Reading | Rejection]
        info = None
        if len(message.payload) > MAX_BATCHED_PAYLOAD_BYTES:
            results = [Rejection("oversize")]
        elif isinstance(topic, Rejection):
            results = [topic]
        else:
            info = devices.get(topic.device_id)
            if info is None:
                results = decode_payload(topic, message.payload, None, received_at, max_future)
            else:
                results = decode_payload(
                    topic, message.payload, info.device_type, received_at, max_future, max_age,
                    info.installed_at - BEFORE_REGISTRATION,
                )  # fmt: skip
        for result in results:
            if isinstance(result, Rejection):
                # A batched upload's bad element is kept as itself, not the whole upload.
                payload = message.payload if result.element is None else result.element
                device_id = dead_letter_device(message.topic, topic)
                out.dead_letters.append(
                    DeadLetter(message.topic, payload, result.reason, received_at, device_id)
                )
                out.reasons[reason_kind(result.reason)] += 1
                if isinstance(topic, Topic):
                    out.rejected[topic.device_id] += 1
            else:
                assert info is not None
                out.readings.append(result)
                out.sources.append(message)
                out.rows.append(reading_record(result, info.home_id))
    return out
