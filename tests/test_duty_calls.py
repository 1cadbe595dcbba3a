"""The escalation call to an advisor on duty, answered with a key press (DTMF), end to end
through the SMS and voice gateway stand-ins over HTTP: 1 acknowledges as that advisor,
3 passes the alert on, no answer changes nothing; the resident's check-in call takes key
presses the same way (1 fine, 2 help)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass

import aiohttp
import asyncpg

from alerts.callbacks import VOICE_CALLBACK_PATH
from alerts.channels.base import Channel
from alerts.channels.sms import SmsChannel
from alerts.channels.voice import VoiceChannel
from alerts.config import AlertConfig
from alerts.dispatcher import Dispatcher
from alerts.service import AlertService
from core.alerts import AlertState
from core.clock import ManualClock
from core.contacts import ChannelKind, Language, Role
from core.duty import Rotation
from core.policy import EscalationPolicy, EscalationStep
from simulators.gateways.sms import SmsGateway, sms_gateway
from simulators.gateways.voice import VoiceGateway, voice_gateway
from storage import duty as duty_rows
from storage.alerts import alert_history
from storage.alerts_routing import save_policy
from storage.duty import DutyPerson
from tests.test_alert_support import START, finding, local, register_home, served_service

SECRET = b"gateway-callback-secret-0123"
STREET = "幸福街道"
LI, FIXED_BACKUP, RESIDENT = "+8613866666662", "+8613822222222", "+8613800000000"


@dataclass
class World:
    service: AlertService
    dispatcher: Dispatcher
    sms: SmsGateway
    voice: VoiceGateway

    async def answered(self, to: str) -> str:
        """Wait until the call to `to` has had its callback; its result."""
        for _ in range(400):
            calls = [c for c in self.voice.calls if c.to == to]
            if calls and calls[-1].callback_status != "pending":
                assert calls[-1].callback_status == "delivered"
                return str(calls[-1].result)
            await asyncio.sleep(0.025)
        raise AssertionError(f"no callback for the call to {to}")


@asynccontextmanager
async def world(
    db: asyncpg.Connection, db_url: str, steps: tuple[EscalationStep, ...]
) -> AsyncIterator[World]:
    await register_home(db)
    await db.execute("UPDATE homes SET street = $1", STREET)
    await duty_rows.put_person(db, DutyPerson("advisor.li", Language.ZH, LI, call=True), START)
    rota = Rotation(0, STREET, "day", ("advisor.li",), local(8), 86400)
    await duty_rows.add_rotation(db, rota, "admin", START)
    await save_policy(db, "high", EscalationPolicy(steps, resolve_within_s=3600), "t", START)
    clock = ManualClock(START)
    config = AlertConfig()
    async with (
        served_service(db_url, clock, config, SECRET) as (service, pool, callbacks),
        sms_gateway() as sms,
        voice_gateway(SECRET, answer_delay_s=0.01, default_answer="no_answer") as voice,
        aiohttp.ClientSession() as session,
    ):
        channels: dict[ChannelKind, Channel] = {
            ChannelKind.SMS: SmsChannel(session, sms.url),
            ChannelKind.VOICE: VoiceChannel(session, voice.url, callbacks + VOICE_CALLBACK_PATH),
        }
        yield World(service, Dispatcher(pool, clock, channels, config), sms, voice)


ADVISOR_FIRST = (
    EscalationStep(0, (Role.PRIMARY_ADVISOR,)),
    EscalationStep(600, (Role.BACKUP_ADVISOR,)),
)


async def test_pressing_1_in_the_duty_call_acknowledges(
    db: asyncpg.Connection, db_url: str
) -> None:
    async with world(db, db_url, ADVISOR_FIRST) as w:
        w.voice.set_answers({LI: "press:1"})
        (opened,) = await w.service.ingest([finding()])
        assert opened.alert_id is not None
        await w.dispatcher.dispatch_once()
        assert w.sms.texts_to(LI)  # texted and phoned
        (call,) = [c for c in w.voice.calls if c.to == LI]
        assert "确认请按1" in call.script and "幸福路 8 号" in call.script
        assert await w.answered(LI) == "press:1"
        alert = await w.service.get(opened.alert_id)
        assert alert.state is AlertState.ACKNOWLEDGED and alert.acknowledged_by == "advisor.li"
        history = await alert_history(db, opened.alert_id)
        (ack,) = [h for h in history if h["action"] == "acknowledged"]
        assert ack["detail"] == {"via": "call"}


async def test_pressing_3_passes_on_and_silence_changes_nothing(
    db: asyncpg.Connection, db_url: str
) -> None:
    async with world(db, db_url, ADVISOR_FIRST) as w:
        w.voice.set_answers({LI: "press:3"})
        (opened,) = await w.service.ingest([finding()])
        assert opened.alert_id is not None
        await w.dispatcher.dispatch_once()
        await w.answered(LI)
        await w.dispatcher.dispatch_once()  # the backup's text, with no time gone by
        assert w.sms.texts_to(FIXED_BACKUP)
        history = await alert_history(db, opened.alert_id)
        assert "passed_on" in [h["action"] for h in history]
        assert (await w.service.get(opened.alert_id)).state is AlertState.OPEN


async def test_no_answer_to_the_duty_call_leaves_the_alert_open(
    db: asyncpg.Connection, db_url: str
) -> None:
    async with world(db, db_url, ADVISOR_FIRST) as w:
        (opened,) = await w.service.ingest([finding()])
        assert opened.alert_id is not None
        await w.dispatcher.dispatch_once()
        assert await w.answered(LI) == "no_answer"
        assert (await w.service.get(opened.alert_id)).state is AlertState.OPEN
        assert not w.sms.texts_to(FIXED_BACKUP)  # the backup waits for the timer


async def test_the_resident_presses_1_for_fine(db: asyncpg.Connection, db_url: str) -> None:
    steps = (EscalationStep(0, (Role.RESIDENT,)), EscalationStep(300, (Role.PRIMARY_ADVISOR,)))
    async with world(db, db_url, steps) as w:
        w.voice.set_answers({RESIDENT: "press:1"})
        (opened,) = await w.service.ingest([finding()])
        assert opened.alert_id is not None
        await w.dispatcher.dispatch_once()
        assert await w.answered(RESIDENT) == "press:1"
        alert = await w.service.get(opened.alert_id)
        assert alert.state is AlertState.RESOLVED and alert.outcome == "resident_ok"
