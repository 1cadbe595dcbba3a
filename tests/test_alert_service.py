"""Findings to alerts and people's commands, against a real PostgreSQL."""

from __future__ import annotations

import asyncio
from datetime import timedelta

import asyncpg
import pytest

from alerts.apply import NO_RECIPIENTS_KIND
from alerts.intake import Verdict
from alerts.service import AlertService
from core.alerts import AlertNotFound, AlertState, IllegalTransition, InvalidCommand, Outcome
from core.clock import ManualClock
from core.findings import Finding
from core.kinds import Category, Severity
from storage.alerts import alert_history, list_alerts
from tests.test_alert_support import HOME, START, alert_world, finding, register_home, smoke


async def test_a_repeat_finding_updates_the_active_alert(
    db: asyncpg.Connection, db_url: str
) -> None:
    await register_home(db)
    async with alert_world(db_url) as world:
        first = await world.service.ingest([finding()])
        world.clock.advance(timedelta(minutes=1))
        again = await world.service.ingest([finding(at=START + timedelta(minutes=30))])
    assert [r.verdict for r in first + again] == [Verdict.OPENED, Verdict.REPEATED]
    assert first[0].alert_id == again[0].alert_id
    (alert,) = await list_alerts(db)
    assert (alert.occurrences, alert.last_seen_at) == (2, START + timedelta(minutes=30))
    assert again[0].delivery_ids == ()  # a repeat notifies nobody again
    deliveries = await db.fetchval("SELECT count(*) FROM alert_deliveries")
    assert deliveries == 1  # the check-in call of the first step, once


async def test_recurrence_soon_after_resolution_reopens_with_a_link(
    db: asyncpg.Connection, db_url: str
) -> None:
    await register_home(db)
    async with alert_world(db_url) as world:
        (first,) = await world.service.ingest([finding()])
        assert first.alert_id is not None
        await world.service.resolve(first.alert_id, "advisor-wang", Outcome.RESIDENT_OK)
        world.clock.advance(timedelta(hours=2))
        (soon,) = await world.service.ingest([finding(at=world.clock.now())])
        assert soon.alert_id is not None
        await world.service.resolve(soon.alert_id, "advisor-wang", Outcome.FALSE_ALARM)
        world.clock.advance(timedelta(hours=7))
        (later,) = await world.service.ingest([finding(at=world.clock.now())])
        reopened = await world.service.get(soon.alert_id)
        fresh = await world.service.get(later.alert_id or 0)
    assert soon.verdict is Verdict.REOPENED and reopened.reopened_from == first.alert_id
    assert later.verdict is Verdict.OPENED and fresh.reopened_from is None
    history = await alert_history(db, soon.alert_id)
    assert history[0]["action"] == "reopened"
    assert history[0]["detail"] == {"reopened_from": first.alert_id}


async def test_every_transition_is_stored_in_order_with_who_and_when(
    db: asyncpg.Connection, db_url: str
) -> None:
    await register_home(db)
    async with alert_world(db_url) as world:
        (opened,) = await world.service.ingest([finding()])
        alert_id = opened.alert_id
        assert alert_id is not None
        world.clock.advance(timedelta(minutes=6))
        await world.service.acknowledge(alert_id, "advisor-wang")
        world.clock.advance(timedelta(minutes=1))
        arrival = world.clock.now() + timedelta(minutes=20)
        await world.service.claim(alert_id, "advisor-li", arrival)
        world.clock.advance(timedelta(minutes=18))
        await world.service.arrive(alert_id, "advisor-li")
        await world.service.comment(alert_id, "advisor-li", "found her in the kitchen, fine")
        world.clock.advance(timedelta(minutes=5))
        done = await world.service.resolve(alert_id, "advisor-li", Outcome.ASSISTED, "made tea")
        with pytest.raises(IllegalTransition, match="resolved"):
            await world.service.acknowledge(alert_id, "advisor-wang")
        with pytest.raises(InvalidCommand):
            await world.service.comment(alert_id, "advisor-wang", "")
        with pytest.raises(AlertNotFound):
            await world.service.acknowledge(999_999, "advisor-wang")
        await world.service.comment(alert_id, "office-east", "reviewed")
    assert done.state is AlertState.RESOLVED and done.resolved_by == "advisor-li"
    assert done.escalation_due_at is None
    assert done.arrived_at is not None and done.claimed_at is not None
    assert done.arrived_at - done.claimed_at == timedelta(minutes=18)  # time to arrive
    history = await alert_history(db, alert_id)
    assert [(h["action"], h["actor"]) for h in history] == [
        ("opened", "system"),
        ("escalated", "system"),
        ("acknowledged", "advisor-wang"),
        ("claimed", "advisor-li"),
        ("arrived", "advisor-li"),
        ("commented", "advisor-li"),
        ("resolved", "advisor-li"),
        ("commented", "office-east"),
    ]
    assert history[6]["from_state"] == "acknowledged" and history[6]["to_state"] == "resolved"
    assert history[6]["detail"] == {"outcome": "assisted", "note": "made tea"}


