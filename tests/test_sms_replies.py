"""Advisors act on an alert by replying to its SMS, end to end: the alert SMS goes out
through the SMS gateway stand-in (simulators/gateways/sms.py) over HTTP to whoever is on
duty, the advisor's handset replies through the same stand-in, which posts the reply to
our signed webhook and texts our answer back. The injected clock moves; nothing sleeps."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import aiohttp
import asyncpg

from alerts import replies
from alerts.callbacks import SMS_CALLBACK_PATH
from alerts.channels.sms import SmsChannel
from alerts.config import AlertConfig
from alerts.dispatcher import Dispatcher
from alerts.service import AlertService
from alerts.signing import CALLBACK_SIGNATURE_HEADER, sign_body
from alerts.sweeper import Sweeper
from core.alerts import AlertState, Outcome
from core.clock import ManualClock
from core.contacts import ChannelKind, Language, Role
from core.duty import Rotation
from core.policy import EscalationPolicy, EscalationStep
from simulators.gateways.sms import SmsGateway, sms_gateway
from storage import duty as duty_rows
from storage.alerts import alert_history
from storage.alerts_routing import save_policy
from storage.duty import DutyPerson
from tests.test_alert_support import START, finding, local, register_home, served_service

SECRET = b"gateway-callback-secret-0123"
STREET = "幸福街道"
LI, ZHANG = "+8613866666662", "+8613866666661"
FIXED_BACKUP, FAMILY = "+8613822222222", "+8613833333333"
STRANGER = "+8613999999999"


@dataclass
class World:
    clock: ManualClock
    service: AlertService
    sweeper: Sweeper
    dispatcher: Dispatcher
    sms: SmsGateway
    callback_url: str

    async def advance(self, **delta: float) -> None:
        self.clock.advance(timedelta(**delta))
        await self.sweeper.sweep_once()
        await self.dispatcher.dispatch_once()


@asynccontextmanager
async def world(db: asyncpg.Connection, db_url: str) -> AsyncIterator[World]:
    """A home on a street whose day rota puts advisor.li on duty; a policy that texts the
    primary advisor at once, the backup after 10 min, the supervisor after 20."""
    await register_home(db)
    await db.execute("UPDATE homes SET street = $1", STREET)
    await db.execute(
        "INSERT INTO users (username, display_name, role, password_hash, created_at)"
        " VALUES ('advisor.li', '李顾问', 'advisor', 'x', now())"
    )
    for ref, sms in (("advisor.zhang", ZHANG), ("advisor.li", LI)):
        await duty_rows.put_person(db, DutyPerson(ref, Language.ZH, sms), START)
    rota = Rotation(0, STREET, "day", ("advisor.li", "advisor.zhang"), local(8), 86400)
    await duty_rows.add_rotation(db, rota, "admin", START)
    steps = (
        EscalationStep(0, (Role.PRIMARY_ADVISOR,)),
        EscalationStep(600, (Role.BACKUP_ADVISOR,)),
        EscalationStep(600, (Role.SUPERVISOR,)),
    )
    await save_policy(db, "high", EscalationPolicy(steps, resolve_within_s=3600), "t", START)
    clock = ManualClock(START)
    config = AlertConfig()
    async with (
        served_service(db_url, clock, config, SECRET) as (service, pool, callbacks),
        sms_gateway(secret=SECRET, inbound_url=callbacks + SMS_CALLBACK_PATH) as sms,
        aiohttp.ClientSession() as session,
    ):
        channels = {ChannelKind.SMS: SmsChannel(session, sms.url)}
        dispatcher = Dispatcher(pool, clock, channels, config)  # type: ignore[arg-type]
        yield World(clock, service, Sweeper(pool, clock, config), dispatcher, sms,
                    callbacks + SMS_CALLBACK_PATH)  # fmt: skip


async def open_alert(w: World) -> int:
    (opened,) = await w.service.ingest([finding()])
    assert opened.alert_id is not None
    await w.dispatcher.dispatch_once()
    return opened.alert_id


async def test_reply_1_acknowledges_as_the_advisor_on_duty(
    db: asyncpg.Connection, db_url: str
) -> None:
    async with world(db, db_url) as w:
        alert_id = await open_alert(w)
        (alert_sms,) = w.sms.texts_to(LI)  # advisor.li is on duty: the day rota since 08:00
        assert f"#{alert_id}" in alert_sms and "回复 1 确认" in alert_sms
        answer = await w.sms.reply(LI, "1")
        assert answer["callback_status"] == "delivered"
        assert answer["reply"] == f"已确认告警 #{alert_id}（幸福路 8 号）。"
        assert w.sms.texts_to(LI)[-1] == answer["reply"]  # texted back to the advisor
        alert = await w.service.get(alert_id)
        assert alert.state is AlertState.ACKNOWLEDGED and alert.acknowledged_by == "advisor.li"
        history = await alert_history(db, alert_id)
        ack = [h for h in history if h["action"] == "acknowledged"]
        assert ack and ack[0]["actor"] == "advisor.li" and ack[0]["detail"] == {"via": "sms"}
        # Acknowledged: the backup is not texted when the 10 minutes are up.
        await w.advance(minutes=10)
        assert w.sms.texts_to(FIXED_BACKUP) == []
        # Someone else replying 1 is told who has it.
        again = await w.sms.reply(LI, "1")
        assert again["reply"] == f"告警 #{alert_id} 已由 李顾问 确认。"


async def test_reply_2_with_minutes_claims_with_an_arrival_time(
    db: asyncpg.Connection, db_url: str
) -> None:
    async with world(db, db_url) as w:
        alert_id = await open_alert(w)
        answer = await w.sms.reply(LI, "２ ２０")  # full-width, as a Chinese keyboard types
        assert answer["reply"] == (
            f"已记录：您正前往处理告警 #{alert_id}（幸福路 8 号），预计 09:20 到达。"
        )
        alert = await w.service.get(alert_id)
        assert alert.claimed_by == "advisor.li"
        assert alert.expected_arrival_at == START + timedelta(minutes=20)
        assert alert.state is AlertState.ACKNOWLEDGED


async def test_reply_3_passes_the_alert_on_to_the_backup_at_once(
    db: asyncpg.Connection, db_url: str
) -> None:
    async with world(db, db_url) as w:
        alert_id = await open_alert(w)
        assert w.sms.texts_to(FIXED_BACKUP) == []
        answer = await w.sms.reply(LI, "3")
        assert answer["reply"] == f"告警 #{alert_id}（幸福路 8 号）已转交下一位联系人。"
        await w.dispatcher.dispatch_once()  # no time passes: the backup is texted now
        (backup_sms,) = w.sms.texts_to(FIXED_BACKUP)
        assert f"#{alert_id}" in backup_sms
        history = await alert_history(db, alert_id)
        assert [h["action"] for h in history][-2:] == ["passed_on", "escalated"]
        assert (await w.service.get(alert_id)).state is AlertState.OPEN


async def test_unknown_stale_and_unclear_replies_change_nothing(
    db: asyncpg.Connection, db_url: str
) -> None:
    async with world(db, db_url) as w:
        alert_id = await open_alert(w)
        stranger = await w.sms.reply(STRANGER, "1")
        assert stranger["reply"] == "此号码没有可处理的告警。如需帮助请联系街道办。"
        unclear = await w.sms.reply(LI, "ok")
        assert str(unclear["reply"]).startswith("未能识别回复。回复 1 确认")
        assert (await w.service.get(alert_id)).state is AlertState.OPEN
        await w.service.acknowledge(alert_id, "advisor.li")
        await w.service.resolve(alert_id, "advisor.li", Outcome.FALSE_ALARM)
        stale = await w.sms.reply(LI, "1")
        assert stale["reply"] == f"告警 #{alert_id} 已处理完毕，无需操作。"
        outcomes = await db.fetch("SELECT sender, outcome FROM sms_replies ORDER BY received_at")
        assert sorted((r["sender"], r["outcome"]) for r in outcomes) == sorted([
            (STRANGER, "unknown_sender"), (LI, "not_understood"), (LI, "stale"),
        ])  # fmt: skip


async def test_family_cannot_act_by_replying(db: asyncpg.Connection, db_url: str) -> None:
    async with world(db, db_url) as w:
        alert_id = await open_alert(w)
        await w.advance(minutes=20)  # the family are not in this policy; they get nothing
        answer = await w.sms.reply(FAMILY, "1")
        assert answer["reply"] == "此号码没有可处理的告警。如需帮助请联系街道办。"
        assert (await w.service.get(alert_id)).state is AlertState.OPEN


async def test_the_webhook_refuses_bad_signatures_and_acts_once_per_message(
    db: asyncpg.Connection, db_url: str
) -> None:
    async with world(db, db_url) as w, aiohttp.ClientSession() as session:
        alert_id = await open_alert(w)
        body = json.dumps({"message_id": "m-1", "from": LI, "text": "1", "sent_at": 0}).encode()

        async def post(signature: str) -> tuple[int, dict[str, Any]]:
            headers = {CALLBACK_SIGNATURE_HEADER: signature, "Content-Type": "application/json"}
            async with session.post(w.callback_url, data=body, headers=headers) as r:
                return r.status, await r.json()

        status, _ = await post(sign_body(b"wrong-secret-wrong-secret", body))
        assert status == 401
        assert (await w.service.get(alert_id)).state is AlertState.OPEN
        status, first = await post(sign_body(SECRET, body))
        assert status == 200 and first["status"] == "acknowledged"
        status, repeat = await post(sign_body(SECRET, body))  # the gateway retried
        assert status == 200 and repeat == {"status": "duplicate", "reply": first["reply"]}
        history = await alert_history(db, alert_id)
        assert [h["action"] for h in history].count("acknowledged") == 1
        bad = json.dumps({"message_id": "m-2", "from": "13800", "text": "1"}).encode()
        headers = {CALLBACK_SIGNATURE_HEADER: sign_body(SECRET, bad)}
        async with session.post(w.callback_url, data=bad, headers=headers) as r:
            assert r.status == 400 and "E.164" in (await r.json())["error"]


def test_what_a_reply_asks_for() -> None:
    assert replies.parse(" 1 ") == replies.ReplyCommand(replies.Verb.ACKNOWLEDGE)
    assert replies.parse("2 15") == replies.ReplyCommand(replies.Verb.CLAIM, 15)
    assert replies.parse("２　３０") == replies.ReplyCommand(replies.Verb.CLAIM, 30)
    assert replies.parse("3") == replies.ReplyCommand(replies.Verb.PASS_ON)
    for text in ("", "2", "2 0", "2 999", "1 1", "ok", "收到", "12"):
        assert replies.parse(text) is None, text


def test_every_reply_text_exists_in_both_languages() -> None:
    for key in replies.text_keys():
        for language in Language:
            text = replies.text(key, language, alert=7, home="幸福路 8 号", eta="09:20", who="李")
            assert text.strip() and "{" not in text, (key, language)
