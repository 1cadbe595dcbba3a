"""Escalation reaches whoever is on duty for the home's street at that moment, through the
real SMS gateway stand-in and SMTP server; the home's own advisors when nobody is."""

from __future__ import annotations

from datetime import timedelta

import asyncpg
import pytest

from core.contacts import Language
from core.duty import Override, Rotation, Tier
from storage import duty as duty_rows
from storage.duty import DutyPerson, UnknownPerson
from tests.test_alert_support import START, alert_world, finding, local, register_home

STREET = "幸福街道"
FIXED_PRIMARY, FIXED_BACKUP = "+8613811111111", "+8613822222222"
ZHANG, LI, CHEN = "+8613866666661", "+8613866666662", "+8613866666663"


async def staff_street(db: asyncpg.Connection) -> None:
    await register_home(db)
    await db.execute("UPDATE homes SET street = $1", STREET)
    for ref, sms in (("advisor.zhang", ZHANG), ("advisor.li", LI), ("advisor.chen", CHEN)):
        await duty_rows.put_person(db, DutyPerson(ref, Language.ZH, sms), START)
    # A daily rota whose handoff is at 09:05, the moment the primary step fires
    # (the default policy calls the resident at 09:00 and the primary advisor 5 min on).
    rota = Rotation(0, STREET, "day", ("advisor.zhang", "advisor.li"),
                    local(9, 5, day=4), 86400)  # fmt: skip
    await duty_rows.add_rotation(db, rota, "admin", START)


async def primary_texts(world, alert_id: int) -> list[tuple[str, str]]:  # type: ignore[no-untyped-def]
    return [
        (d["recipient_ref"], d["address"])
        for d in await world.deliveries(alert_id=alert_id)
        if d["recipient_role"] in ("primary_advisor", "backup_advisor")
    ]


async def test_escalation_reaches_the_advisor_on_duty_after_the_handoff(
    db: asyncpg.Connection, db_url: str
) -> None:
    await staff_street(db)
    async with alert_world(db_url) as world:
        (opened,) = await world.service.ingest([finding()])  # 09:00: zhang's shift still
        assert opened.alert_id is not None
        await world.dispatcher.dispatch_once()
        await world.advance(minutes=4, seconds=59)
        assert await primary_texts(world, opened.alert_id) == []
        await world.advance(seconds=1)  # 09:05 sharp: li's shift has begun
        assert await primary_texts(world, opened.alert_id) == [("advisor.li", LI)]
        (text,) = world.gateway.texts_to(LI)
        assert "幸福路 8 号" in text
        assert world.gateway.texts_to(ZHANG) == [] and world.gateway.texts_to(FIXED_PRIMARY) == []
        await world.advance(minutes=15)  # no backup rota: the home's own backup advisor
        assert (await primary_texts(world, opened.alert_id))[1:] == [("advisor-li", FIXED_BACKUP)]
        assert world.gateway.texts_to(FIXED_BACKUP)


async def test_one_second_before_the_handoff_the_previous_advisor_is_told(
    db: asyncpg.Connection, db_url: str
) -> None:
    await staff_street(db)
    async with alert_world(db_url, start=START - timedelta(seconds=1)) as world:
        (opened,) = await world.service.ingest([finding(at=START - timedelta(seconds=1))])
        assert opened.alert_id is not None
        await world.dispatcher.dispatch_once()
        await world.advance(minutes=5)  # 09:04:59: zhang's last second
        assert await primary_texts(world, opened.alert_id) == [("advisor.zhang", ZHANG)]
        assert world.gateway.texts_to(ZHANG)


async def test_an_override_wins_over_the_rotation(db: asyncpg.Connection, db_url: str) -> None:
    await staff_street(db)
    leave = Override(0, STREET, "advisor.chen", local(8), local(18), reason="li on leave")
    await duty_rows.add_override(db, leave, "supervisor.east", START)
    async with alert_world(db_url) as world:
        (opened,) = await world.service.ingest([finding()])
        assert opened.alert_id is not None
        await world.advance(minutes=5)
        assert await primary_texts(world, opened.alert_id) == [("advisor.chen", CHEN)]
        assert world.gateway.texts_to(CHEN) and not world.gateway.texts_to(LI)


async def test_nobody_scheduled_falls_back_to_the_homes_own_advisor(
    db: asyncpg.Connection, db_url: str
) -> None:
    await staff_street(db)
    await db.execute("UPDATE homes SET street = 'another street'")
    async with alert_world(db_url) as world:
        (opened,) = await world.service.ingest([finding()])
        assert opened.alert_id is not None
        await world.advance(minutes=5)
        assert await primary_texts(world, opened.alert_id) == [("advisor-wang", FIXED_PRIMARY)]


async def test_a_rotation_of_unknown_people_is_refused(db: asyncpg.Connection) -> None:
    rota = Rotation(0, STREET, "day", ("nobody",), START, 86400, tier=Tier.BACKUP)
    with pytest.raises(UnknownPerson, match="nobody"):
        await duty_rows.add_rotation(db, rota, "admin", START)
