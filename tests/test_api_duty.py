"""Who is on duty through the API: a supervisor sees their street and covers it with an
override; the alert detail names the advisor on duty for the home's street."""

from __future__ import annotations

from datetime import timedelta
from urllib.parse import quote

from api.principal import Role
from core.contacts import Language
from core.duty import Rotation
from storage import duty as duty_rows
from storage.duty import DutyPerson
from tests.api_helpers import START, ApiWorld, add_home, add_user, api_world, assign


async def _two_advisors(world: ApiWorld) -> None:
    """李顾问 and 张顾问, advisors on the duty roster with their phones."""
    await add_user(world.pool, "li", Role.ADVISOR, display_name="李顾问")
    await add_user(world.pool, "zhang", Role.ADVISOR, display_name="张顾问")
    async with world.pool.acquire() as conn:
        for ref, sms in (("li", "+8613866666662"), ("zhang", "+8613866666661")):
            await duty_rows.put_person(conn, DutyPerson(ref, Language.ZH, sms), START)


async def _daily_handoffs(world: ApiWorld, *streets: str) -> None:
    """On each street li and zhang take turns, a day each, from START."""
    async with world.pool.acquire() as conn:
        for street in streets:
            rota = Rotation(0, street, "day", ("li", "zhang"), START, 86400)
            await duty_rows.add_rotation(conn, rota, "admin", START)


async def test_supervisor_sees_and_overrides_who_is_on_duty(db_url: str) -> None:
    async with api_world(db_url) as world:
        await add_home(world.pool, "e1", street="east")
        await add_home(world.pool, "w1", street="west")
        await _two_advisors(world)
        await _daily_handoffs(world, "east", "west")
        sue = await world.user_signed_in("sue", Role.SUPERVISOR, street="east")

        now = await sue.json("GET", "/api/v1/duty")
        assert [s["street"] for s in now["streets"]] == ["east"]  # her street only
        (east,) = now["streets"]
        assert east["primary"] == {"person": "li", "name": "李顾问", "sms": "+8613866666662",
                                   "source": "rotation", "layer": "day"}  # fmt: skip
        assert east["backup"] is None
        tomorrow = quote((START + timedelta(days=1)).isoformat())
        later = await sue.json("GET", f"/api/v1/duty?at={tomorrow}")
        assert later["streets"][0]["primary"]["person"] == "zhang"  # the next day's handoff

        cover = {"street": "east", "person": "zhang", "start": START.isoformat(),
                 "end": (START + timedelta(hours=4)).isoformat(), "reason": "李 请假"}  # fmt: skip
        made = await sue.json("POST", "/api/v1/duty/overrides", expect=201, json=cover)
        assert made["override"]["name"] == "张顾问"
        (east,) = (await sue.json("GET", "/api/v1/duty"))["streets"]
        assert east["primary"]["person"] == "zhang" and east["primary"]["source"] == "override"
        assert [o["reason"] for o in east["overrides"]] == ["李 请假"]

        other = {**cover, "street": "west"}
        await sue.json("POST", "/api/v1/duty/overrides", expect=403, json=other)
        backwards = {**cover, "end": START.isoformat()}
        error = await sue.json("POST", "/api/v1/duty/overrides", expect=422, json=backwards)
        assert "end after it starts" in error["error"]["message"]
        nobody = {**cover, "person": "ghost"}
        error = await sue.json("POST", "/api/v1/duty/overrides", expect=422, json=nobody)
        assert error["error"]["field"] == "person"

        # The alert detail says who is on duty for the home's street right now.
        await assign(world.pool, "e1", "li")
        alert_id = await world.open_alert("e1")
        detail = await sue.json("GET", f"/api/v1/alerts/{alert_id}")
        assert detail["on_duty"]["primary"]["name"] == "张顾问"
        assert detail["on_duty"]["backup"] is None


async def test_supervisor_removes_a_wrong_cover(db_url: str) -> None:
    async with api_world(db_url) as world:
        await _two_advisors(world)
        await _daily_handoffs(world, "east", "west")
        sue = await world.user_signed_in("sue", Role.SUPERVISOR, street="east")
        root = await world.bearer("root", Role.ADMIN)
        cover = {"street": "east", "person": "zhang", "start": START.isoformat(),
                 "end": (START + timedelta(hours=4)).isoformat(), "reason": "wrong"}  # fmt: skip
        east_id = (await sue.json("POST", "/api/v1/duty/overrides", expect=201, json=cover))[
            "override"
        ]["id"]
        west = {**cover, "street": "west"}
        west_id = (await root.json("POST", "/api/v1/duty/overrides", expect=201, json=west))[
            "override"
        ]["id"]

        # Someone else's street: refused, and the cover stays.
        error = await sue.json("DELETE", f"/api/v1/duty/overrides/{west_id}", expect=403)
        assert "own street" in error["error"]["message"]
        streets = {s["street"]: s for s in (await root.json("GET", "/api/v1/duty"))["streets"]}
        assert streets["west"]["primary"]["source"] == "override"
        await sue.json("DELETE", "/api/v1/duty/overrides/987654", expect=404)
        await sue.json("DELETE", "/api/v1/duty/overrides/nine", expect=422)

        # An hour in, the office takes its cover back: li (the rotation) is on duty again.
        world.clock.advance(timedelta(hours=1))
        removed = await sue.json("DELETE", f"/api/v1/duty/overrides/{east_id}")
        assert removed["override"]["id"] == east_id
        assert removed["override"]["name"] == "张顾问"
        (east,) = (await sue.json("GET", "/api/v1/duty"))["streets"]
        assert east["primary"]["person"] == "li" and east["primary"]["source"] == "rotation"
        assert east["overrides"] == []
        rota = await sue.json("GET", "/api/v1/duty/rotations")
        assert rota["streets"][0]["overrides"] == []
        await sue.json("DELETE", f"/api/v1/duty/overrides/{east_id}", expect=404)

        # The record stays: who removed it and when; before then, it was who was on duty.
        row = await world.pool.fetchrow(
            "SELECT created_by, removed_by, removed_at FROM duty_overrides WHERE id = $1", east_id
        )
        assert dict(row) == {"created_by": "sue", "removed_by": "sue",
                             "removed_at": START + timedelta(hours=1)}  # fmt: skip
        then = quote((START + timedelta(minutes=30)).isoformat())
        (east_then,) = (await sue.json("GET", f"/api/v1/duty?at={then}"))["streets"]
        assert east_then["primary"]["person"] == "zhang"
        later = quote((START + timedelta(hours=2)).isoformat())
        (east_later,) = (await sue.json("GET", f"/api/v1/duty?at={later}"))["streets"]
        assert east_later["primary"]["person"] == "li"

        # A cover that is already over is history, not something to remove.
        short = {**cover, "end": (START + timedelta(hours=2)).isoformat()}
        short_id = (await sue.json("POST", "/api/v1/duty/overrides", expect=201, json=short))[
            "override"
        ]["id"]
        world.clock.advance(timedelta(hours=2))
        await sue.json("DELETE", f"/api/v1/duty/overrides/{short_id}", expect=404)

        # An admin may remove any street's cover.
        await root.json("DELETE", f"/api/v1/duty/overrides/{west_id}")
        streets = {s["street"]: s for s in (await root.json("GET", "/api/v1/duty"))["streets"]}
        assert streets["west"]["primary"]["source"] == "rotation"


