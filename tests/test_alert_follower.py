"""The alert stage follows stored findings: each becomes an alert change exactly once, in
the transaction that marks it taken, whatever fails or runs twice."""

from __future__ import annotations

import asyncio
from datetime import timedelta

import asyncpg
import pytest

from alerts.follower import FindingsFollower
from core.kinds import Category, Severity
from storage.alerts import list_alerts
from storage.findings import insert_findings
from tests.ingest_helpers import wait_until
from tests.test_alert_support import START, alert_world, finding, register_home, smoke


async def _any_alert(db: asyncpg.Connection) -> bool:
    return bool(await list_alerts(db))


async def _untaken(db: asyncpg.Connection) -> int:
    return int(await db.fetchval("SELECT count(*) FROM findings WHERE taken_at IS NULL"))


async def test_stored_findings_become_alerts_once(db: asyncpg.Connection, db_url: str) -> None:
    await register_home(db)
    await insert_findings(db, [finding(), finding(at=START + timedelta(minutes=10)), smoke()])
    async with alert_world(db_url) as world:
        follower = FindingsFollower(world.pool, world.clock, world.config)
        assert await follower.take_once() == 3
        assert await follower.take_once() == 0  # nothing is taken twice
    alerts = {a.kind: a for a in await list_alerts(db)}
    assert sorted(alerts) == ["motion_inactivity", "smoke_alarm"]
    assert alerts["motion_inactivity"].occurrences == 2  # the repeat updated the alert
    assert await _untaken(db) == 0


async def test_two_followers_never_take_the_same_finding(
    db: asyncpg.Connection, db_url: str
) -> None:
    await register_home(db)
    repeats = [finding(at=START + timedelta(minutes=m)) for m in range(40)]
    await insert_findings(db, repeats)
    async with alert_world(db_url) as world:
        followers = [FindingsFollower(world.pool, world.clock, world.config, batch=5)
                     for _ in range(2)]  # fmt: skip

        async def drain(follower: FindingsFollower) -> None:
            while await follower.take_once():
                pass

        await asyncio.gather(*(drain(f) for f in followers))
    (alert,) = await list_alerts(db)
    assert alert.occurrences == 40
    assert sum(f.taken for f in followers) == 40


async def test_a_failed_pass_leaves_its_findings_for_the_next(
    db: asyncpg.Connection, db_url: str
) -> None:
    await register_home(db)
    await insert_findings(db, [smoke()])
    # The database refuses new alerts for a while (a real error from a real trigger).
    await db.execute(
        "CREATE FUNCTION refuse() RETURNS trigger LANGUAGE plpgsql AS"
        " $$ BEGIN RAISE EXCEPTION 'refused for the test'; END $$;"
        " CREATE TRIGGER refuse BEFORE INSERT ON alerts FOR EACH ROW EXECUTE FUNCTION refuse()"
    )
    async with alert_world(db_url) as world:
        follower = FindingsFollower(world.pool, world.clock, world.config)
        with pytest.raises(asyncpg.RaiseError):
            await follower.take_once()
        assert await _untaken(db) == 1 and await list_alerts(db) == []
        await db.execute("DROP TRIGGER refuse ON alerts")
        assert await follower.take_once() == 1
    (alert,) = await list_alerts(db)
    assert alert.kind == "smoke_alarm"
    # Its notifications were decided with it, in the same transaction.
    assert await db.fetchval("SELECT count(*) FROM alert_deliveries") > 0


async def test_the_running_follower_wakes_on_new_findings(
    db: asyncpg.Connection, db_url: str
) -> None:
    await register_home(db)
    async with alert_world(db_url) as world:
        # A poll interval far longer than the test: only the nudge can wake it in time.
        follower = FindingsFollower(world.pool, world.clock, world.config, poll_interval_s=600)
        task = asyncio.create_task(follower.run())
        try:
            await asyncio.sleep(0.2)  # it has looked once and found nothing
            await insert_findings(db, [smoke()])
            await follower.on_findings([smoke()])
            await wait_until(lambda: _any_alert(db), 10, "the smoke alert")
        finally:
            task.cancel()
            with pytest.raises(asyncio.CancelledError):
                await task


async def test_a_smoke_alarm_goes_ahead_of_a_flood_of_minor_findings(
    db: asyncpg.Connection, db_url: str
) -> None:
    await register_home(db)
    flood = [
        finding(f"battery_low_{n}", Category.DEVICE, Severity.LOW, START + timedelta(seconds=n))
        for n in range(300)
    ]
    await insert_findings(db, [*flood, smoke(START + timedelta(minutes=10))])
    async with alert_world(db_url) as world:
        follower = FindingsFollower(world.pool, world.clock, world.config, batch=50)
        await follower.take_once()
    kinds = {a.kind for a in await list_alerts(db)}
    assert "smoke_alarm" in kinds and len(kinds) == 50  # the first pass took the smoke


async def test_an_alarm_and_its_clearing_are_taken_in_their_order(
    db: asyncpg.Connection, db_url: str
) -> None:
    await register_home(db)
    minor = [finding("battery_low", Category.DEVICE, Severity.LOW)]
    alarm, cleared = (
        smoke(START),
        finding(
            "smoke_alarm", Category.SMOKE, Severity.INFO, START + timedelta(minutes=5), clears=True
        ),
    )
    again = smoke(START + timedelta(minutes=9))
    await insert_findings(db, [*minor, alarm, cleared, again])
    async with alert_world(db_url) as world:
        follower = FindingsFollower(world.pool, world.clock, world.config, batch=1)
        while await follower.take_once():
            pass
    # The second alarm is taken after the clearing: the alarm is sounding again, not
    # "cleared" as it would read if the clearing had been applied last.
    (alert,) = [a for a in await list_alerts(db) if a.kind == "smoke_alarm"]
    assert alert.active and alert.last_seen_at == again.at
    assert alert.condition_cleared_at is None
