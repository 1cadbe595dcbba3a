"""What the console needs from the API for issue 12: the finding's params and the alert's
current state, people's names, the list filters, and the resident's profile with its role
gating and audit."""

from __future__ import annotations

from datetime import timedelta

from api.principal import Role
from core.kinds import Category, Severity
from detectors.findings import Finding
from tests.api_helpers import add_home, add_user, api_world, assign


async def test_alerts_carry_params_state_and_names(db_url: str) -> None:
    async with api_world(db_url) as world:
        await add_home(world.pool, "home-1")
        await add_user(world.pool, "li", Role.ADVISOR, display_name="李顾问")
        await assign(world.pool, "home-1", "li")
        li = await world.sign_in("li")
        finding = Finding(
            "home-1", Category.SMOKE, "smoke_alarm", Severity.CRITICAL, world.clock.now(),
            "smoke alarm sounding in the kitchen", params={"room": "kitchen"},
        )  # fmt: skip
        (result,) = await world.alerts.ingest([finding])
        alert_id = result.alert_id
        await li.json("POST", f"/api/v1/alerts/{alert_id}/claim", json={"eta_minutes": 10})
        detail = await li.json("GET", f"/api/v1/alerts/{alert_id}")
        alert = detail["alert"]
        assert alert["params"] == {"room": "kitchen"}
        assert alert["names"] == {"li": "李顾问"}
        assert alert["condition_cleared_at"] is None and alert["checkin_result"] is None
        assert detail["alert"]["claimed_by"] == "li"
        # the check-in call's recipient is named, not `resident:1`
        checkin = [d for d in detail["deliveries"] if d["recipient_role"] == "resident"]
        assert checkin and checkin[0]["recipient_name"] == "resident"
        # Mine / unclaimed filters
        other = await world.open_alert("home-1")
        mine = await li.json("GET", "/api/v1/alerts?mine=true")
        assert [a["id"] for a in mine["alerts"]] == [alert_id]
        unclaimed = await li.json("GET", "/api/v1/alerts?unclaimed=true")
        assert [a["id"] for a in unclaimed["alerts"]] == [other]
        street = await li.json("GET", "/api/v1/alerts?street=west")
        assert street["alerts"] == []
        texts = await world.anonymous().json("GET", "/api/v1/texts")
        assert texts["templates"]["en"]["smoke_alarm"] == "smoke alarm sounding{in_room}"
        assert texts["rooms"]["zh-CN"]["kitchen"] == "厨房"


async def test_the_profile_is_shown_to_those_who_need_it_and_audited(db_url: str) -> None:
    async with api_world(db_url) as world:
        await add_home(world.pool, "home-1", street="east")
        await add_home(world.pool, "home-2", street="west")
        await add_user(world.pool, "li", Role.ADVISOR, display_name="李顾问")
        await assign(world.pool, "home-1", "li")
        await add_user(world.pool, "fam", Role.FAMILY)
        await assign(world.pool, "home-1", "fam", role="family")
        office = await world.user_signed_in("office", Role.SUPERVISOR, street="east")
        change = {
            "name": "王秀英", "birth_year": 1941, "phone": "+8613900000001",
            "building": "3号楼", "floor": "5", "unit": "502",
            "key_holder_name": "邻居陈阿姨", "key_holder_phone": "+8613600000002",
            "care_notes": {"hearing": "左耳听力弱", "pets": "一只狗"},
        }  # fmt: skip
        saved = await office.json("PUT", "/api/v1/homes/home-1/profile", json=change)
        assert saved["floor"] == "5" and saved["care_notes"]["pets"] == "一只狗"
        assert saved["age"] == 2026 - 1941 and saved["advisor_name"] == "李顾问"
        # a street's office may not change another street's home, nor may an advisor
        await office.json("PUT", "/api/v1/homes/home-2/profile", 404, json={"floor": "1"})
        li = await world.sign_in("li")
        await li.json("PUT", "/api/v1/homes/home-1/profile", 403, json={"floor": "1"})
        bad = await office.json(
            "PUT", "/api/v1/homes/home-1/profile", 422, json={"key_holder_phone": "call me"}
        )
        assert bad["error"]["field"] == "key_holder_phone"
        seen = await li.json("GET", "/api/v1/homes/home-1/profile")
        assert seen["key_holder_phone"] == "+8613600000002" and seen["building"] == "3号楼"
        await li.json("GET", "/api/v1/homes/home-2/profile", 404)
        fam = await world.sign_in("fam")
        basics = await fam.json("GET", "/api/v1/homes/home-1/profile")
        assert set(basics) == {"home_id", "name", "age", "advisor_name", "advisor_phone"}
        assert basics["name"] == "王秀英"
        admin = await world.bearer("root", Role.ADMIN)
        log = await admin.json("GET", "/api/v1/audit")
        reads = [(e["username"], e["action"], e["home_id"]) for e in log["entries"]]
        assert ("li", "home.profile", "home-1") in reads
        assert ("fam", "home.profile", "home-1") in reads
        assert ("office", "home.profile.update", "home-1") in reads
        assert ("li", "home.profile", "home-2") not in reads  # not found: nothing read


async def test_right_now_lists_what_needs_a_supervisor(db_url: str) -> None:
    async with api_world(db_url) as world:
        await add_home(world.pool, "home-1", street="east", resident="王秀英")
        await add_home(world.pool, "home-2", street="east")
        await add_user(world.pool, "li", Role.ADVISOR, display_name="李顾问")
        async with world.pool.acquire() as conn:
            await conn.execute(
                "INSERT INTO devices (id, home_id, type) VALUES ('m-2', 'home-2', 'water_meter')"
            )
        office = await world.user_signed_in("office", Role.SUPERVISOR, street="east")
        waiting = await world.open_alert("home-1")
        claimed = await world.open_alert("home-2", kind="water_inactivity")
        await world.alerts.claim(claimed, "li", world.clock.now() + timedelta(minutes=10))
        world.clock.advance(timedelta(minutes=16))
        now = await office.json("GET", "/api/v1/dashboard/now")
        assert [(i["alert_id"], i["resident_name"]) for i in now["unacknowledged"]] == [
            (waiting, "王秀英")
        ]
        assert [(i["alert_id"], i["who"]) for i in now["overdue_arrivals"]] == [(claimed, "李顾问")]
        assert [i["home_id"] for i in now["homes_offline"]] == ["home-2"]
