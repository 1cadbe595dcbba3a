"""Escalation timing: which steps fire now and when the sweeper must look again. Pure.

The only timer is the alert's `escalation_due_at`, stored with the alert, so escalation
survives restarts: a sweeper driven by the injected clock calls `on_due` for alerts whose
time has come. Acknowledgement stops the steps; an acknowledged alert not resolved in
time resumes them (`after_command` sets that timer).
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from datetime import datetime, timedelta

from core.alerts import SYSTEM_ACTOR, Action, Alert, AlertState, HistoryEntry
from core.policy import EscalationPolicy, EscalationStep


@dataclass(frozen=True, slots=True)
class FiredStep:
    """A policy step whose recipients are to be told now."""

    index: int
    step: EscalationStep
    resumed: bool = False  # fired because an acknowledged alert was not resolved in time


@dataclass(frozen=True, slots=True)
class Escalation:
    """The alert with its escalation fields moved on, the steps fired, their history."""

    alert: Alert
    fired: tuple[FiredStep, ...]
    history: tuple[HistoryEntry, ...]


def _seconds(n: int) -> timedelta:
    return timedelta(seconds=n)


def start(alert: Alert, policy: EscalationPolicy, now: datetime) -> Escalation:
    """Fire the first step (and any that follow it without delay) of a new alert."""
    if alert.escalation_step != -1:
        raise ValueError(f"alert {alert.id} has already started escalating")
    if policy.steps and policy.steps[0].after_s > 0:
        return Escalation(
            dataclasses.replace(alert, escalation_due_at=now + _seconds(policy.steps[0].after_s)),
            (),
            (),
        )
    return _fire_onwards(alert, policy, now)


def on_due(alert: Alert, policy: EscalationPolicy, now: datetime) -> Escalation:
    """The alert's escalation time has come: fire the next step(s), or resume."""
    if alert.state is AlertState.RESOLVED:
        return Escalation(dataclasses.replace(alert, escalation_due_at=None), (), ())
    if alert.state is AlertState.OPEN:
        return _fire_onwards(alert, policy, now)
    return _resume(alert, policy, now)


def _fire_onwards(alert: Alert, policy: EscalationPolicy, now: datetime) -> Escalation:
    steps = policy.steps
    index = alert.escalation_step + 1
    fired: list[FiredStep] = []
    while index < len(steps):
        fired.append(FiredStep(index, steps[index]))
        following = index + 1
        if following < len(steps) and steps[following].after_s == 0:
            index = following  # steps without delay go out together
            continue
        break
    last = fired[-1].index if fired else alert.escalation_step
    nxt = last + 1
    due = now + _seconds(steps[nxt].after_s) if nxt < len(steps) else None
    new = dataclasses.replace(alert, escalation_step=last, escalation_due_at=due)
    return Escalation(new, tuple(fired), tuple(_entry(f, now, alert.state) for f in fired))


def _resume(alert: Alert, policy: EscalationPolicy, now: datetime) -> Escalation:
    if not policy.steps:
        return Escalation(dataclasses.replace(alert, escalation_due_at=None), (), ())
    # Go on to the next step; past the last, tell the last step's people again.
    index = min(alert.escalation_step + 1, len(policy.steps) - 1)
    fired = FiredStep(index, policy.steps[index], resumed=True)
    due = now + _seconds(policy.resolve_within_s) if policy.resolve_within_s else None
    new = dataclasses.replace(
        alert, escalation_step=max(index, alert.escalation_step), escalation_due_at=due
    )
    return Escalation(new, (fired,), (_entry(fired, now, alert.state),))


def _entry(fired: FiredStep, now: datetime, state: AlertState) -> HistoryEntry:
    action = Action.ESCALATION_RESUMED if fired.resumed else Action.ESCALATED
    detail = {
        "step": fired.index,
        "roles": [r.value for r in fired.step.roles],
        "digest": fired.step.digest,
    }
    return HistoryEntry(action, SYSTEM_ACTOR, now, state, state, detail)


def after_command(alert: Alert, policy: EscalationPolicy) -> Alert:
    """Set the escalation timer after acknowledge, claim, arrival or resolve.

    Resolved: nothing more. Claimed but not arrived: the expected arrival plus grace.
    Otherwise acknowledged: the acknowledgement (or arrival) plus `resolve_within_s`.
    """
    if alert.state is AlertState.RESOLVED:
        return dataclasses.replace(alert, escalation_due_at=None)
    if alert.state is AlertState.OPEN:
        return alert
    due: datetime | None = None
    if alert.expected_arrival_at is not None and alert.arrived_at is None:
        due = alert.expected_arrival_at + _seconds(policy.arrival_grace_s)
    elif policy.resolve_within_s is not None:
        since = alert.arrived_at or alert.acknowledged_at
        if since is not None:
            due = since + _seconds(policy.resolve_within_s)
    return dataclasses.replace(alert, escalation_due_at=due)


def bring_forward(alert: Alert, policy: EscalationPolicy, now: datetime) -> Alert:
    """The check-in call got "help" or no answer: the next step is due now.

    Only while the alert is open and its latest step is the one that called the
    resident; otherwise people are already on it and the answer is only recorded.
    """
    step = alert.escalation_step
    if alert.state is not AlertState.OPEN or not 0 <= step < len(policy.steps) - 1:
        return alert
    if not policy.steps[step].calls_resident:
        return alert
    return dataclasses.replace(alert, escalation_due_at=now)
