"""Escalation driven by the injected clock, with the real gateway, SMTP server and the
check-in callback over HTTP. No wall-clock sleeps: time moves when the test says."""

from __future__ import annotations

from datetime import timedelta

import asyncpg

from core.alerts import AlertState, Outcome
from core.contacts import Role
from core.policy import EscalationPolicy, EscalationStep
from storage.alerts import alert_history, list_alerts
from storage.alerts_routing import save_policy
from tests.test_alert_support import (
    START,
    AlertWorld,
    alert_world,
    finding,
    register_home,
    smoke,
)

PRIMARY, BACKUP = "+8613811111111", "+8613822222222"
FAMILY_SMS, FAMILY_ZH = "+447700900001", "+8613833333333"
RESIDENT = "+8613800000000"


async def roles_notified(world: AlertWorld, alert_id: int) -> list[str]:
    """Recipient roles of an alert's deliveries, in the order they were decided."""
    return [d["recipient_role"] for d in await world.deliveries(alert_id=alert_id)]


async def test_high_alert_walks_every_step_on_the_clock(
    db: asyncpg.Connection, db_url: str
) -> None:
    await register_home(db)
    async with alert_world(db_url) as world:
        (opened,) = await world.service.ingest([finding()])
        alert_id = opened.alert_id
        assert alert_id is not None
        await world.dispatcher.dispatch_once()
        # Step 1: the check-in call to the resident, in Chinese.
        (call,) = world.gateway.calls.values()
        assert call["to"] == RESIDENT and call["language"] == "zh-CN" and "按1" in call["script"]
        assert await roles_notified(world, alert_id) == ["resident"]

        await world.advance(minutes=4, seconds=59)  # no answer yet, not yet due
        assert await roles_notified(world, alert_id) == ["resident"]
        await world.advance(seconds=1)  # 5 min without an answer: the primary advisor
        assert await roles_notified(world, alert_id) == ["resident", "primary_advisor"]
        (text,) = world.gateway.texts_to(PRIMARY)
        assert "居家养老告警" in text and "幸福路 8 号" in text

        await world.advance(minutes=15)  # not acknowledged: backup and family
        assert await roles_notified(world, alert_id) == [
            "resident", "primary_advisor", "backup_advisor", "family", "family", "family",
        ]  # fmt: skip
        (english,) = world.gateway.texts_to(FAMILY_SMS)
        assert english.startswith("Eldercare: at 2026-01-05 09:00 we noticed no sign of activity")
        (chinese,) = world.gateway.texts_to(FAMILY_ZH)
        assert "您家人的住所" in chinese
        assert [m["To"] for m in world.inbox] == ["son@example.org"]
        assert "Escalated" not in english  # family are not told about our internals

        await world.advance(minutes=15)  # still nobody: the supervisor (street office)
        assert (await roles_notified(world, alert_id))[-1] == "supervisor"
        office = world.inbox[-1]
        assert office["To"] == "office@example.org"
        assert "升级通知" in office.get_body(("plain",)).get_content()  # type: ignore[union-attr]
        html_part = office.get_body(("html",))
        assert html_part is not None and "<p>" in html_part.get_content()

        await world.advance(hours=5)  # the policy is exhausted: nothing more
        assert len(await roles_notified(world, alert_id)) == 7
    history = await alert_history(db, alert_id)
    steps = [h["detail"]["step"] for h in history if h["action"] == "escalated"]
    assert steps == [0, 1, 2, 3]
    assert await db.fetchval("SELECT count(*) FROM alert_deliveries WHERE status <> 'sent'") == 0


async def test_acknowledgement_stops_escalation_which_resumes_if_unresolved(
    db: asyncpg.Connection, db_url: str
) -> None:
    await register_home(db)
    async with alert_world(db_url) as world:
        (opened,) = await world.service.ingest([finding()])
        alert_id = opened.alert_id or 0
        await world.advance(minutes=5)  # primary advisor paged
        await world.advance(minutes=3)
        await world.service.acknowledge(alert_id, "advisor-wang")
        await world.advance(minutes=50)  # well past the 15-min step: nothing new
        assert await roles_notified(world, alert_id) == ["resident", "primary_advisor"]
        await world.advance(minutes=10)  # acknowledged 60 min ago, not resolved: resume
        roles = await roles_notified(world, alert_id)
        assert roles[2:] == ["backup_advisor", "family", "family", "family"]
        (reminder,) = world.gateway.texts_to(BACKUP)
        assert "提醒：已确认但尚未处理完毕" in reminder
        await world.service.resolve(alert_id, "advisor-wang", Outcome.ASSISTED)
        await world.advance(hours=3)
        assert len(await roles_notified(world, alert_id)) == 6
    actions = [h["action"] for h in await alert_history(db, alert_id)]
    assert actions == ["opened", "escalated", "escalated", "acknowledged", "escalation_resumed",
                       "resolved"]  # fmt: skip


async def test_timers_survive_a_restart(db: asyncpg.Connection, db_url: str) -> None:
    await register_home(db)
    async with alert_world(db_url) as world:
        (opened,) = await world.service.ingest([finding()])
        stopped_at = world.clock.now()
    # A new process, later: the due time is in the database, not in a task.
    async with alert_world(db_url, start=stopped_at + timedelta(minutes=7)) as world:
        await world.sweeper.sweep_once()
        assert await roles_notified(world, opened.alert_id or 0) == ["resident", "primary_advisor"]


