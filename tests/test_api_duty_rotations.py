"""The duty page's data through the API: a supervisor reads their street's rotations
(members by name, shift, window, weekdays, priority), who is on duty now, the next
handoff, and the overrides to come; an admin reads every street."""

from __future__ import annotations

from datetime import time, timedelta

from api.principal import Role
from core.contacts import Language
from core.duty import Rotation, Tier, parse_days
from storage import duty as duty_rows
from storage.duty import DutyPerson
from tests.api_helpers import START, add_home, add_user, api_world


async def test_supervisor_reads_their_streets_rota(db_url: str) -> None:
    async with api_world(db_url) as world:
        await add_home(world.pool, "e1", street="east")
        await add_home(world.pool, "w1", street="west")
        for name, shown in (("li", "李顾问"), ("zhang", "张顾问"), ("chen", "陈顾问")):
            await add_user(world.pool, name, Role.ADVISOR, display_name=shown)
        async with world.pool.acquire() as conn:
            for ref in ("li", "zhang", "chen"):
                await duty_rows.put_person(conn, DutyPerson(ref, Language.ZH, "+8613866666662"),
                                           START)  # fmt: skip
            day = Rotation(0, "east", "day", ("li", "zhang"), START, 86400)
            night = Rotation(0, "east", "night", ("chen",), START - timedelta(days=7), 86400,
                             tier=Tier.BACKUP, window_start=time(20), window_end=time(8),
                             days=parse_days("mon-fri"), priority=2)  # fmt: skip
            west = Rotation(0, "west", "day", ("zhang",), START, 7 * 86400)
            for rota in (day, night, west):
                await duty_rows.add_rotation(conn, rota, "admin", START)
        sue = await world.user_signed_in("sue", Role.SUPERVISOR, street="east")

        rota = await sue.json("GET", "/api/v1/duty/rotations")
        assert [s["street"] for s in rota["streets"]] == ["east"]  # her street only
        (east,) = rota["streets"]
        assert east["primary"]["name"] == "李顾问" and east["backup"] is None  # 09:00 local
        assert [r["layer"] for r in east["rotations"]] == ["day", "night"]
        day_row, night_row = east["rotations"]
        assert [m["name"] for m in day_row["members"]] == ["李顾问", "张顾问"]
        assert day_row["shift_s"] == 86400 and day_row["window_start"] is None
        assert night_row["tier"] == "backup" and night_row["priority"] == 2
        assert night_row["window_start"] == "20:00:00" and night_row["window_end"] == "08:00:00"
        assert night_row["days"] == [1, 2, 3, 4, 5]
        # The next handoffs: tomorrow's day shift to 张; the night backup from 20:00 local.
        assert east["next_primary"]["name"] == "张顾问"
        assert east["next_primary"]["at"] == "2026-01-06T09:00:00+08:00"
        assert east["next_backup"]["name"] == "陈顾问"
        assert east["next_backup"]["at"] == "2026-01-05T20:00:00+08:00"
        assert east["overrides"] == []

        start, end = START + timedelta(hours=2), START + timedelta(hours=4)
        cover = {"street": "east", "person": "chen", "start": start.isoformat(),
                 "end": end.isoformat(), "reason": "李 看病"}  # fmt: skip
        await sue.json("POST", "/api/v1/duty/overrides", expect=201, json=cover)
        (east,) = (await sue.json("GET", "/api/v1/duty/rotations"))["streets"]
        assert [(o["name"], o["reason"]) for o in east["overrides"]] == [("陈顾问", "李 看病")]
        assert east["next_primary"]["name"] == "陈顾问"  # the cover comes first
        assert east["primary"]["name"] == "李顾问"  # not yet

        world.clock.advance(timedelta(hours=5))  # the cover is over: no longer listed
        (east,) = (await sue.json("GET", "/api/v1/duty/rotations"))["streets"]
        assert east["overrides"] == [] and east["primary"]["name"] == "李顾问"

        boss = await world.user_signed_in("boss", Role.ADMIN)
        every = await boss.json("GET", "/api/v1/duty/rotations")
        assert [s["street"] for s in every["streets"]] == ["east", "west"]
        west_row = every["streets"][1]
        assert west_row["primary"]["name"] == "张顾问" and west_row["next_primary"] is None

        advisor = await world.user_signed_in("li2", Role.ADVISOR)
        await advisor.json("GET", "/api/v1/duty/rotations", expect=403)
