"""Outbox values and decisions: the message rows to write, and when to retry. Pure.

A decision to notify becomes OutboxMessage values; `alerts.notify` writes them in the
same transaction as the alert change that made the decision.
"""

from __future__ import annotations

import enum
import random
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import Any

from alerts import templates
from alerts.escalation import FiredStep
from alerts.model import Alert
from alerts.routing import ChannelKind, HomeRouting, Language, QuietHours, Recipient, Role
from alerts.routing import recipients as recipients_for
from alerts.throttle import quiet_hold_until
from core.kinds import Severity


class Purpose(enum.StrEnum):
    """Why a message is sent."""

    ALERT = "alert"
    CHECKIN = "checkin"  # the voice call to the resident
    DIGEST = "digest"
    NOTE = "note"  # a line for a digest that is not an alert (the resident said "fine")


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
class RetryPolicy:
    """Exponential backoff between attempts, and when to give up.

    Five attempts over about a quarter of an hour: a gateway blip is ridden out, while a
    gateway that is down turns into a visible `delivery_failed` alert while the alert
    it was carrying is still fresh.
    """

    max_attempts: int = 5
    base_delay_s: float = 30.0
    cap_delay_s: float = 30 * 60.0
    jitter: float = 0.1  # up to this fraction added, so retries of a burst spread out

    def __post_init__(self) -> None:
        if self.max_attempts < 1 or not 0 < self.base_delay_s <= self.cap_delay_s:
            raise ValueError("need max_attempts >= 1 and 0 < base_delay_s <= cap_delay_s")
        if not 0 <= self.jitter <= 1:
            raise ValueError("jitter must be between 0 and 1")

    def delay_s(self, attempts_made: int, rng: random.Random | None = None) -> float:
        """Seconds to wait after the `attempts_made`-th failed attempt."""
        bound = min(self.cap_delay_s, self.base_delay_s * 2 ** max(attempts_made - 1, 0))
        spread = (rng or random).uniform(0, self.jitter) if self.jitter else 0.0
        return bound * (1 + spread)


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
    rendered: templates.Rendered
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


def plan_alert_messages(
    alert: Alert,
    routing: HomeRouting,
    fired: Sequence[FiredStep],
    now: datetime,
    max_attempts: int,
) -> list[OutboxMessage]:
    """The messages for the steps just fired, each address once, quiet hours applied."""
    out: list[OutboxMessage] = []
    seen: set[tuple[ChannelKind, str]] = set()
    for step in fired:
        for recipient in recipients_for(routing, step.step.roles):
            key = (recipient.endpoint.channel, recipient.endpoint.address)
            if key in seen:
                continue
            seen.add(key)
            out.append(_message(alert, routing, step, recipient, now, max_attempts))
    return out


def _message(
    alert: Alert,
    routing: HomeRouting,
    fired: FiredStep,
    recipient: Recipient,
    now: datetime,
    max_attempts: int,
) -> OutboxMessage:
    contact, endpoint = recipient.contact, recipient.endpoint
    language = contact.language
    label = templates.home_label(routing.home_id, routing.address, language)
    rendered = templates.render_alert(
        alert, label, routing.timezone, contact.role, language, fired.index, fired.resumed
    )
    purpose, payload = Purpose.ALERT, {}
    if endpoint.channel is ChannelKind.VOICE:
        purpose = Purpose.CHECKIN
        payload = {"script": templates.checkin_script(language)}
    status, held, due = DeliveryStatus.PENDING, None, now
    if fired.step.digest and purpose is Purpose.ALERT:
        status, held = DeliveryStatus.DIGESTED, HELD_FOR_DIGEST
    else:
        hold = quiet_hold_until(
            contact.role, contact.quiet_hours, alert.severity, now, routing.timezone
        )
        if hold is not None:
            held, due = HELD_QUIET_HOURS, hold
    return OutboxMessage(
        alert_id=alert.id,
        home_id=alert.home_id,
        purpose=purpose,
        severity=alert.severity,
        channel=endpoint.channel,
        address=endpoint.address,
        recipient_role=contact.role,
        recipient_ref=contact.person_ref,
        language=language,
        timezone=routing.timezone,
        quiet_hours=contact.quiet_hours,
        rendered=rendered,
        status=status,
        next_attempt_at=due,
        created_at=now,
        max_attempts=max_attempts,
        held_reason=held,
        payload=payload,
    )


def plan_notes(
    alert: Alert,
    routing: HomeRouting,
    roles: Iterable[Role],
    now: datetime,
    max_attempts: int,
) -> list[OutboxMessage]:
    """ "The resident answered fine" lines for the next digest of the given roles."""
    out = []
    for recipient in recipients_for(routing, roles):
        contact = recipient.contact
        label = templates.home_label(routing.home_id, routing.address, contact.language)
        rendered = templates.render_checkin_fine(alert, label, routing.timezone, contact.language)
        out.append(
            OutboxMessage(
                alert_id=alert.id,
                home_id=alert.home_id,
                purpose=Purpose.NOTE,
                severity=alert.severity,
                channel=recipient.endpoint.channel,
                address=recipient.endpoint.address,
                recipient_role=contact.role,
                recipient_ref=contact.person_ref,
                language=contact.language,
                timezone=routing.timezone,
                quiet_hours=contact.quiet_hours,
                rendered=rendered,
                status=DeliveryStatus.DIGESTED,
                next_attempt_at=now,
                created_at=now,
                max_attempts=max_attempts,
                held_reason=HELD_FOR_DIGEST,
            )
        )
    return out


@dataclass(frozen=True, slots=True)
class DigestLine:
    """A message held for a digest, as the digest needs it."""

    delivery_id: int
    home_id: str
    summary: str
    created_at: datetime


def plan_digest(
    lines: Sequence[DigestLine],
    channel: ChannelKind,
    address: str,
    role: Role,
    recipient_ref: str,
    language: Language,
    timezone: str,
    quiet_hours: QuietHours | None,
    now: datetime,
    max_attempts: int,
) -> OutboxMessage:
    """One digest message for a recipient's held lines (quiet hours still apply)."""
    if not lines:
        raise ValueError("a digest needs at least one line")
    homes = {line.home_id for line in lines}
    rendered = templates.render_digest([line.summary for line in lines], language)
    hold = quiet_hold_until(role, quiet_hours, Severity.LOW, now, timezone)
    return OutboxMessage(
        alert_id=None,
        home_id=homes.pop() if len(homes) == 1 else "*",
        purpose=Purpose.DIGEST,
        severity=Severity.LOW,
        channel=channel,
        address=address,
        recipient_role=role,
        recipient_ref=recipient_ref,
        language=language,
        timezone=timezone,
        quiet_hours=quiet_hours,
        rendered=rendered,
        status=DeliveryStatus.PENDING,
        next_attempt_at=hold or now,
        created_at=now,
        max_attempts=max_attempts,
        held_reason=HELD_QUIET_HOURS if hold else None,
    )
