"""The outbox's vocabulary: a delivery to write, its states, and a message as a channel
sees it. Pure values shared by the alert stage and its storage."""

from __future__ import annotations

import enum
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import Any

from core.contacts import ChannelKind, Language, QuietHours, Role
from core.kinds import Severity


class Purpose(enum.StrEnum):
    """Why a message is sent."""

    ALERT = "alert"
    CHECKIN = "checkin"  # the voice call to the resident
    DIGEST = "digest"
    NOTE = "note"  # a line for a digest that is not an alert (the resident said "fine")
    CALL = "call"  # the escalation call to an advisor on duty, answered with a key press


class DeliveryStatus(enum.StrEnum):
    """Where a delivery is (see the alert_deliveries table)."""

    PENDING = "pending"
    SENDING = "sending"
    SENT = "sent"
    FAILED = "failed"
    DIGESTED = "digested"
    CANCELLED = "cancelled"


HELD_QUIET_HOURS = "quiet_hours"
HELD_RATE_LIMIT = "rate_limit"
HELD_FOR_DIGEST = "digest_step"


@dataclass(frozen=True, slots=True)
class Rendered:
    """A message in one language: subject, plain text, HTML, and a one-line summary."""

    subject: str
    text: str
    html: str
    summary: str  # one line, for digests


@dataclass(frozen=True, slots=True)
class OutboxMessage:
    """One delivery to write: who, on which channel, what, and when it may go."""

    alert_id: int | None
    home_id: str
    purpose: Purpose
    severity: Severity
    channel: ChannelKind
    address: str
    recipient_role: Role
    recipient_ref: str
    language: Language
    timezone: str
    quiet_hours: QuietHours | None
    rendered: Rendered
    status: DeliveryStatus
    next_attempt_at: datetime
    created_at: datetime
    max_attempts: int
    held_reason: str | None = None
    payload: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.status not in (DeliveryStatus.PENDING, DeliveryStatus.DIGESTED):
            raise ValueError("a new delivery is pending or digested")

    @property
    def rate_limited(self) -> bool:
        """True when the per-recipient hourly limit applies to this message."""
        return self.status is DeliveryStatus.PENDING and self.purpose is Purpose.ALERT

    def into_digest(self, reason: str) -> OutboxMessage:
        """The same message, to go out in the recipient's next digest instead."""
        return replace(self, status=DeliveryStatus.DIGESTED, held_reason=reason)


@dataclass(frozen=True, slots=True)
class DigestLine:
    """A message held for a digest, as the digest needs it."""

    delivery_id: int
    home_id: str
    summary: str
    created_at: datetime


@dataclass(frozen=True, slots=True)
class Delivery:
    """One message to send now, as a channel sees it."""

    id: int
    idempotency_key: str
    channel: ChannelKind
    address: str
    language: Language
    subject: str
    text: str
    html: str | None
    attempt: int  # 1 for the first try
    alert_id: int | None = None
    home_id: str = ""
    payload: Mapping[str, Any] = field(default_factory=dict)
