"""The outbox and the dispatcher: real SMS gateway, real SMTP server; retries, failure
raising a visible problem, and crashes that neither lose nor duplicate a message."""

from __future__ import annotations

import asyncio
from datetime import timedelta

import asyncpg
import pytest

from alerts.apply import DELIVERY_FAILED_KIND
from alerts.channels.base import Channel, DeliveryResult
from alerts.config import AlertConfig
from alerts.dispatcher import DispatchConfig, Dispatcher
from alerts.outbox import RetryPolicy
from alerts.runtime import running_alerts
from core.contacts import ChannelKind
from core.kinds import Category, Severity
from core.outbox import Delivery
from storage.alerts import list_alerts
from storage.alerts_outbox import attempts_of_delivery
from tests.test_alert_support import alert_world, finding, register_home

PRIMARY = "+8613811111111"
# Medium alerts page the primary advisor by SMS straight away: one message to watch.
LEAK = finding("leak_continuous_flow", Category.LEAK, Severity.MEDIUM)
NO_JITTER = AlertConfig(retry=RetryPolicy(max_attempts=3, base_delay_s=30, jitter=0))


async def test_sms_and_email_are_delivered_and_each_attempt_recorded(
    db: asyncpg.Connection, db_url: str
) -> None:
    await register_home(db)
    async with alert_world(db_url) as world:
        await world.service.ingest([LEAK])
        await world.advance(hours=2)  # nobody acknowledged: the backup advisor too
        await world.advance(hours=4)  # and then the supervisor, by e-mail
        deliveries = await world.deliveries()
        (mail,) = world.inbox
    assert [(d["channel"], d["status"]) for d in deliveries] == [
        ("sms", "sent"),
        ("sms", "sent"),
        ("email", "sent"),
    ]
    (sms_text,) = world.gateway.texts_to(PRIMARY)
    assert "疑似漏水或水龙头未关" in sms_text
    sms = deliveries[0]
    assert sms["provider_ref"] == "id-1" and sms["attempts"] == 1
    assert world.gateway.messages[str(sms["idempotency_key"])]["to"] == PRIMARY
    (attempt,) = await attempts_of_delivery(db, sms["id"])
    assert (attempt["outcome"], attempt["status_code"]) == ("sent", 202)
    assert mail["Message-ID"] == f"<{deliveries[2]['idempotency_key']}@eldercare>"
    assert mail["Subject"] == "【中】幸福路 8 号 (home-1)：疑似漏水或水龙头未关"
    body = mail.get_body(("plain",))
    assert body is not None and "升级通知：尚无人确认（第 3 步）" in body.get_content()


async def test_a_gateway_that_is_down_is_retried_then_failed_which_raises_a_problem(
    db: asyncpg.Connection, db_url: str
) -> None:
    await register_home(db)
    async with alert_world(db_url, config=NO_JITTER) as world:
        world.gateway.fail_status = 503
        (opened,) = await world.service.ingest([LEAK])
        await world.dispatcher.dispatch_once()
        (sms,) = await world.deliveries(alert_id=opened.alert_id)
        assert (sms["status"], sms["attempts"]) == ("pending", 1)
        assert sms["next_attempt_at"] == world.clock.now() + timedelta(seconds=30)
        await world.advance(seconds=29)
        assert len(world.gateway.requests) == 1  # backing off
        await world.advance(seconds=1)
        await world.advance(seconds=60)  # the third and last attempt
        (sms,) = await world.deliveries(alert_id=opened.alert_id)
        await world.dispatcher.dispatch_once()  # the problem's own message (e-mail) goes out
        problems = [a for a in await list_alerts(db) if a.kind == DELIVERY_FAILED_KIND]
        ops_mail = [m for m in world.inbox if m["To"] == "ops@example.org"]
    assert len(world.gateway.requests) == 3
    assert (sms["status"], sms["attempts"]) == ("failed", 3)
    assert "HTTP 503" in sms["last_error"]
    outcomes = [a["outcome"] for a in await attempts_of_delivery(db, sms["id"])]
    assert outcomes == ["retry", "retry", "failed"]
    (problem,) = problems
    assert problem.category is Category.SYSTEM and problem.home_id == "home-1"
    assert f"delivery {sms['id']} (sms to primary_advisor) failed after 3" in problem.explanation
    assert len(ops_mail) == 1 and "a notification could not be delivered" in ops_mail[0]["Subject"]


async def test_a_permanent_refusal_fails_at_once(db: asyncpg.Connection, db_url: str) -> None:
    await register_home(db)
    async with alert_world(db_url, config=NO_JITTER) as world:
        world.gateway.fail_status = 400
        (opened,) = await world.service.ingest([LEAK])
        await world.dispatcher.dispatch_once()
        (sms,) = await world.deliveries(alert_id=opened.alert_id)
    assert (sms["status"], sms["attempts"]) == ("failed", 1)
    assert any(a.kind == DELIVERY_FAILED_KIND for a in await list_alerts(db))


