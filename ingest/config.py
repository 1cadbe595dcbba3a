"""How one ingest worker connects, batches and judges, and what it counts as it runs."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from datetime import timedelta

from core.pipeline import WORKER_ID_PATTERN
from core.settings import Settings
from ingest.wire import DEFAULT_MAX_AGE, DEFAULT_MAX_FUTURE, TOPIC_FILTER
from storage.dead_letters import DEFAULT_PER_DEVICE_HOUR

DEFAULT_HEARTBEAT_S = 10.0


@dataclass(frozen=True, slots=True)
class IngestConfig:
    """How one ingest worker connects and batches. `client_id` is its MQTT session and
    names its heartbeat topic."""

    client_id: str
    protocol: str = "3.1.1"
    share_group: str = "ingest"
    batch_size: int = 1000
    flush_interval_s: float = 0.05
    max_inflight: int = 4000
    max_future: timedelta = DEFAULT_MAX_FUTURE
    max_age: timedelta = DEFAULT_MAX_AGE
    writers: int = 2  # batches committing at once (database connections)
    heartbeat_s: float = DEFAULT_HEARTBEAT_S
    dead_letters_per_device_hour: int = DEFAULT_PER_DEVICE_HOUR
    share_supported: bool = True  # False for brokers without $share (the embedded amqtt)

    def __post_init__(self) -> None:
        if not WORKER_ID_PATTERN.fullmatch(self.client_id):
            raise ValueError(
                f"ingest client id {self.client_id!r} must match [A-Za-z0-9_-]{{1,64}}"
            )
        if self.heartbeat_s <= 0 or self.batch_size <= 0 or self.writers <= 0:
            raise ValueError("heartbeat_s, batch_size and writers must be positive")
        if self.max_age <= timedelta(0) or self.dead_letters_per_device_hour <= 0:
            raise ValueError("max_age and dead_letters_per_device_hour must be positive")

    @classmethod
    def from_settings(cls, settings: Settings) -> IngestConfig:
        """The ingest part of the process settings."""
        return cls(
            client_id=settings.ingest_client_id,
            protocol=settings.mqtt_protocol,
            share_group=settings.ingest_share_group,
            batch_size=settings.ingest_batch_size,
            flush_interval_s=settings.ingest_flush_ms / 1000,
            max_inflight=settings.ingest_max_inflight,
            max_age=timedelta(days=settings.ingest_max_age_days),
            heartbeat_s=settings.ingest_heartbeat_s,
            dead_letters_per_device_hour=settings.ingest_dead_letters_per_device_hour,
        )

    @property
    def topic_filter(self) -> str:
        """A shared subscription, so workers split the stream; plain when unsupported."""
        if self.share_group and self.share_supported:
            return f"$share/{self.share_group}/{TOPIC_FILTER}"
        return TOPIC_FILTER


@dataclass
class IngestStats:
    """Running totals of this worker, for logs and metrics."""

    received: int = 0
    stored: int = 0
    duplicates: int = 0
    dead_letters: Counter[str] = field(default_factory=Counter)  # counted, by kind
    dead_letters_kept: int = 0  # of those, stored as rows (within each device's rate)
    batches: int = 0
    unacked: int = 0
    paused: bool = False
    last_commit_s: float | None = None
    write_conflicts: int = 0  # deadlocks and serialization failures, retried
    write_failures: int = 0  # failed attempts while the database was away or refusing
    heartbeats_sent: int = 0
    heartbeats_committed: int = 0
    # Publish → receipt on the wall clock: the latest, and a sum and count for a mean.
    heartbeat_round_trip_s: float | None = None
    heartbeat_round_trip_sum_s: float = 0.0
    heartbeat_round_trips: int = 0