async def test_history_is_append_only(db: asyncpg.Connection, db_url: str) -> None:
    await register_home(db)
    async with alert_world(db_url) as world:
        await world.service.ingest([finding()])
    with pytest.raises(asyncpg.InsufficientPrivilegeError, match="append-only"):
        await db.execute("UPDATE alert_history SET actor = 'someone else'")
    with pytest.raises(asyncpg.InsufficientPrivilegeError):
        await db.execute("DELETE FROM alert_history")


async def test_clearing_resolves_medium_alerts_but_critical_ones_wait(
    db: asyncpg.Connection, db_url: str
) -> None:
    await register_home(db)
    offline = finding("device_offline", Category.DEVICE, Severity.MEDIUM)
    online = finding("device_offline", Category.DEVICE, Severity.INFO, clears=True)
    smoke_over = finding("smoke_alarm", Category.SMOKE, Severity.INFO, clears=True)
    async with alert_world(db_url) as world:
        results = await world.service.ingest([offline, smoke(), online, smoke_over])
    assert [r.verdict for r in results] == [
        Verdict.OPENED,
        Verdict.OPENED,
        Verdict.AUTO_RESOLVED,
        Verdict.CLEAR_NOTED,
    ]
    by_kind = {a.kind: a for a in await list_alerts(db)}
    device = by_kind["device_offline"]
    assert device.state is AlertState.RESOLVED and device.outcome is Outcome.CONDITION_CLEARED
    assert device.resolved_by == "system" and device.escalation_due_at is None
    fire = by_kind["smoke_alarm"]
    assert fire.state is AlertState.OPEN and fire.condition_cleared_at == START
    assert [h["action"] for h in await alert_history(db, fire.id)][-1] == "condition_cleared"


async def test_the_same_finding_from_two_processes_makes_one_alert(
    db: asyncpg.Connection, db_url: str
) -> None:
    await register_home(db)
    pools = [await asyncpg.create_pool(db_url, min_size=1, max_size=2) for _ in range(2)]
    try:
        services = [AlertService(p, ManualClock(START)) for p in pools]
        results = await asyncio.gather(*(s.ingest([finding()]) for s in services))
    finally:
        for pool in pools:
            await pool.close()
    verdicts = sorted(r[0].verdict.value for r in results)
    assert verdicts == ["opened", "repeated"]
    assert await db.fetchval("SELECT count(*) FROM alerts") == 1


async def test_an_alert_that_reaches_nobody_raises_a_system_alert(
    db: asyncpg.Connection, db_url: str
) -> None:
    # An unregistered home: no resident to call, no contacts; only operations hears.
    await register_home(db)
    async with alert_world(db_url) as world:
        (result,) = await world.service.ingest([finding(home_id="home-unknown")])
    alerts = {a.kind: a for a in await list_alerts(db, home_id="home-unknown")}
    assert result.delivery_ids == ()
    problem = alerts[NO_RECIPIENTS_KIND]
    assert problem.category is Category.SYSTEM and problem.severity is Severity.HIGH
    assert f"alert {result.alert_id}" in problem.explanation
    ops = await db.fetch("SELECT address FROM alert_deliveries WHERE alert_id = $1", problem.id)
    assert [r["address"] for r in ops] == ["ops@example.org"]


async def test_a_withdrawn_finding_resolves_its_alert_and_escalates_no_further(
    db: asyncpg.Connection, db_url: str
) -> None:
    """Late data showed the resident moving inside the silence that was reported: the
    alert is resolved with the reason in its history, and nobody more is called."""
    await register_home(db)
    withdrawal = Finding(
        HOME,
        Category.INACTIVITY,
        "motion_inactivity",
        Severity.INFO,
        START + timedelta(minutes=10),
        "withdrawn: data that arrived late shows activity at 10:20",
        clears=True,
        withdrawn=True,
    )
    async with alert_world(db_url) as world:
        (opened,) = await world.service.ingest([finding()])
        before = await db.fetchval("SELECT count(*) FROM alert_deliveries")
        world.clock.advance(timedelta(minutes=10))
        (result,) = await world.service.ingest([withdrawal])
        world.clock.advance(timedelta(hours=2))  # past every step of the policy
        await world.sweeper.sweep_once()
        after = await db.fetchval("SELECT count(*) FROM alert_deliveries")
        alert = await world.service.get(opened.alert_id or 0)
    assert result.verdict is Verdict.WITHDRAWN and result.alert_id == opened.alert_id
    assert alert.state is AlertState.RESOLVED and alert.escalation_due_at is None
    assert alert.resolved_by == "system" and "withdrawn" in (alert.resolution_note or "")
    history = await alert_history(db, alert.id)
    assert [h["action"] for h in history][-2:] == ["withdrawn", "resolved"]
    assert after == before  # escalated no further
