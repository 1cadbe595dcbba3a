"""Homes, devices, residents, settings, away periods, assignments and policies through
the HTTP API: who sees which home, what the answers hold, and how bad input is refused."""

from __future__ import annotations

import asyncio
from datetime import timedelta

from api.principal import Role
from tests.api_helpers import ApiWorld, add_user, api_world, assign
from tests.view_data import NOW, alert, device, home, reading


async def _street_of_homes(world: ApiWorld) -> None:
    """e1, e2 on east street; w1 on west; wang advises e1, family fay has e2."""
    async with world.pool.acquire() as conn:
        await home(conn, "e1", "east")
        await home(conn, "e2", "east")
        await home(conn, "w1", "west")
        await device(conn, "m-e1", "e1")
        await device(conn, "p-e1", "e1", "pir", "kitchen")
        await alert(conn, "e1", "no_water", "high")
        await reading(conn, "p-e1", "e1", NOW - timedelta(hours=2), motion=True)
    await add_user(world.pool, "wang", Role.ADVISOR)
    await add_user(world.pool, "fay", Role.FAMILY)
    await assign(world.pool, "e1", "wang")
    await assign(world.pool, "e2", "fay", "family")


async def test_each_role_sees_only_its_homes(db_url: str) -> None:
    async with api_world(db_url, start=NOW) as world:
        await _street_of_homes(world)
        await add_user(world.pool, "sue", Role.SUPERVISOR, street="east")
        await add_user(world.pool, "root", Role.ADMIN)
        wang, sue = await world.sign_in("wang"), await world.sign_in("sue")
        root, fay = await world.sign_in("root"), await world.sign_in("fay")

        listed = {}
        for name, client in (("wang", wang), ("sue", sue), ("root", root)):
            body = await client.json("GET", "/api/v1/homes")
            listed[name] = [h["id"] for h in body["homes"]]
        assert listed == {"wang": ["e1"], "sue": ["e1", "e2"], "root": ["e1", "e2", "w1"]}

        # Another home is "not found" whatever is asked of it.
        for path in ("", "/readings", "/devices", "/away", "/settings", "/contacts"):
            await wang.json("GET", f"/api/v1/homes/e2{path}", expect=404)
            await sue.json("GET", f"/api/v1/homes/w1{path}", expect=404)
        await wang.json("GET", "/api/v1/homes/nowhere", expect=404)
        # Family: no homes list, no sensor feed, not even their relative's.
        await fay.json("GET", "/api/v1/homes", expect=403)
        await fay.json("GET", "/api/v1/homes/e2/readings", expect=403)
        await fay.json("GET", "/api/v1/devices", expect=403)
        devices = await wang.json("GET", "/api/v1/devices")
        assert {d["home_id"] for d in devices["devices"]} == {"e1"}
        residents = await sue.json("GET", "/api/v1/residents")
        assert {r["home_id"] for r in residents["residents"]} == {"e1", "e2"}


async def test_home_detail_and_readings(db_url: str) -> None:
    async with api_world(db_url, start=NOW) as world:
        await _street_of_homes(world)
        wang = await world.sign_in("wang")

        detail = await wang.json("GET", "/api/v1/homes/e1")
        h = detail["home"]
        assert (h["status"], h["colour"], h["open_alerts"]) == ("alert", "red", 1)
        assert h["highest_severity"] == "high"
        assert (h["devices_total"], h["devices_online"]) == (2, 2)
        assert h["last_sign_of_life_at"].startswith("2026-03-04T10:00:00")
        assert [r["display_name"] for r in detail["residents"]] == ["resident of e1"]
        assert {d["id"] for d in detail["devices"]} == {"m-e1", "p-e1"}
        # Who is assigned, without their phone numbers.
        assert detail["contacts"] == [
            {"role": "primary_advisor", "position": 0, "person_ref": "wang",
             "display_name": "wang", "language": "zh-CN"}
        ]  # fmt: skip

        readings = await wang.json("GET", "/api/v1/homes/e1/readings")
        assert readings["bucket_minutes"] == 60
        assert len(readings["water"]) == 49  # 48 hours, and the hour now running
        assert readings["motion"] == [{"t": "2026-03-04T10:00:00Z", "room": "kitchen", "events": 1}]
        assert {d["id"] for d in readings["devices"]} == {"m-e1", "p-e1"}
        short = await wang.json("GET", "/api/v1/homes/e1/readings?hours=6&bucket_minutes=30")
        assert len(short["water"]) == 13
        error = await wang.json("GET", "/api/v1/homes/e1/readings?hours=500", expect=422)
        assert error["error"]["field"] == "hours"

        # Reading a resident's data leaves an audit entry naming the home.
        async def audited() -> set[tuple[str, str | None]]:
            rows = await world.pool.fetch("SELECT action, home_id FROM audit_log")
            return {(r["action"], r["home_id"]) for r in rows}

        for _ in range(100):
            if {("home.detail", "e1"), ("home.readings", "e1")} <= await audited():
                break
            await asyncio.sleep(0.02)
        assert {("home.detail", "e1"), ("home.readings", "e1")} <= await audited()


