"""When a gateway is down, the alert saying so does not go into the same dead gateway:
operations hear on another channel, and the console's banner shows the failing one."""

from __future__ import annotations

import asyncpg

from alerts.apply import DELIVERY_FAILED_KIND
from alerts.config import AlertConfig
from alerts.outbox import RetryPolicy
from api.principal import Role as UserRole
from core.contacts import ChannelKind, Contact, Endpoint, Language, Role
from core.kinds import Category, Severity
from storage.alerts_routing import put_contact
from tests.api_helpers import api_world
from tests.services import unique_name
from tests.test_alert_support import AlertWorld, alert_world, finding, register_home

OPS_SMS = "+8613899999999"
LEAK = finding("leak_continuous_flow", Category.LEAK, Severity.MEDIUM)
TWO_TRIES = AlertConfig(retry=RetryPolicy(max_attempts=2, base_delay_s=30, jitter=0))


async def _ops_desk(db: asyncpg.Connection, *endpoints: Endpoint) -> None:
    desk = Contact(Role.OPERATIONS, 0, "ops-desk", Language.EN, endpoints)
    await put_contact(db, "*", desk)


async def _sms_gives_up(world: AlertWorld) -> int:
    """The gateway answers 503 to everything until the leak's SMS fails; its alert id."""
    world.gateway.fail_status = 503
    (opened,) = await world.service.ingest([LEAK])
    await world.dispatcher.dispatch_once()
    await world.advance(seconds=30)  # the second and last attempt: failed
    await world.dispatcher.dispatch_once()  # the problem's own messages
    assert opened.alert_id is not None
    return opened.alert_id


async def _problem_deliveries(world: AlertWorld) -> list[dict[str, object]]:
    async with world.pool.acquire() as conn:
        problem = await conn.fetchval("SELECT id FROM alerts WHERE kind = $1", DELIVERY_FAILED_KIND)
    assert problem is not None, "no delivery_failed alert"
    return await world.deliveries(alert_id=problem)


async def _banner(db_url: str, world: AlertWorld) -> list[dict[str, object]]:
    """What the console's banner shows an advisor now (family members see none)."""
    async with api_world(db_url, start=world.clock.now()) as api:
        advisor = await api.user_signed_in(unique_name("wang"), UserRole.ADVISOR)
        body = await advisor.json("GET", "/api/v1/ops/banner")
        family = await api.user_signed_in(unique_name("fay"), UserRole.FAMILY)
        await family.json("GET", "/api/v1/ops/banner", expect=403)
    channels: list[dict[str, object]] = body["channels"]
    return channels


async def test_operations_hear_of_a_failed_sms_by_email_not_by_sms(
    db: asyncpg.Connection, db_url: str
) -> None:
    await register_home(db)
    await _ops_desk(db, Endpoint(ChannelKind.SMS, OPS_SMS),
                    Endpoint(ChannelKind.EMAIL, "ops@example.org"))  # fmt: skip
    async with alert_world(db_url, config=TWO_TRIES) as world:
        await _sms_gives_up(world)
        problem = await _problem_deliveries(world)
        assert [(d["channel"], d["address"]) for d in problem] == [("email", "ops@example.org")]
        assert [m["To"] for m in world.inbox] == ["ops@example.org"]
        assert world.gateway.texts_to(OPS_SMS) == []

        (sms,) = await _banner(db_url, world)
        assert (sms["channel"], sms["state"], sms["failed_last_hour"]) == ("sms", "failing", 1)

        # The gateway comes back: the next SMS goes out, and the banner clears.
        world.gateway.fail_status = None
        await world.service.ingest([finding("smoke_alarm", Category.SMOKE, Severity.CRITICAL)])
        await world.dispatcher.dispatch_once()
        assert world.gateway.texts_to("+8613811111111")
        assert await _banner(db_url, world) == []


async def test_with_no_other_channel_the_message_waits_for_the_gateway_and_the_banner_shows_it(
    db: asyncpg.Connection, db_url: str
) -> None:
    await register_home(db)
    await _ops_desk(db, Endpoint(ChannelKind.SMS, OPS_SMS))
    async with alert_world(db_url, config=TWO_TRIES) as world:
        await _sms_gives_up(world)
        problem = await _problem_deliveries(world)
        assert [(d["channel"], d["address"]) for d in problem] == [("sms", OPS_SMS)]
        (sms,) = await _banner(db_url, world)
        assert sms["channel"] == "sms" and sms["state"] == "failing"