async def test_a_crash_while_sending_delivers_exactly_once_by_idempotency_key(
    db: asyncpg.Connection, db_url: str
) -> None:
    await register_home(db)
    async with alert_world(db_url) as world:
        world.gateway.hang = asyncio.Event()  # the gateway accepts, then never answers
        (opened,) = await world.service.ingest([LEAK])
        first = asyncio.create_task(world.dispatcher.dispatch_once(), name="dispatcher-1")
        await asyncio.wait_for(world.gateway.received.wait(), timeout=10)
        first.cancel()  # the process dies: the send happened, its result was never recorded
        with pytest.raises(asyncio.CancelledError):
            await first
        world.gateway.hang.set()
        world.gateway.hang = None

        restarted = Dispatcher(world.pool, world.clock, world.channels, world.config)
        assert await restarted.dispatch_once() == 0  # the lease still holds it
        world.clock.advance(timedelta(seconds=DispatchConfig().lease_s))
        assert await restarted.dispatch_once() == 1
        (sms,) = await world.deliveries(alert_id=opened.alert_id)
    keys = [body["idempotency_key"] for _, body in world.gateway.requests]
    assert keys == [str(sms["idempotency_key"])] * 2  # sent twice, with one key...
    assert len(world.gateway.messages) == 1  # ...so the phone got one message
    assert sms["status"] == "sent"
    outcomes = [a["outcome"] for a in await attempts_of_delivery(db, sms["id"])]
    assert outcomes == ["abandoned", "sent"]  # and the record says what happened


class _StallBeforeSending:
    """Wraps a real channel; stops before the first send as if the process died there."""

    def __init__(self, inner: Channel) -> None:
        self.inner = inner
        self.reached = asyncio.Event()
        self.stalls = 1

    async def send(self, delivery: Delivery) -> DeliveryResult:
        if self.stalls:
            self.stalls -= 1
            self.reached.set()
            await asyncio.Event().wait()  # never returns; the task is cancelled here
        return await self.inner.send(delivery)


async def test_a_crash_between_commit_and_send_loses_nothing(
    db: asyncpg.Connection, db_url: str
) -> None:
    await register_home(db)
    async with alert_world(db_url) as world:
        (opened,) = await world.service.ingest([LEAK])  # outbox row committed
        stall = _StallBeforeSending(world.channels[ChannelKind.SMS])
        channels = {**world.channels, ChannelKind.SMS: stall}
        dying = Dispatcher(world.pool, world.clock, channels, world.config)
        task = asyncio.create_task(dying.dispatch_once(), name="dispatcher-dying")
        await asyncio.wait_for(stall.reached.wait(), timeout=10)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        assert world.gateway.requests == []
        world.clock.advance(timedelta(minutes=5))
        await Dispatcher(world.pool, world.clock, world.channels, world.config).dispatch_once()
        (sms,) = await world.deliveries(alert_id=opened.alert_id)
    assert len(world.gateway.requests) == 1 and sms["status"] == "sent"
    outcomes = [a["outcome"] for a in await attempts_of_delivery(db, sms["id"])]
    assert outcomes == ["abandoned", "sent"]


async def test_a_last_attempt_that_never_reports_back_fails_visibly(
    db: asyncpg.Connection, db_url: str
) -> None:
    await register_home(db)
    one_try = AlertConfig(retry=RetryPolicy(max_attempts=1))
    async with alert_world(db_url, config=one_try) as world:
        (opened,) = await world.service.ingest([LEAK])
        stall = _StallBeforeSending(world.channels[ChannelKind.SMS])
        dying = Dispatcher(world.pool, world.clock, {ChannelKind.SMS: stall}, one_try)
        task = asyncio.create_task(dying.dispatch_once(), name="dispatcher-dying")
        await asyncio.wait_for(stall.reached.wait(), timeout=10)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        await world.advance(minutes=5)
        (sms,) = await world.deliveries(alert_id=opened.alert_id)
    assert sms["status"] == "failed" and "dispatcher lost" in sms["last_error"]
    assert world.gateway.requests == []
    assert any(a.kind == DELIVERY_FAILED_KIND for a in await list_alerts(db))


async def test_the_background_tasks_deliver_without_being_driven(
    db: asyncpg.Connection, db_url: str
) -> None:
    await register_home(db)
    async with alert_world(db_url) as world:
        fast = DispatchConfig(poll_interval_s=0.01)
        async with running_alerts(world.pool, world.clock, world.channels, world.config, fast):
            await world.service.ingest([LEAK])
            await asyncio.wait_for(world.gateway.received.wait(), timeout=10)
    assert world.gateway.texts_to(PRIMARY)
