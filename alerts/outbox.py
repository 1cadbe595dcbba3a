"""Outbox values and decisions: the message rows to write, and when to retry. Pure.

A decision to notify becomes OutboxMessage values; `alerts.notify` writes them in the
same transaction as the alert change that made the decision.
"""

from __future__ import annotations

import dataclasses
import random
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime

from alerts import replies, templates
from alerts.escalation import FiredStep
from alerts.routing import recipients as recipients_for
from alerts.throttle import quiet_hold_until
from core.alerts import Alert
from core.contacts import ChannelKind, HomeRouting, Language, QuietHours, Recipient, Role
from core.kinds import Severity
from core.outbox import (
    HELD_FOR_DIGEST,
    HELD_QUIET_HOURS,
    DeliveryStatus,
    DigestLine,
    OutboxMessage,
    Purpose,
)

# Who is told how to act by replying to an alert SMS (family are not: they may not act).
REPLYING_ROLES = frozenset({Role.PRIMARY_ADVISOR, Role.BACKUP_ADVISOR, Role.SUPERVISOR})


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
    if endpoint.channel is ChannelKind.SMS and contact.role in REPLYING_ROLES:
        # Staff may act by replying (alerts/replies.py); say how, in their language.
        rendered = dataclasses.replace(rendered, text=f"{rendered.text}\n{replies.HELP[language]}")
    if endpoint.channel is ChannelKind.VOICE and contact.role is Role.RESIDENT:
        purpose = Purpose.CHECKIN
        payload = {"script": templates.checkin_script(language)}
    elif endpoint.channel is ChannelKind.VOICE:  # an advisor on duty: press 1 or 3
        purpose = Purpose.CALL
        what = templates.phrase(alert, language)
        payload = {"script": replies.call_script(alert.id, label, what, language)}
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
