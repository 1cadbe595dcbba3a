"""Family quiet hours and the per-recipient hourly limit, with digests, end to end."""

from __future__ import annotations

import asyncpg

from alerts.config import AlertConfig
from alerts.throttle import ThrottleConfig
from core.alerts import Outcome
from core.kinds import Category, Severity
from tests.test_alert_support import (
    QUIET_NIGHT,
    alert_world,
    finding,
    local,
    register_home,
    smoke,
)

FAMILY_SMS, FAMILY_ZH, PRIMARY = "+447700900001", "+8613833333333", "+8613811111111"
NIGHT = local(23, 0)


async def test_quiet_hours_hold_family_messages_until_morning(
    db: asyncpg.Connection, db_url: str
) -> None:
    await register_home(db, family_quiet=QUIET_NIGHT)
    async with alert_world(db_url, start=NIGHT) as world:
        (opened,) = await world.service.ingest([finding(at=NIGHT)])
        await world.advance(minutes=5)
        await world.advance(minutes=15)  # step 3 at 23:20: backup advisor and family
        family = await world.deliveries(alert_id=opened.alert_id, recipient_role="family")
        assert {d["held_reason"] for d in family} == {"quiet_hours"}
        assert {d["next_attempt_at"] for d in family} == {local(7, 0, day=6)}
        assert world.gateway.texts_to("+8613822222222")  # the backup advisor is not held
        await world.advance(hours=7, minutes=39)  # 06:59
        assert world.gateway.texts_to(FAMILY_SMS) == []
        await world.advance(minutes=1)  # 07:00: the family hear
        assert len(world.gateway.texts_to(FAMILY_SMS)) == 1
        assert len(world.gateway.texts_to(FAMILY_ZH)) == 1
        assert [m["To"] for m in world.inbox if m["To"] == "son@example.org"]


async def test_held_messages_are_cancelled_when_the_alert_is_resolved_overnight(
    db: asyncpg.Connection, db_url: str
) -> None:
    await register_home(db, family_quiet=QUIET_NIGHT)
    async with alert_world(db_url, start=NIGHT) as world:
        (opened,) = await world.service.ingest([finding(at=NIGHT)])
        await world.advance(minutes=5)
        await world.advance(minutes=15)  # the family's messages are decided, and held
        await world.service.resolve(opened.alert_id or 0, "advisor-li", Outcome.RESIDENT_OK)
        await world.advance(hours=9)
        family = await world.deliveries(alert_id=opened.alert_id, recipient_role="family")
    assert {d["status"] for d in family} == {"cancelled"}
    assert world.gateway.texts_to(FAMILY_SMS) == []


async def test_critical_messages_ignore_quiet_hours(db: asyncpg.Connection, db_url: str) -> None:
    await register_home(db, family_quiet=QUIET_NIGHT)
    async with alert_world(db_url, start=NIGHT) as world:
        await world.service.ingest([smoke(at=NIGHT)])
        await world.dispatcher.dispatch_once()
    assert len(world.gateway.texts_to(FAMILY_SMS)) == 1
    assert len(world.gateway.texts_to(FAMILY_ZH)) == 1


async def test_the_hourly_limit_sends_the_rest_in_one_digest(
    db: asyncpg.Connection, db_url: str
) -> None:
    await register_home(db)
    config = AlertConfig(throttle=ThrottleConfig(max_per_hour=2))
    kinds = ["leak_continuous_flow", "high_daily_use", "leak_night_flow_x", "leak_other"]
    async with alert_world(db_url, config=config) as world:
        for kind in kinds:  # four medium alerts about one home within minutes
            await world.service.ingest([finding(kind, Category.LEAK, Severity.MEDIUM)])
            await world.advance(minutes=1)
        assert len(world.gateway.texts_to(PRIMARY)) == 2
        held = await world.deliveries(recipient_ref="advisor-wang", status="digested")
        assert [d["held_reason"] for d in held] == ["rate_limit", "rate_limit"]
        await world.advance(minutes=59)  # the oldest held line has waited an hour
        texts = world.gateway.texts_to(PRIMARY)
        # A critical alert is never held back, whatever the count.
        await world.service.ingest([smoke()])
        await world.dispatcher.dispatch_once()
        after_smoke = world.gateway.texts_to(PRIMARY)
    assert len(texts) == 3
    digest = texts[2]
    assert digest.startswith("居家养老汇总，共 2 条更新")
    assert digest.count("\n- ") == 2 and "#3" in digest and "#4" in digest
    assert len(after_smoke) == 4 and "烟雾报警" in after_smoke[3]
