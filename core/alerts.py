"""Alert values: states, outcomes, the Alert itself, its history entries, its errors."""

from __future__ import annotations

import enum
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from core.kinds import Category, Severity


class AlertState(enum.StrEnum):
    """Where an alert is in its life."""

    OPEN = "open"
    ACKNOWLEDGED = "acknowledged"
    RESOLVED = "resolved"


class Outcome(enum.StrEnum):
    """What was found when an alert was resolved."""

    RESIDENT_OK = "resident_ok"
    ASSISTED = "assisted"
    EMERGENCY_SERVICES = "emergency_services"
    FALSE_ALARM = "false_alarm"
    DEVICE_FAULT = "device_fault"
    AWAY = "away"
    OTHER = "other"
    # Only the system records this one: a low or medium condition that ended by itself.
    CONDITION_CLEARED = "condition_cleared"


class Action(enum.StrEnum):
    """What a history entry records."""

    OPENED = "opened"
    REOPENED = "reopened"
    ACKNOWLEDGED = "acknowledged"
    CLAIMED = "claimed"
    ARRIVED = "arrived"
    RESOLVED = "resolved"
    COMMENTED = "commented"
    CONDITION_CLEARED = "condition_cleared"
    ESCALATED = "escalated"
    ESCALATION_RESUMED = "escalation_resumed"
    CHECKIN_ANSWERED = "checkin_answered"
    # An advisor replied "3" to the alert SMS: the next escalation step went out at once.
    PASSED_ON = "passed_on"
    # The detectors withdrew the finding: data that arrived late contradicts it.
    WITHDRAWN = "withdrawn"


class AlertError(Exception):
    """Base of the errors the alerts package raises on purpose."""


class IllegalTransition(AlertError):
    """The requested change is not allowed from the alert's current state."""


class InvalidCommand(AlertError, ValueError):
    """A command whose arguments cannot be used (empty comment, arrival in the past...)."""


class AlertNotFound(AlertError, LookupError):
    """No alert has the given id."""


SYSTEM_ACTOR = "system"  # the actor of automatic transitions (intake, sweeper, check-in)
MAX_ACTOR_CHARS = 200
MAX_NOTE_CHARS = 4000


@dataclass(frozen=True, slots=True)
class Alert:
    """One alert: a (home, kind) condition from its first finding until it is resolved."""

    id: int
    home_id: str
    category: Category
    kind: str
    severity: Severity
    state: AlertState
    explanation: str
    first_seen_at: datetime
    last_seen_at: datetime
    occurrences: int
    opened_at: datetime
    reopened_from: int | None = None
    acknowledged_at: datetime | None = None
    acknowledged_by: str | None = None
    claimed_at: datetime | None = None
    claimed_by: str | None = None
    expected_arrival_at: datetime | None = None
    arrived_at: datetime | None = None
    arrived_by: str | None = None
    resolved_at: datetime | None = None
    resolved_by: str | None = None
    outcome: Outcome | None = None
    resolution_note: str | None = None
    condition_cleared_at: datetime | None = None
    escalation_step: int = -1  # the last escalation step notified; -1 before the first
    escalation_due_at: datetime | None = None
    # The latest finding's params: the explanation in any language (core/explain.py).
    params: dict[str, Any] = field(default_factory=dict, hash=False)

    def __post_init__(self) -> None:
        if (self.state is AlertState.RESOLVED) != (
            self.resolved_at is not None and self.outcome is not None
        ):
            raise ValueError("a resolved alert, and only one, has resolved_at and an outcome")
        if self.occurrences < 1:
            raise ValueError("occurrences must be at least 1")

    @property
    def active(self) -> bool:
        """True until the alert is resolved."""
        return self.state is not AlertState.RESOLVED


@dataclass(frozen=True, slots=True)
class NewAlert:
    """An alert about to be stored (it has no id yet)."""

    home_id: str
    category: Category
    kind: str
    severity: Severity
    explanation: str
    first_seen_at: datetime
    opened_at: datetime
    reopened_from: int | None = None
    params: dict[str, Any] = field(default_factory=dict, hash=False)


@dataclass(frozen=True, slots=True)
class HistoryEntry:
    """One line of an alert's append-only history."""

    action: Action
    actor: str
    at: datetime
    from_state: AlertState | None = None
    to_state: AlertState | None = None
    detail: dict[str, Any] = field(default_factory=dict)  # JSON-ready values only


@dataclass(frozen=True, slots=True)
class Change:
    """An alert after a command, and the history entries that record the command."""

    alert: Alert
    history: tuple[HistoryEntry, ...]
