"""The alerts service: findings in, people's commands, check-in answers. Thin I/O shell.

Every method is one transaction: load and lock, decide with the pure core, store the
alert, its history and its outbox rows together.
"""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta

import asyncpg

from alerts import checkin, escalation, lifecycle, replies
from alerts.apply import IntakeResult, apply_escalation, apply_finding, store_change
from alerts.config import AlertConfig
from alerts.notify import note_checkin_fine
from alerts.templates import home_label
from core.alerts import (
    Action,
    Alert,
    AlertNotFound,
    AlertState,
    Change,
    HistoryEntry,
    IllegalTransition,
    Outcome,
)
from core.clock import Clock
from core.contacts import Role
from core.logs import kv
from core.policy import EscalationPolicy, policy_name_for
from detectors.findings import Finding
from storage import alerts as alert_rows
from storage import sms_replies
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


@dataclass(frozen=True, slots=True)
class SmsReplyReceipt:
    """What a reply to an alert SMS did, and the text to send back."""

    outcome: replies.Outcome
    alert_id: int | None
    reply: str


@dataclass(frozen=True, slots=True)
class CallReceipt:
    """What the answer to an advisor's escalation call did."""

    status: ReplyStatus
    alert_id: int | None
    outcome: replies.Outcome | None


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

    async def record_sms_reply(self, message_id: str, sender: str, body: str) -> SmsReplyReceipt:
        """Act on an advisor's reply to an alert SMS (alerts/replies.py), once per message.

        The reply is matched to the latest unresolved alert texted to that number as staff
        in the last day; it is recorded in the alert's history as the person it was sent
        to, just as the same action in the console. Anything that cannot be acted on
        (unknown number, a resolved alert, not a command, a state that does not allow it)
        changes nothing and gets a reply saying why.
        """
        async with self._pool.acquire() as conn, conn.transaction():
            await conn.execute("SELECT pg_advisory_xact_lock(hashtext($1))", message_id)
            known = await sms_replies.stored_reply(conn, message_id)
            if known is not None:
                return SmsReplyReceipt(replies.Outcome.DUPLICATE, None, known[1])
            now = self._clock.now()
            receipt, actor = await self._act_on_reply(conn, sender, body, now)
            await sms_replies.save_reply(conn, message_id, sender, body, now, receipt.alert_id,
                                         actor, receipt.outcome.value, receipt.reply)  # fmt: skip
        log_at = log.info if receipt.alert_id is not None else log.warning
        log_at(kv("sms_reply", outcome=receipt.outcome.value, alert_id=receipt.alert_id or "-",
                  message_id=message_id))  # fmt: skip
        return receipt

    async def record_key_press(self, idempotency_key: str, digits: str | None) -> CallReceipt:
        """The answer to an advisor's escalation call: 1 acknowledges, 3 passes it on,
        as the advisor called, once per call; anything else (no answer) changes nothing
        and escalation goes on by its timers."""
        async with self._pool.acquire() as conn, conn.transaction():
            now = self._clock.now()
            first, call = await sms_replies.record_key_press(
                conn, idempotency_key, digits or "no_answer", now
            )
            if call is None:
                return CallReceipt(ReplyStatus.UNKNOWN, None, None)
            if not first:
                return CallReceipt(ReplyStatus.DUPLICATE, call.alert_id, None)
            command = replies.from_key_press(digits)
            if command is None:
                outcome = replies.Outcome.NOT_UNDERSTOOD
            else:
                done = await self._apply_reply(conn, call, command, "call", now)
                outcome = done.outcome
        log.info(kv("call_answered", alert_id=call.alert_id, outcome=outcome.value))
        return CallReceipt(ReplyStatus.RECORDED, call.alert_id, outcome)

    async def _act_on_reply(
        self, conn: asyncpg.Connection, sender: str, body: str, now: datetime
    ) -> tuple[SmsReplyReceipt, str | None]:
        since = now - timedelta(seconds=replies.REPLY_WINDOW_S)
        texted = await sms_replies.texted_alert(conn, sender, since)
        if texted is None:
            language = await sms_replies.language_of(conn, sender)
            text = replies.text("unknown_sender", language)
            return SmsReplyReceipt(replies.Outcome.UNKNOWN_SENDER, None, text), None
        command = replies.parse(body)
        if command is None and not texted.resolved:
            text = replies.text("not_understood", texted.language)
            return SmsReplyReceipt(replies.Outcome.NOT_UNDERSTOOD, texted.alert_id, text), (
                texted.recipient_ref
            )
        if command is None:
            command = replies.ReplyCommand(replies.Verb.ACKNOWLEDGE)  # stale either way
        done = await self._apply_reply(conn, texted, command, "sms", now)
        return done, texted.recipient_ref

    async def _apply_reply(
        self,
        conn: asyncpg.Connection,
        texted: sms_replies.TextedAlert,
        command: replies.ReplyCommand,
        via: str,
        now: datetime,
    ) -> SmsReplyReceipt:
        """Act on `command` from the person `texted` was sent to, recorded `via` sms or call."""
        lang, alert_id, actor = texted.language, texted.alert_id, texted.recipient_ref
        label = texted.address or home_label(texted.home_id, None, lang)

        def receipt(outcome: replies.Outcome, key: str, **values: object) -> SmsReplyReceipt:
            text = replies.text(key, lang, alert=alert_id, home=label, **values)
            return SmsReplyReceipt(outcome, alert_id, text)

        if texted.resolved:
            return receipt(replies.Outcome.STALE, "stale")
        alert = await alert_rows.get_alert(conn, alert_id, lock=True)
        assert alert is not None  # the delivery's foreign key guarantees it
        policy = await effective_policy(conn, policy_name_for(alert))
        if command.verb is replies.Verb.PASS_ON:
            return await self._pass_on(conn, alert, policy, actor, now, via, receipt)
        try:
            if command.verb is replies.Verb.ACKNOWLEDGE:
                change = lifecycle.acknowledge(alert, actor, now)
                done = receipt(replies.Outcome.ACKNOWLEDGED, "acknowledged")
            else:
                eta = now + timedelta(minutes=command.eta_minutes or 0)
                change = lifecycle.claim(alert, actor, now, eta)
                when = replies.local_clock(eta, texted.timezone)
                done = receipt(replies.Outcome.CLAIMED, "claimed", eta=when)
        except IllegalTransition:
            taken = alert.claimed_by if command.verb is replies.Verb.CLAIM else None
            if taken is not None:
                who = await sms_replies.display_name(conn, taken)
                return receipt(replies.Outcome.REFUSED, "already_claimed", who=who)
            who = await sms_replies.display_name(conn, alert.acknowledged_by or "?")
            return receipt(replies.Outcome.REFUSED, "already_acknowledged", who=who)
        history = tuple(dataclasses.replace(e, detail={**e.detail, "via": via})
                        for e in change.history)  # fmt: skip
        await store_change(conn, Change(escalation.after_command(change.alert, policy), history))
        return done

    async def _pass_on(
        self,
        conn: asyncpg.Connection,
        alert: Alert,
        policy: EscalationPolicy,
        actor: str,
        now: datetime,
        via: str,
        receipt: Callable[..., SmsReplyReceipt],
    ) -> SmsReplyReceipt:
        """ "3": the next escalation step goes out now, while the alert is still open."""
        if alert.state is not AlertState.OPEN:
            return receipt(replies.Outcome.REFUSED, "pass_on_too_late")
        esc = escalation.on_due(alert, policy, now)
        if not esc.fired:
            return receipt(replies.Outcome.REFUSED, "pass_on_last")
        entry = HistoryEntry(Action.PASSED_ON, actor, now, alert.state, alert.state,
                             {"via": via})  # fmt: skip
        await alert_rows.append_history(conn, alert.id, [entry])
        await apply_escalation(conn, esc, now, self._config)
        return receipt(replies.Outcome.PASSED_ON, "passed_on")

    async def history(self, alert_id: int) -> list[dict[str, object]]:
        """An alert's history, oldest first."""
        async with self._pool.acquire() as conn:
            return await alert_rows.alert_history(conn, alert_id)