async def test_checkin_answered_fine_resolves_and_tells_the_advisor_in_the_digest(
    db: asyncpg.Connection, db_url: str
) -> None:
    await register_home(db)
    async with alert_world(db_url) as world:
        (opened,) = await world.service.ingest([finding()])
        await world.dispatcher.dispatch_once()
        (key,) = world.gateway.calls
        assert await world.gateway.answer(key, "fine") == 200
        assert await world.gateway.answer(key, "fine") == 200  # the gateway retries: no-op
        alert = await world.service.get(opened.alert_id or 0)
        assert alert.state is AlertState.RESOLVED and alert.outcome is Outcome.RESIDENT_OK
        assert alert.resolved_by == "resident_checkin"
        await world.advance(minutes=30)
        assert world.gateway.texts_to(PRIMARY) == []  # no page: a digest line is waiting
        await world.advance(minutes=30)  # the digest interval has passed
        (digest,) = world.gateway.texts_to(PRIMARY)
        assert digest.startswith("居家养老汇总，共 1 条更新")
        assert "居民接听关怀电话，表示安好" in digest
    history = await alert_history(db, opened.alert_id or 0)
    assert [h["action"] for h in history][-2:] == ["checkin_answered", "resolved"]


async def test_checkin_help_or_no_answer_escalates_at_once(
    db: asyncpg.Connection, db_url: str
) -> None:
    await register_home(db)
    async with alert_world(db_url) as world:
        for result in ("help", "no_answer"):
            kind = f"check_{result}"
            (opened,) = await world.service.ingest([finding(kind)])
            await world.dispatcher.dispatch_once()
            (call,) = await world.deliveries(alert_id=opened.alert_id, channel="voice")
            key = str(call["idempotency_key"])
            assert await world.gateway.answer(key, result) == 200
            # Same transaction as the answer: the advisor's page is already in the outbox.
            roles = await roles_notified(world, opened.alert_id or 0)
            assert roles == ["resident", "primary_advisor"], result
            history = await alert_history(db, opened.alert_id or 0)
            assert history[-2]["detail"]["result"] == result
            assert history[-1]["action"] == "escalated"


async def test_checkin_callback_refuses_a_bad_signature_and_unknown_calls(
    db: asyncpg.Connection, db_url: str
) -> None:
    await register_home(db)
    async with alert_world(db_url) as world:
        await world.service.ingest([finding()])
        await world.dispatcher.dispatch_once()
        (key,) = world.gateway.calls
        assert await world.gateway.answer(key, "fine", secret=b"wrong-secret-0123456") == 401
        world.gateway.calls["00000000-0000-0000-0000-000000000000"] = world.gateway.calls[key]
        assert await world.gateway.answer("00000000-0000-0000-0000-000000000000", "fine") == 404
        (alert,) = await list_alerts(db)
        assert alert.state is AlertState.OPEN


async def test_smoke_reaches_everyone_at_once(db: asyncpg.Connection, db_url: str) -> None:
    async with alert_world(db_url) as world:
        await register_home(db, emergency_webhook=world.webhooks.url)
        (opened,) = await world.service.ingest([smoke()])
        # One transaction: every role is in the outbox before anything is sent.
        assert sorted(set(await roles_notified(world, opened.alert_id or 0))) == [
            "backup_advisor", "emergency", "family", "primary_advisor", "resident", "supervisor",
        ]  # fmt: skip
        await world.dispatcher.dispatch_once()
        assert len(world.gateway.calls) == 1
        assert {m["to"] for m in world.gateway.messages.values()} == {
            PRIMARY, BACKUP, FAMILY_SMS, FAMILY_ZH,
        }  # fmt: skip
        assert "URGENT" in world.gateway.texts_to(FAMILY_SMS)[0]
        assert sorted(m["To"] for m in world.inbox) == ["office@example.org", "son@example.org"]
        ((valid, body, headers),) = world.webhooks.received
        assert valid and body["alert_id"] == opened.alert_id and "烟雾报警" in body["text"]
        assert headers["Idempotency-Key"] == body["idempotency_key"]
        # The resident says "fine": a smoke alarm still waits for a person.
        (key,) = world.gateway.calls
        await world.gateway.answer(key, "fine")
        assert (await world.service.get(opened.alert_id or 0)).state is AlertState.OPEN


async def test_a_stored_policy_replaces_the_default(db: asyncpg.Connection, db_url: str) -> None:
    await register_home(db)
    quick = EscalationPolicy(
        (EscalationStep(0, (Role.PRIMARY_ADVISOR,)), EscalationStep(60, (Role.SUPERVISOR,)))
    )
    await save_policy(db, "high", quick, "test", START)
    async with alert_world(db_url) as world:
        (opened,) = await world.service.ingest([finding()])
        await world.advance(seconds=60)
        assert await roles_notified(world, opened.alert_id or 0) == [
            "primary_advisor",
            "supervisor",
        ]
