"""The alerts service: findings in, people's commands, check-in answers. Thin I/O shell.

Every method is one transaction: load and lock, decide with the pure core, store the
alert, its history and its outbox rows together.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import datetime

import asyncpg

from alerts import checkin, escalation, lifecycle
from alerts.apply import IntakeResult, apply_escalation, apply_finding, store_change
from alerts.config import AlertConfig
from alerts.model import Alert, AlertNotFound, Change, Outcome
from alerts.notify import note_checkin_fine
from alerts.policy import EscalationPolicy, policy_name_for
from alerts.routing import Role
from core.clock import Clock
from core.logs import kv
from detectors.findings import Finding
from storage import alerts as alert_rows
from storage.alerts_outbox import ReplyStatus, record_reply
from storage.alerts_routing import effective_policy

log = logging.getLogger("eldercare.alerts")

Command = Callable[[Alert, EscalationPolicy, datetime], Change]


@dataclass(frozen=True, slots=True)
class CheckinReceipt:
    """What a check-in answer did."""

    status: ReplyStatus
    alert_id: int | None = None
    resolved: bool = False


class AlertService:
    """Findings and commands in; alerts, history and outbox rows out (one pool, one clock)."""

    def __init__(self, pool: asyncpg.Pool, clock: Clock, config: AlertConfig | None = None):
        self._pool = pool
        self._clock = clock
        self._config = config or AlertConfig()

    async def ingest(self, findings: Iterable[Finding]) -> list[IntakeResult]:
        """Take in findings, each in its own transaction: if one fails, those before it
        stay committed and the exception says which failed (the caller retries it)."""
        results = []
        for finding in findings:
            async with self._pool.acquire() as conn, conn.transaction():
                results.append(await apply_finding(conn, finding, self._clock.now(), self._config))
        return results

    async def get(self, alert_id: int) -> Alert:
        """One alert; AlertNotFound if there is none."""
        async with self._pool.acquire() as conn:
            alert = await alert_rows.get_alert(conn, alert_id)
        if alert is None:
            raise AlertNotFound(f"no alert {alert_id}")
        return alert

    async def _command(self, alert_id: int, command: Command, reschedule: bool = True) -> Alert:
        async with self._pool.acquire() as conn, conn.transaction():
            alert = await alert_rows.get_alert(conn, alert_id, lock=True)
            if alert is None:
                raise AlertNotFound(f"no alert {alert_id}")
            policy = await effective_policy(conn, policy_name_for(alert))
            change = command(alert, policy, self._clock.now())
            if reschedule:
                change = Change(escalation.after_command(change.alert, policy), change.history)
            stored = await store_change(conn, change)
        for entry in change.history:
            log.info(kv("alert_" + entry.action.value, alert_id=alert_id))
        return stored

    async def acknowledge(self, alert_id: int, actor: str) -> Alert:
        """open → acknowledged; escalation stops (and resumes if not resolved in time)."""
        return await self._command(alert_id, lambda a, p, now: lifecycle.acknowledge(a, actor, now))

    async def claim(self, alert_id: int, actor: str, expected_arrival_at: datetime) -> Alert:
        """ "I am going", arriving by `expected_arrival_at`."""
        return await self._command(
            alert_id, lambda a, p, now: lifecycle.claim(a, actor, now, expected_arrival_at)
        )

    async def arrive(self, alert_id: int, actor: str) -> Alert:
        """The helper who claimed the alert has arrived."""
        return await self._command(alert_id, lambda a, p, now: lifecycle.arrive(a, actor, now))

    async def resolve(
        self, alert_id: int, actor: str, outcome: Outcome, note: str | None = None
    ) -> Alert:
        """→ resolved with an outcome (and an optional note); escalation ends."""
        return await self._command(
            alert_id,
            lambda a, p, now: lifecycle.resolve_by_person(a, actor, now, outcome, note),
        )

    async def comment(self, alert_id: int, actor: str, text: str) -> Alert:
        """Add a comment to the alert's history, in any state."""
        return await self._command(
            alert_id, lambda a, p, now: lifecycle.comment(a, actor, now, text), reschedule=False
        )

    async def record_checkin_answer(
        self, idempotency_key: str, call_id: str, result: checkin.CheckinResult
    ) -> CheckinReceipt:
        """Apply the voice gateway's report of a check-in call, once per call.

        "fine" resolves the alert as resident_ok and tells the primary advisor in their
        next digest; "help" or no answer fires the next escalation step in this same
        transaction.
        """
        async with self._pool.acquire() as conn, conn.transaction():
            now = self._clock.now()
            status, alert_id = await record_reply(conn, idempotency_key, result.value, now)
            if status is not ReplyStatus.RECORDED or alert_id is None:
                return CheckinReceipt(status, alert_id)
            alert = await alert_rows.get_alert(conn, alert_id, lock=True)
            assert alert is not None  # the delivery's foreign key guarantees it
            policy = await effective_policy(conn, policy_name_for(alert))
            outcome = checkin.answer(alert, result, now, policy, call_id)
            alert = await store_change(conn, outcome.change)
            if outcome.resolved:
                await note_checkin_fine(conn, alert, (Role.PRIMARY_ADVISOR,), now, self._config)
            elif alert.escalation_due_at is not None and alert.escalation_due_at <= now:
                await apply_escalation(
                    conn, escalation.on_due(alert, policy, now), now, self._config
                )
        log.info(kv("checkin_answered", alert_id=alert_id, result=result.value))
        return CheckinReceipt(status, alert_id, outcome.resolved)

    async def history(self, alert_id: int) -> list[dict[str, object]]:
        """An alert's history, oldest first."""
        async with self._pool.acquire() as conn:
            return await alert_rows.alert_history(conn, alert_id)