async def test_supervisor_removes_a_wrong_rotation(db_url: str) -> None:
    async with api_world(db_url) as world:
        await _two_advisors(world)
        async with world.pool.acquire() as conn:
            base = Rotation(0, "east", "day", ("li",), START, 86400)
            # Set up wrong: above the day layer, so 张 is on duty all the time.
            wrong = Rotation(0, "east", "wrong", ("zhang",), START, 86400, priority=1)
            west = Rotation(0, "west", "day", ("li", "zhang"), START, 86400)
            base_id, wrong_id, west_id = [
                await duty_rows.add_rotation(conn, rota, "admin", START)
                for rota in (base, wrong, west)
            ]
        sue = await world.user_signed_in("sue", Role.SUPERVISOR, street="east")
        root = await world.bearer("root", Role.ADMIN)
        (east,) = (await sue.json("GET", "/api/v1/duty"))["streets"]
        assert east["primary"]["person"] == "zhang" and east["primary"]["layer"] == "wrong"
        (listed,) = (await sue.json("GET", "/api/v1/duty/rotations"))["streets"]
        (shown,) = [r for r in listed["rotations"] if r["id"] == wrong_id]

        # Someone else's street: refused, and the rotation stays.
        error = await sue.json("DELETE", f"/api/v1/duty/rotations/{west_id}", expect=403)
        assert "own street" in error["error"]["message"]
        streets = {s["street"]: s for s in (await root.json("GET", "/api/v1/duty"))["streets"]}
        assert streets["west"]["primary"]["source"] == "rotation"
        await sue.json("DELETE", "/api/v1/duty/rotations/987654", expect=404)
        await sue.json("DELETE", "/api/v1/duty/rotations/nine", expect=422)
        await sue.json("DELETE", "/api/v1/duty/rotations/0", expect=422)

        # An hour in, the office takes the wrong rota back: li (the day layer) is on duty.
        world.clock.advance(timedelta(hours=1))
        removed = await sue.json("DELETE", f"/api/v1/duty/rotations/{wrong_id}")
        assert removed == {"rotation": shown}  # as the rota lists it
        assert removed["rotation"]["members"] == [{"person": "zhang", "name": "张顾问"}]
        (east,) = (await sue.json("GET", "/api/v1/duty"))["streets"]
        assert east["primary"]["person"] == "li" and east["primary"]["layer"] == "day"
        (listed,) = (await sue.json("GET", "/api/v1/duty/rotations"))["streets"]
        assert [r["id"] for r in listed["rotations"]] == [base_id]
        assert listed["primary"]["person"] == "li"
        await sue.json("DELETE", f"/api/v1/duty/rotations/{wrong_id}", expect=404)

        # The record stays: who removed it and when; before then, it was who was on duty.
        row = await world.pool.fetchrow(
            "SELECT created_by, removed_by, removed_at FROM duty_rotations WHERE id = $1",
            wrong_id,
        )
        assert dict(row) == {"created_by": "admin", "removed_by": "sue",
                             "removed_at": START + timedelta(hours=1)}  # fmt: skip
        then = quote((START + timedelta(minutes=30)).isoformat())
        (east_then,) = (await sue.json("GET", f"/api/v1/duty?at={then}"))["streets"]
        assert east_then["primary"]["person"] == "zhang"
        assert east_then["primary"]["layer"] == "wrong"
        later = quote((START + timedelta(hours=2)).isoformat())
        (east_later,) = (await sue.json("GET", f"/api/v1/duty?at={later}"))["streets"]
        assert east_later["primary"]["person"] == "li"

        # An admin may remove any street's rotation; a street with nothing left drops out.
        gone = await root.json("DELETE", f"/api/v1/duty/rotations/{west_id}")
        assert [m["name"] for m in gone["rotation"]["members"]] == ["李顾问", "张顾问"]
        left = {s["street"] for s in (await root.json("GET", "/api/v1/duty"))["streets"]}
        assert left == {"east"}
