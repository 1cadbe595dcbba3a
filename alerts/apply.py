"""Alert changes inside one transaction: pure decisions applied with the storage queries,
so an alert change, its history and its outbox rows commit together or not at all."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime

import asyncpg

from alerts import escalation, intake
from alerts.config import AlertConfig
from alerts.notify import notify_fired
from core.alerts import Alert, Change
from core.contacts import ChannelKind
from core.kinds import Category, Severity
from core.logs import kv
from core.policy import policy_name_for
from detectors.findings import Finding
from storage import alerts as alert_rows
from storage.alerts_routing import effective_policy
from storage.channel_health import failing_channels

log = logging.getLogger("eldercare.alerts")

NO_RECIPIENTS_KIND = "no_recipients"
DELIVERY_FAILED_KIND = "delivery_failed"


@dataclass(frozen=True, slots=True)
class IntakeResult:
    """What one finding did: the verdict, the alert it touched, the deliveries decided."""

    verdict: intake.Verdict
    alert_id: int | None
    delivery_ids: tuple[int, ...] = ()


async def apply_finding(
    conn: asyncpg.Connection, finding: Finding, now: datetime, config: AlertConfig
) -> IntakeResult:
    """Take in one finding: open, reopen, update or clear its (home, kind) alert."""
    await alert_rows.lock_home_kind(conn, finding.home_id, finding.kind)
    active = await alert_rows.active_alert(conn, finding.home_id, finding.kind)
    last = None
    if active is None:
        last = await alert_rows.last_resolved_alert(conn, finding.home_id, finding.kind)
    decision = intake.decide(finding, active, last, now, config.intake)
    if decision.new_alert is not None:
        alert = await alert_rows.insert_alert(conn, decision.new_alert)
        await alert_rows.append_history(conn, alert.id, [intake.opened_entry(alert)])
        policy = await effective_policy(conn, policy_name_for(alert))
        ids = await apply_escalation(conn, escalation.start(alert, policy, now), now, config)
        event = "alert_" + decision.verdict.value
        log.info(kv(event, alert_id=alert.id, kind=alert.kind, deliveries=len(ids)))
        return IntakeResult(decision.verdict, alert.id, tuple(ids))
    if decision.change is None:
        return IntakeResult(decision.verdict, None)
    change = decision.change
    if decision.verdict in (intake.Verdict.AUTO_RESOLVED, intake.Verdict.WITHDRAWN):
        policy = await effective_policy(conn, policy_name_for(change.alert))
        change = Change(escalation.after_command(change.alert, policy), change.history)
        event = f"alert_{decision.verdict.value}"
        log.info(kv(event, alert_id=change.alert.id, kind=change.alert.kind))
    await store_change(conn, change)
    return IntakeResult(decision.verdict, change.alert.id)


async def store_change(conn: asyncpg.Connection, change: Change) -> Alert:
    """Write an alert change and its history entries."""
    await alert_rows.update_alert(conn, change.alert)
    await alert_rows.append_history(conn, change.alert.id, change.history)
    return change.alert


async def apply_escalation(
    conn: asyncpg.Connection, esc: escalation.Escalation, now: datetime, config: AlertConfig
) -> list[int]:
    """Store an escalation's alert and history, and write its messages.

    A step that reaches nobody (no contacts registered for the roles) raises a system
    alert for the home, so a routing gap is seen rather than silently swallowed. A
    delivery_failed alert avoids the channels that are failing when it can.
    """
    await store_change(conn, Change(esc.alert, esc.history))
    avoid: frozenset[ChannelKind] = frozenset()
    if esc.fired and esc.alert.kind == DELIVERY_FAILED_KIND:
        # Telling operations that the SMS gateway failed, by SMS, reaches nobody.
        avoid = frozenset(ChannelKind(c) for c in await failing_channels(conn, now))
    ids = await notify_fired(conn, esc.alert, esc.fired, now, config, avoid=avoid)
    if esc.fired and not ids and esc.alert.category is Category.SYSTEM:
        # No operations desk registered: nothing left to escalate to but the log.
        log.error(kv("alert_unrouted", alert_id=esc.alert.id, kind=esc.alert.kind))
    elif esc.fired and not ids:
        roles = sorted({r.value for f in esc.fired for r in f.step.roles})
        await raise_problem(
            conn,
            esc.alert.home_id,
            NO_RECIPIENTS_KIND,
            f"alert {esc.alert.id} ({esc.alert.kind}) reached nobody: no contact registered"
            f" for {', '.join(roles)}",
            now,
            config,
            {"alert_id": esc.alert.id, "roles": roles},
        )
    return ids


async def raise_problem(
    conn: asyncpg.Connection,
    home_id: str,
    kind: str,
    explanation: str,
    now: datetime,
    config: AlertConfig,
    params: dict[str, object] | None = None,
) -> IntakeResult:
    """Open (or repeat) a `system` alert about our own pipeline for a home."""
    finding = Finding(
        home_id, Category.SYSTEM, kind, Severity.HIGH, now, explanation, params=params or {}
    )
    log.warning(kv("alert_problem", home_id=home_id, kind=kind))
    return await apply_finding(conn, finding, now, config)
