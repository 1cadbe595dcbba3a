"""What an ingest worker needs of its transport, whichever broker is behind it.

Two implementations: `mqtt_client.ManualAckSubscriber` (Mosquitto or any MQTT broker, one
machine: the default) and `nats_client.JetStreamSubscriber` (a NATS JetStream cluster,
past one machine). Both give the same guarantees: messages are handed over one at a time
to the owner's `on_message`, acknowledged only when the owner says (after the commit),
redelivered when a worker dies or loses its link before acking, and not read at all while
reading is paused (backpressure: the broker holds the rest).
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterable, Mapping
from typing import Protocol

from core.pipeline import CommittedBatch
from ingest.mqtt_client import InboundMessage

__all__ = ["InboundMessage", "Transport"]


class Transport(Protocol):
    """One ingest worker's link to the broker."""

    # Subscriptions the broker refused on the last attempt (its ACL); () when none.
    refused_filters: tuple[str, ...]

    async def run(self, ready: asyncio.Event | None = None) -> None:
        """Connect, keep reconnecting, deliver messages until cancelled; `ready` is set on
        every (re)connection."""

    def ack(self, messages: Iterable[InboundMessage]) -> int:
        """Acknowledge committed messages of the current connection; returns how many."""

    def publish(self, topic: str, payload: bytes) -> bool:
        """Publish the worker's heartbeat on its own topic; False while not connected."""

    def pause_reading(self) -> None:
        """Stop taking messages from the broker."""

    def resume_reading(self) -> None:
        """Take messages again after pause_reading."""

    async def forward(self, batch: CommittedBatch, home_of: Mapping[str, str]) -> None:
        """Hand a committed batch on to the detectors before its messages are acked: a
        no-op where the detectors share the process (MQTT), the partitioned log on NATS."""
