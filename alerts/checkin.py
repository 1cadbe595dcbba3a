"""The resident's answer to the check-in call. Pure.

"fine" resolves an open alert as resident_ok (critical ones wait for a person: a smoke
alarm is not over because someone picked up the phone). "help" or no answer escalates at
once. Answers that come after people are already on it are recorded, nothing more.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass
from datetime import datetime

from alerts import escalation, lifecycle
from core.alerts import Action, Alert, AlertState, Change, HistoryEntry, Outcome
from core.kinds import Severity
from core.policy import EscalationPolicy

CHECKIN_ACTOR = "resident_checkin"


class CheckinResult(enum.StrEnum):
    """What the voice gateway reports about a check-in call."""

    FINE = "fine"
    HELP = "help"
    NO_ANSWER = "no_answer"


@dataclass(frozen=True, slots=True)
class CheckinOutcome:
    """The alert change an answer makes, and whether it resolved the alert."""

    change: Change
    resolved: bool


def answer(
    alert: Alert,
    result: CheckinResult,
    now: datetime,
    policy: EscalationPolicy,
    call_id: str,
) -> CheckinOutcome:
    """Apply a check-in answer to its alert."""
    entry = HistoryEntry(
        Action.CHECKIN_ANSWERED,
        CHECKIN_ACTOR,
        now,
        alert.state,
        alert.state,
        {"result": result.value, "call_id": call_id},
    )
    if alert.state is not AlertState.OPEN:
        return CheckinOutcome(Change(alert, (entry,)), resolved=False)
    if result is CheckinResult.FINE:
        if alert.severity is Severity.CRITICAL:
            return CheckinOutcome(Change(alert, (entry,)), resolved=False)
        resolved = lifecycle.resolve(
            alert, CHECKIN_ACTOR, now, Outcome.RESIDENT_OK, "answered the check-in call: fine"
        )
        new = escalation.after_command(resolved.alert, policy)
        return CheckinOutcome(Change(new, (entry, *resolved.history)), resolved=True)
    forward = escalation.bring_forward(alert, policy, now)
    return CheckinOutcome(Change(forward, (entry,)), resolved=False)
