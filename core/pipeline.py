"""What ingest tells the stages after it: each committed batch, and the pipeline's health.

The pipeline's health is known from positive evidence (DESIGN.md, Time): every ingest
worker publishes a heartbeat through the broker on a schedule and subscribes to its own;
a heartbeat that came back and was committed proves that broker → ingest → storage
delivered up to the moment it was sent. Quiet devices prove nothing either way.
"""

from __future__ import annotations

import enum
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime

from core.readings import Reading

HEARTBEAT_TOPIC_PREFIX = "eldercare/v1/ingest/"
HEARTBEAT_TOPIC_SUFFIX = "/heartbeat"
# A worker's name is its MQTT client id; the same characters as a device id.
WORKER_ID_PATTERN = re.compile(r"[A-Za-z0-9_-]{1,64}")


def heartbeat_topic(worker: str) -> str:
    """The topic an ingest worker publishes its heartbeats on (and subscribes to)."""
    if not WORKER_ID_PATTERN.fullmatch(worker):
        raise ValueError(f"ingest worker id {worker!r} must match [A-Za-z0-9_-]{{1,64}}")
    return f"{HEARTBEAT_TOPIC_PREFIX}{worker}{HEARTBEAT_TOPIC_SUFFIX}"


def heartbeat_worker(topic: str) -> str | None:
    """The worker of a heartbeat topic, or None if `topic` is not one."""
    if not (topic.startswith(HEARTBEAT_TOPIC_PREFIX) and topic.endswith(HEARTBEAT_TOPIC_SUFFIX)):
        return None
    worker = topic[len(HEARTBEAT_TOPIC_PREFIX) : -len(HEARTBEAT_TOPIC_SUFFIX)]
    return worker if WORKER_ID_PATTERN.fullmatch(worker) else None


@dataclass(frozen=True, slots=True)
class Heartbeat:
    """An ingest worker's heartbeat that came back through the broker and was committed.

    `sent_at` is on the pipeline's clock (the same clock the detectors are given: the
    wall clock live, the simulated one in a demo or replay); `received_at` is when it came
    back to the worker.
    """

    worker: str
    seq: int
    sent_at: datetime
    received_at: datetime

    def __post_init__(self) -> None:
        if not WORKER_ID_PATTERN.fullmatch(self.worker):
            raise ValueError(f"bad ingest worker id {self.worker!r}")
        if self.sent_at.tzinfo is None or self.received_at.tzinfo is None:
            raise ValueError("heartbeat times must be timezone-aware")
        if self.seq < 0:
            raise ValueError("heartbeat seq must be non-negative")

    @property
    def round_trip_s(self) -> float:
        """Seconds from publishing to receiving it back."""
        return (self.received_at - self.sent_at).total_seconds()


class PipelineProblem(enum.StrEnum):
    """Why the pipeline is known not to be delivering."""

    HEARTBEAT_MISSING = "heartbeat_missing"
    BROKER_DISCONNECTED = "broker_disconnected"
    COMMITS_FAILING = "commits_failing"


@dataclass(frozen=True, slots=True)
class PipelineStatus:
    """A change in what an ingest worker knows of its own pipeline: `problem` None means
    delivering again. Sent on transitions only, at `at` on the pipeline's clock."""

    worker: str
    at: datetime
    problem: PipelineProblem | None

    def __post_init__(self) -> None:
        if self.at.tzinfo is None:
            raise ValueError("status time must be timezone-aware")


@dataclass(frozen=True, slots=True)
class CommittedBatch:
    """One batch ingest has committed, as the stages after it see it.

    `readings`: every reading of the batch that is stored (a redelivered duplicate
    included: the detectors drop what they have seen), each device's in arrival order;
    downstream orders them by (ts, seq). `rejected`: per device id named by a valid
    topic, how many of its messages (or batched-upload elements) became dead letters.
    `heartbeats`: ingest heartbeats that came back in this batch.
    """

    readings: Sequence[Reading]
    committed_at: datetime
    rejected: Mapping[str, int] = field(default_factory=dict)
    heartbeats: Sequence[Heartbeat] = ()

    def __post_init__(self) -> None:
        if self.committed_at.tzinfo is None:
            raise ValueError("committed_at must be timezone-aware")
