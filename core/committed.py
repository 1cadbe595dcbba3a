"""The committed-readings log past one machine (pure code): which partition a home is in,
which partitions a detector worker owns, and a committed batch's share of one partition
as bytes on the wire and back.

Ingest publishes each committed batch split by partition (a home's readings always in the
same one, so one detector worker sees a whole home, in order); every partition also gets
the batch's heartbeats, since each detector worker judges the pipeline's health itself.
A batch redelivered after a crash is published again: the detectors drop what they have
seen (as they do for a redelivered duplicate in one process).
"""

from __future__ import annotations

import json
import zlib
from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

from core.pipeline import CommittedBatch, Heartbeat
from core.readings import Channel, DeviceType, Reading

COMMITTED_SUBJECT_PREFIX = "eldercare.v1.committed."
COMMITTED_FORMAT = 1
_TIMES = ("ts", "received_at")
_FIELDS = tuple(Reading.__dataclass_fields__)


def partition_of(home_id: str, partitions: int) -> int:
    """The partition of a home: a stable hash (the same on every machine and run)."""
    if partitions <= 0:
        raise ValueError("partitions must be positive")
    return zlib.crc32(home_id.encode()) % partitions


def owned_partitions(index: int, count: int, partitions: int) -> list[int]:
    """The partitions worker `index` of `count` owns: every count-th one."""
    if not 0 <= index < count:
        raise ValueError(f"worker index {index} must be within 0..{count - 1}")
    return list(range(index, partitions, count))


def committed_subject(partition: int) -> str:
    """The subject of one partition of the committed-readings stream."""
    return f"{COMMITTED_SUBJECT_PREFIX}{partition}"


def split_committed(
    batch: CommittedBatch, home_of: Mapping[str, str], partitions: int
) -> dict[int, bytes]:
    """A committed batch as one message per partition that has readings, dead letters or
    (all partitions then) heartbeats. A device without a home in `home_of` has none
    registered and cannot have committed readings, so it is skipped."""
    readings: dict[int, list[Reading]] = {}
    rejected: dict[int, dict[str, int]] = {}
    for reading in batch.readings:
        home = home_of.get(reading.device_id)
        if home is not None:
            readings.setdefault(partition_of(home, partitions), []).append(reading)
    for device, count in batch.rejected.items():
        home = home_of.get(device)
        if home is not None:
            rejected.setdefault(partition_of(home, partitions), {})[device] = count
    targets = range(partitions) if batch.heartbeats else sorted({*readings, *rejected})
    return {
        p: encode_committed(
            CommittedBatch(
                readings.get(p, ()), batch.committed_at, rejected.get(p, {}), batch.heartbeats
            )
        )
        for p in targets
    }


def encode_committed(batch: CommittedBatch) -> bytes:
    """One partition's share of a committed batch, as JSON."""
    body = {
        "v": COMMITTED_FORMAT,
        "committed_at": batch.committed_at.isoformat(),
        "readings": [_reading_list(r) for r in batch.readings],
        "rejected": dict(batch.rejected),
        "heartbeats": [
            [b.worker, b.seq, b.sent_at.isoformat(), b.received_at.isoformat()]
            for b in batch.heartbeats
        ],
    }
    return json.dumps(body, separators=(",", ":")).encode()


def decode_committed(data: bytes) -> CommittedBatch:
    """The inverse of encode_committed; ValueError naming what is wrong otherwise."""
    try:
        body = json.loads(data)
        if body.get("v") != COMMITTED_FORMAT:
            raise ValueError(f"unknown committed format {body.get('v')!r}")
        return CommittedBatch(
            readings=tuple(_reading_of(item) for item in body["readings"]),
            committed_at=datetime.fromisoformat(body["committed_at"]),
            rejected={str(k): int(v) for k, v in body["rejected"].items()},
            heartbeats=tuple(
                Heartbeat(w, int(s), datetime.fromisoformat(a), datetime.fromisoformat(r))
                for w, s, a, r in body["heartbeats"]
            ),
        )
    except (KeyError, TypeError, AttributeError, json.JSONDecodeError) as exc:
        raise ValueError(f"not a committed batch: {exc}") from None


def _reading_list(reading: Reading) -> list[Any]:
    out: list[Any] = []
    for name in _FIELDS:
        value = getattr(reading, name)
        out.append(value.isoformat() if name in _TIMES else value)
    return out


def _reading_of(item: Sequence[Any]) -> Reading:
    if len(item) != len(_FIELDS):
        raise ValueError(f"a reading has {len(_FIELDS)} fields, got {len(item)}")
    values = dict(zip(_FIELDS, item, strict=True))
    for name in _TIMES:
        values[name] = datetime.fromisoformat(values[name])
    values["device_type"] = DeviceType(values["device_type"])
    values["channel"] = Channel(values["channel"])
    return Reading(**values)
