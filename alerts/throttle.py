"""Quiet hours and the per-recipient rate limit. Pure decisions.

Family members' quiet hours hold back every message but critical ones until the window
ends. No recipient gets more than `max_per_hour` messages an hour about one home; the
rest go into their next digest. Critical messages pass both: a smoke alarm held until
morning, or folded into a digest, would be a message nobody received in time.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from core.contacts import QuietHours, Role
from core.kinds import Severity

RATE_WINDOW_S = 3600
# Enough for a high alert's whole escalation plus a repeat; past that, more texts about
# one home in an hour stop informing and start being ignored.
DEFAULT_MAX_MESSAGES_PER_HOUR = 5


@dataclass(frozen=True, slots=True)
class ThrottleConfig:
    """The rate limit."""

    max_per_hour: int = DEFAULT_MAX_MESSAGES_PER_HOUR

    def __post_init__(self) -> None:
        if self.max_per_hour < 1:
            raise ValueError("max_per_hour must be at least 1")


def quiet_hold_until(
    role: Role,
    quiet_hours: QuietHours | None,
    severity: Severity,
    now: datetime,
    timezone: str,
) -> datetime | None:
    """Until when a message must wait for the recipient's quiet hours to end, or None."""
    if severity is Severity.CRITICAL or role is not Role.FAMILY or quiet_hours is None:
        return None
    return quiet_hours.ends_after(now, timezone)


def over_rate_limit(sent_in_window: int, severity: Severity, config: ThrottleConfig) -> bool:
    """True when one more message to this recipient about this home is one too many."""
    return severity is not Severity.CRITICAL and sent_in_window >= config.max_per_hour
