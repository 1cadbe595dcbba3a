"""From findings to alerts: dedup, reopen, self-clearing. Pure decisions, no I/O.

One active alert per (home, kind): a repeat finding updates it. A finding that recurs
within the reopen window after its alert was resolved opens a new alert linked to the
earlier one. A clearing finding resolves low and medium alerts by itself; critical and
high alerts wait for a person, and the clear is only noted. A withdrawn finding (late
data contradicts it) resolves its alert whatever the severity and stops its escalation.
"""

from __future__ import annotations

import dataclasses
import enum
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from types import MappingProxyType

from alerts import lifecycle
from core.alerts import SYSTEM_ACTOR, Action, Alert, Change, HistoryEntry, NewAlert, Outcome
from core.kinds import Severity
from detectors.findings import Finding

# A condition back within this long of its resolution is the same trouble returning:
# long enough to span a night, short enough that yesterday's leak is not today's.
DEFAULT_REOPEN_WINDOW_S = 6 * 3600

# Severity by kind; a kind not listed keeps the severity its detector gave it.
DEFAULT_KIND_SEVERITY: Mapping[str, Severity] = MappingProxyType(
    {
        "smoke_alarm": Severity.CRITICAL,
        "motion_inactivity": Severity.HIGH,
        "water_inactivity": Severity.HIGH,
        "no_morning_activity": Severity.HIGH,
        "prolonged_bathroom": Severity.HIGH,
        "no_activity_after_away": Severity.HIGH,
        "leak_continuous_flow": Severity.MEDIUM,
        "high_daily_use": Severity.MEDIUM,
        "battery_low": Severity.LOW,
        "delivery_failed": Severity.HIGH,
    }
)

# Only these resolve by themselves when their condition clears; more urgent alerts
# need a person to say what happened, even if the device says it is over.
SELF_CLEARING = frozenset({Severity.MEDIUM, Severity.LOW, Severity.INFO})


@dataclass(frozen=True, slots=True)
class IntakeConfig:
    """How findings become alerts."""

    reopen_window_s: float = DEFAULT_REOPEN_WINDOW_S
    kind_severity: Mapping[str, Severity] = field(default_factory=lambda: DEFAULT_KIND_SEVERITY)

    def __post_init__(self) -> None:
        if self.reopen_window_s < 0:
            raise ValueError("reopen_window_s must not be negative")

    def severity_for(self, finding: Finding) -> Severity:
        """The alert severity for a finding: the kind's default, else the detector's."""
        return self.kind_severity.get(finding.kind, finding.severity)


class Verdict(enum.StrEnum):
    """What a finding did."""

    OPENED = "opened"
    REOPENED = "reopened"
    REPEATED = "repeated"
    AUTO_RESOLVED = "auto_resolved"
    CLEAR_NOTED = "clear_noted"
    WITHDRAWN = "withdrawn"
    IGNORED = "ignored"


@dataclass(frozen=True, slots=True)
class Decision:
    """The verdict, with the alert to create (opened, reopened) or the change to store."""

    verdict: Verdict
    new_alert: NewAlert | None = None
    change: Change | None = None
    reason: str = ""


def decide(
    finding: Finding,
    active: Alert | None,
    last_resolved: Alert | None,
    now: datetime,
    config: IntakeConfig,
) -> Decision:
    """What `finding` does, given the active alert and the latest resolved one for its
    (home, kind); `now` is the clock's time, recorded on automatic transitions."""
    if finding.withdrawn:
        return _withdraw(finding, active, now)
    if finding.clears:
        return _clear(finding, active, now)
    severity = config.severity_for(finding)
    if severity is Severity.INFO:
        return Decision(Verdict.IGNORED, reason="informational finding")
    if active is not None:
        repeated = dataclasses.replace(
            active,
            occurrences=active.occurrences + 1,
            last_seen_at=max(active.last_seen_at, finding.at),
            explanation=finding.explanation,
            params=dict(finding.params),
            condition_cleared_at=None,  # the condition is back, whatever it said before
        )
        return Decision(Verdict.REPEATED, change=Change(repeated, ()))
    reopen_from = None
    if last_resolved is not None and last_resolved.resolved_at is not None:
        since_resolved = finding.at - last_resolved.resolved_at
        if since_resolved <= timedelta(seconds=config.reopen_window_s):
            reopen_from = last_resolved.id
    new = NewAlert(
        home_id=finding.home_id,
        category=finding.category,
        kind=finding.kind,
        severity=severity,
        explanation=finding.explanation,
        params=dict(finding.params),
        first_seen_at=finding.at,
        opened_at=now,
        reopened_from=reopen_from,
    )
    verdict = Verdict.OPENED if reopen_from is None else Verdict.REOPENED
    return Decision(verdict, new_alert=new)


def _clear(finding: Finding, active: Alert | None, now: datetime) -> Decision:
    if active is None:
        return Decision(Verdict.IGNORED, reason="clear without an active alert")
    cleared = dataclasses.replace(active, condition_cleared_at=finding.at)
    if active.severity in SELF_CLEARING:
        change = lifecycle.resolve(
            cleared, SYSTEM_ACTOR, now, Outcome.CONDITION_CLEARED, finding.explanation
        )
        return Decision(Verdict.AUTO_RESOLVED, change=change)
    entry = HistoryEntry(
        Action.CONDITION_CLEARED,
        SYSTEM_ACTOR,
        now,
        active.state,
        active.state,
        {
            "explanation": finding.explanation,
            "at": finding.at.isoformat(),
            "params": dict(finding.params),
        },
    )
    return Decision(Verdict.CLEAR_NOTED, change=Change(cleared, (entry,)))


def _withdraw(finding: Finding, active: Alert | None, now: datetime) -> Decision:
    """The detectors withdrew the finding behind the alert (late data shows it was
    wrong): whatever its severity, it is resolved and escalates no further, with the
    reason first in its history."""
    if active is None:
        return Decision(Verdict.IGNORED, reason="withdrawal without an active alert")
    entry = HistoryEntry(
        Action.WITHDRAWN,
        SYSTEM_ACTOR,
        now,
        active.state,
        active.state,
        {"explanation": finding.explanation, "at": finding.at.isoformat()},
    )
    withdrawn = dataclasses.replace(active, condition_cleared_at=finding.at)
    change = lifecycle.resolve(
        withdrawn, SYSTEM_ACTOR, now, Outcome.CONDITION_CLEARED, finding.explanation
    )
    return Decision(Verdict.WITHDRAWN, change=Change(change.alert, (entry, *change.history)))


def opened_entry(alert: Alert) -> HistoryEntry:
    """The first history entry of a new alert (opened, or reopened with its link)."""
    if alert.reopened_from is None:
        return HistoryEntry(Action.OPENED, SYSTEM_ACTOR, alert.opened_at, None, alert.state)
    return HistoryEntry(
        Action.REOPENED,
        SYSTEM_ACTOR,
        alert.opened_at,
        None,
        alert.state,
        {"reopened_from": alert.reopened_from},
    )
