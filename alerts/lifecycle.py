"""The alert state machine: open → acknowledged → resolved, plus claim, arrival, comments.

Pure: each command takes an Alert and returns a Change (the new Alert and its history
entries) or raises IllegalTransition / InvalidCommand. Escalation timers are not set
here; `alerts.escalation` derives them from the new state.
"""

from __future__ import annotations

import dataclasses
from datetime import datetime

from core.alerts import (
    MAX_ACTOR_CHARS,
    MAX_NOTE_CHARS,
    Action,
    Alert,
    AlertState,
    Change,
    HistoryEntry,
    IllegalTransition,
    InvalidCommand,
    Outcome,
)

# Outcomes a person may choose; CONDITION_CLEARED is the system's alone.
PERSON_OUTCOMES = frozenset(Outcome) - {Outcome.CONDITION_CLEARED}


def _check_actor(actor: str) -> str:
    actor = actor.strip()
    if not actor or len(actor) > MAX_ACTOR_CHARS:
        raise InvalidCommand(f"actor must be 1 to {MAX_ACTOR_CHARS} characters")
    return actor


def _check_note(note: str | None, what: str, required: bool = False) -> str | None:
    if note is not None:
        note = note.strip() or None
    if note is None:
        if required:
            raise InvalidCommand(f"{what} must not be empty")
        return None
    if len(note) > MAX_NOTE_CHARS:
        raise InvalidCommand(f"{what} is longer than {MAX_NOTE_CHARS} characters")
    return note


def _refuse_if_resolved(alert: Alert, verb: str) -> None:
    if alert.state is AlertState.RESOLVED:
        raise IllegalTransition(
            f"cannot {verb} alert {alert.id}: it was resolved"
            f" ({alert.outcome}) by {alert.resolved_by}"
        )


def acknowledge(alert: Alert, actor: str, at: datetime) -> Change:
    """open → acknowledged: someone has seen it and takes responsibility."""
    actor = _check_actor(actor)
    _refuse_if_resolved(alert, "acknowledge")
    if alert.state is AlertState.ACKNOWLEDGED:
        raise IllegalTransition(
            f"cannot acknowledge alert {alert.id}: already acknowledged by {alert.acknowledged_by}"
        )
    new = dataclasses.replace(
        alert, state=AlertState.ACKNOWLEDGED, acknowledged_at=at, acknowledged_by=actor
    )
    entry = HistoryEntry(Action.ACKNOWLEDGED, actor, at, alert.state, new.state)
    return Change(new, (entry,))


def claim(alert: Alert, actor: str, at: datetime, expected_arrival_at: datetime) -> Change:
    """ "I am going": record who goes and when they expect to arrive.

    Claiming an open alert acknowledges it too (someone on the way has plainly seen it),
    and the history says both.
    """
    actor = _check_actor(actor)
    _refuse_if_resolved(alert, "claim")
    if alert.claimed_by is not None:
        raise IllegalTransition(
            f"cannot claim alert {alert.id}: already claimed by {alert.claimed_by}"
        )
    if expected_arrival_at < at:
        raise InvalidCommand("expected arrival must not be in the past")
    history: list[HistoryEntry] = []
    if alert.state is AlertState.OPEN:
        acked = acknowledge(alert, actor, at)
        alert = acked.alert
        history.extend(acked.history)
    new = dataclasses.replace(
        alert, claimed_at=at, claimed_by=actor, expected_arrival_at=expected_arrival_at
    )
    detail = {"expected_arrival_at": expected_arrival_at.isoformat()}
    history.append(HistoryEntry(Action.CLAIMED, actor, at, new.state, new.state, detail))
    return Change(new, tuple(history))


def arrive(alert: Alert, actor: str, at: datetime) -> Change:
    """Record arrival at the home of whoever claimed the alert (time to arrive)."""
    actor = _check_actor(actor)
    _refuse_if_resolved(alert, "record arrival for")
    if alert.claimed_at is None:
        raise IllegalTransition(f"cannot record arrival for alert {alert.id}: nobody claimed it")
    if alert.arrived_at is not None:
        raise IllegalTransition(
            f"cannot record arrival for alert {alert.id}: {alert.arrived_by} already arrived"
        )
    new = dataclasses.replace(alert, arrived_at=at, arrived_by=actor)
    detail = {"seconds_to_arrive": round((at - alert.claimed_at).total_seconds())}
    return Change(new, (HistoryEntry(Action.ARRIVED, actor, at, new.state, new.state, detail),))


def resolve(
    alert: Alert, actor: str, at: datetime, outcome: Outcome, note: str | None = None
) -> Change:
    """open or acknowledged → resolved, with the outcome found and an optional note."""
    actor = _check_actor(actor)
    _refuse_if_resolved(alert, "resolve")
    note = _check_note(note, "note")
    new = dataclasses.replace(
        alert,
        state=AlertState.RESOLVED,
        resolved_at=at,
        resolved_by=actor,
        outcome=outcome,
        resolution_note=note,
    )
    detail: dict[str, object] = {"outcome": outcome.value}
    if note:
        detail["note"] = note
    return Change(new, (HistoryEntry(Action.RESOLVED, actor, at, alert.state, new.state, detail),))


def resolve_by_person(
    alert: Alert, actor: str, at: datetime, outcome: Outcome, note: str | None = None
) -> Change:
    """`resolve` for people: refuses the outcome only the system may record."""
    if outcome not in PERSON_OUTCOMES:
        raise InvalidCommand(f"outcome {outcome.value!r} is recorded only by the system")
    return resolve(alert, actor, at, outcome, note)


def comment(alert: Alert, actor: str, at: datetime, text: str) -> Change:
    """Add a comment, in any state (resolved alerts too)."""
    actor = _check_actor(actor)
    checked = _check_note(text, "comment", required=True)
    entry = HistoryEntry(Action.COMMENTED, actor, at, alert.state, alert.state, {"text": checked})
    return Change(alert, (entry,))