async def test_away_periods_for_staff_and_family(db_url: str) -> None:
    async with api_world(db_url, start=NOW) as world:
        await _street_of_homes(world)
        wang, fay = await world.sign_in("wang"), await world.sign_in("fay")
        friday = "2026-03-06T10:00:00Z"

        created = await fay.json(
            "POST", "/api/v1/homes/e2/away", expect=201,
            json={"ends_at": friday, "note": "staying with me"},
        )  # fmt: skip
        period = created["away_period"]
        assert (period["declared_by"], period["note"]) == ("fay", "staying with me")
        assert period["starts_at"].startswith("2026-03-04T12:00:00")  # now, by default
        listed = await fay.json("GET", "/api/v1/homes/e2/away")
        assert [p["id"] for p in listed["away_periods"]] == [period["id"]]
        await fay.json("POST", "/api/v1/homes/e1/away", expect=404, json={"ends_at": friday})

        await wang.json("POST", "/api/v1/homes/e1/away", expect=201, json={"ends_at": friday})
        home = (await wang.json("GET", "/api/v1/homes/e1"))["home"]
        assert home["away_until"].startswith("2026-03-06T10:00:00")

        bad = [
            ({"starts_at": friday, "ends_at": "2026-03-05T10:00:00Z"}, "ends_at"),
            ({"ends_at": "2026-03-01T10:00:00Z"}, "ends_at"),
            ({"ends_at": "2026-03-06T10:00:00"}, "ends_at"),  # no offset: which zone?
            ({"ends_at": friday, "colour": "red"}, "colour"),
        ]
        for body, field in bad:
            error = await wang.json("POST", "/api/v1/homes/e1/away", expect=422, json=body)
            assert error["error"]["field"] == field, body


async def test_settings_by_managers_only(db_url: str) -> None:
    async with api_world(db_url, start=NOW) as world:
        await _street_of_homes(world)
        await add_user(world.pool, "sue", Role.SUPERVISOR, street="east")
        wang, sue = await world.sign_in("wang"), await world.sign_in("sue")

        current = await wang.json("GET", "/api/v1/homes/e1/settings")
        assert current["settings"]["timezone"] == "Asia/Shanghai"
        await wang.json("PUT", "/api/v1/homes/e1/settings", expect=403, json={"address": "x"})
        changed = await sue.json("PUT", "/api/v1/homes/e1/settings", json={"address": "1 New Road"})
        assert changed["settings"]["address"] == "1 New Road"
        assert changed["settings"]["street"] == "east"  # fields not given stay
        error = await sue.json(
            "PUT", "/api/v1/homes/e1/settings", expect=422, json={"timezone": "Mars/Olympus"}
        )
        assert error["error"]["field"] == "timezone"
        await sue.json("PUT", "/api/v1/homes/w1/settings", expect=404, json={"address": "x"})


async def test_assignments_give_and_take_homes(db_url: str) -> None:
    async with api_world(db_url, start=NOW) as world:
        await _street_of_homes(world)
        await add_user(world.pool, "sue", Role.SUPERVISOR, street="east")
        await add_user(world.pool, "li", Role.ADVISOR)
        sue, li = await world.sign_in("sue"), await world.sign_in("li")
        path = "/api/v1/homes/e2/contacts/backup_advisor/0"

        await li.json("GET", "/api/v1/homes/e2", expect=404)
        body = {"person_ref": "li", "language": "en", "sms": "+8613900000001"}
        answer = await sue.json("PUT", path, json=body)
        assert {"role": "backup_advisor", "person_ref": "li"}.items() <= answer["contacts"][
            0
        ].items()
        await li.json("GET", "/api/v1/homes/e2")  # now theirs
        seen_by_li = await li.json("GET", "/api/v1/homes/e2/contacts")
        assert all(c["sms"] is None for c in seen_by_li["contacts"])  # not a manager
        await li.json("PUT", path, expect=403, json=body)

        quiet = {**body, "quiet_start": "22:00"}
        error = await sue.json("PUT", path, expect=422, json=quiet)
        assert error["error"]["field"] == "quiet_end"
        error = await sue.json("PUT", path, expect=422, json={"person_ref": "li"})
        assert error["error"]["field"] == "sms"
        await sue.json("PUT", "/api/v1/homes/w1/contacts/family/0", expect=404, json=body)

        async with sue.delete(path) as resp:
            assert resp.status == 204
        await li.json("GET", "/api/v1/homes/e2", expect=404)
        async with sue.delete(path) as resp:
            assert resp.status == 404


async def test_escalation_policies(db_url: str) -> None:
    async with api_world(db_url, start=NOW) as world:
        root = await world.user_signed_in("root", Role.ADMIN)
        sue = await world.user_signed_in("sue", Role.SUPERVISOR)

        listed = await sue.json("GET", "/api/v1/policies")
        by_name = {p["name"]: p for p in listed["policies"]}
        assert set(by_name) == {"critical", "high", "medium", "low", "info", "system"}
        assert not by_name["medium"]["stored"]

        policy = {"steps": [{"after_s": 0, "roles": ["primary_advisor"]},
                            {"after_s": 600, "roles": ["supervisor", "family"]}],
                  "resolve_within_s": 3600}  # fmt: skip
        await sue.json("PUT", "/api/v1/policies/medium", expect=403, json=policy)
        stored = (await root.json("PUT", "/api/v1/policies/medium", json=policy))["policy"]
        assert stored["stored"] and stored["updated_by"] == "root"
        assert [s["after_s"] for s in stored["policy"]["steps"]] == [0, 600]

        twice = {"steps": [{"after_s": 0, "roles": ["family", "family"]}]}
        error = await root.json("PUT", "/api/v1/policies/medium", expect=422, json=twice)
        assert "twice" in error["error"]["message"]
        error = await root.json(
            "PUT", "/api/v1/policies/medium", expect=422, json={**policy, "resolve_within_s": 5}
        )
        assert error["error"]["field"] == "resolve_within_s"
        await root.json("PUT", "/api/v1/policies/urgent", expect=422, json=policy)

        reset = await root.json("DELETE", "/api/v1/policies/medium")
        assert not reset["policy"]["stored"]
