"""The alert routes through HTTP against real PostgreSQL: the console's list, an alert's
detail, people's actions, other homes staying invisible, the live stream."""

from __future__ import annotations

import asyncio
import json
from datetime import timedelta
from typing import Any

import aiohttp

from api.context import ALERT_HUB
from api.principal import Role
from core.kinds import Category, Severity
from tests.api_helpers import START, ApiClient, ApiWorld, add_home, api_world, assign


async def _two_advisors(world: ApiWorld) -> tuple[ApiClient, ApiClient]:
    """wang advises home-1 (street east), li advises home-2 (street west)."""
    await add_home(world.pool, "home-1", street="east")
    await add_home(world.pool, "home-2", street="west")
    wang = await world.user_signed_in("wang", Role.ADVISOR)
    li = await world.user_signed_in("li", Role.ADVISOR)
    await assign(world.pool, "home-1", "wang")
    await assign(world.pool, "home-2", "li")
    return wang, li


async def test_an_advisor_claims_arrives_comments_and_resolves(db_url: str) -> None:
    async with api_world(db_url) as world:
        wang, _ = await _two_advisors(world)
        alert_id = await world.open_alert("home-1")
        base = f"/api/v1/alerts/{alert_id}"
        world.clock.advance(timedelta(minutes=3))
        claimed = (await wang.json("POST", f"{base}/claim", json={"eta_minutes": 20}))["alert"]
        assert claimed["claimed_by"] == "wang" and claimed["state"] == "acknowledged"
        assert claimed["expected_arrival_at"] == "2026-01-05T01:23:00Z"
        again = await wang.json("POST", f"{base}/claim", 409, json={"eta_minutes": 5})
        assert again["error"]["code"] == "illegal_transition"
        assert "already claimed by wang" in again["error"]["message"]
        world.clock.advance(timedelta(minutes=18))
        arrived = (await wang.json("POST", f"{base}/arrive"))["alert"]
        assert arrived["arrived_by"] == "wang" and arrived["arrived_at"] == "2026-01-05T01:21:00Z"
        await wang.json("POST", f"{base}/comment", json={"text": "she had fallen; helped up"})
        empty = await wang.json("POST", f"{base}/comment", 422, json={"text": ""})
        assert empty["error"]["field"] == "text"
        system_only = await wang.json(
            "POST", f"{base}/resolve", 422, json={"outcome": "condition_cleared"}
        )
        assert system_only["error"]["field"] == "outcome"
        done = await wang.json(
            "POST", f"{base}/resolve", json={"outcome": "assisted", "note": "made tea"}
        )
        assert done["alert"]["state"] == "resolved" and done["alert"]["outcome"] == "assisted"
        late = await wang.json("POST", f"{base}/acknowledge", 409)
        assert "resolved" in late["error"]["message"]
        detail = await wang.json("GET", base)
        assert detail["alert"]["resolution_note"] == "made tea"
        assert [(h["action"], h["actor"]) for h in detail["history"]] == [
            ("opened", "system"),
            ("escalated", "system"),
            ("acknowledged", "wang"),
            ("claimed", "wang"),
            ("arrived", "wang"),
            ("commented", "wang"),
            ("resolved", "wang"),
        ]
        (checkin,) = detail["deliveries"]
        assert checkin["purpose"] == "checkin" and checkin["recipient_role"] == "resident"
        assert "address" not in checkin  # no phone numbers in the console


async def test_acknowledge_and_claim_validation(db_url: str) -> None:
    async with api_world(db_url) as world:
        wang, _ = await _two_advisors(world)
        alert_id = await world.open_alert("home-1")
        base = f"/api/v1/alerts/{alert_id}"
        acked = await wang.json("POST", f"{base}/acknowledge", json={})
        assert acked["alert"]["acknowledged_by"] == "wang"
        twice = await wang.json("POST", f"{base}/acknowledge", 409)
        assert twice["error"]["code"] == "illegal_transition"
        await wang.json("POST", f"{base}/arrive", 409)  # nobody claimed it
        both = {"eta_minutes": 5, "expected_arrival_at": "2026-01-05T02:00:00Z"}
        assert (await wang.json("POST", f"{base}/claim", 422, json=both))["error"]
        await wang.json("POST", f"{base}/claim", 422, json={"eta_minutes": 0})
        past = {"expected_arrival_at": "2026-01-05T00:00:00+00:00"}
        message = (await wang.json("POST", f"{base}/claim", 422, json=past))["error"]["message"]
        assert "past" in message
        naive = {"expected_arrival_at": "2026-01-05T02:00:00"}
        field = (await wang.json("POST", f"{base}/claim", 422, json=naive))["error"]["field"]
        assert field == "expected_arrival_at"
        extra = await wang.json("POST", f"{base}/acknowledge", 422, json={"force": True})
        assert extra["error"]["field"] == "force"
        await wang.json("GET", "/api/v1/alerts/0", 422)
        await wang.json("GET", "/api/v1/alerts/abc", 422)


async def test_an_alert_of_another_advisors_home_is_not_found(db_url: str) -> None:
    async with api_world(db_url) as world:
        wang, li = await _two_advisors(world)
        theirs = await world.open_alert("home-2")
        base = f"/api/v1/alerts/{theirs}"
        nonexistent = await wang.json("GET", "/api/v1/alerts/999999", 404)
        assert await wang.json("GET", base, 404) == nonexistent
        for action, body in [
            ("acknowledge", {}),
            ("claim", {"eta_minutes": 10}),
            ("comment", {"text": "peeking"}),
            ("resolve", {"outcome": "false_alarm"}),
        ]:
            await wang.json("POST", f"{base}/{action}", 404, json=body)
        assert (await wang.json("GET", "/api/v1/alerts"))["alerts"] == []
        assert (await wang.json("GET", "/api/v1/alerts?home_id=home-2"))["alerts"] == []
        mine = await li.json("GET", base)  # untouched by wang's attempts
        assert mine["alert"]["state"] == "open"
        assert [h["action"] for h in mine["history"]] == ["opened", "escalated"]
        # A supervisor sees their street only; an admin sees everything.
        east = await world.user_signed_in("office-east", Role.SUPERVISOR, street="east")
        await east.json("GET", base, 404)
        admin = await world.bearer("root", Role.ADMIN)
        await admin.json("GET", base)
        # Family members have no alert routes at all.
        await assign(world.pool, "home-2", "son", role="family")
        son = await world.user_signed_in("son", Role.FAMILY)
        await son.json("GET", base, 403)


def _ids(page: dict[str, Any]) -> list[int]:
    return [a["id"] for a in page["alerts"]]


async def test_list_filters_sorts_and_pages(db_url: str) -> None:
    async with api_world(db_url) as world:
        wang, _ = await _two_advisors(world)
        await add_home(world.pool, "home-3", street="east")
        await assign(world.pool, "home-3", "wang")
        at = START
        opened: dict[str, int] = {}
        for name, home, kind, category, severity in [
            ("old_high", "home-1", "motion_inactivity", Category.INACTIVITY, Severity.HIGH),
            ("low", "home-1", "battery_low", Category.DEVICE, Severity.LOW),
            ("new_high", "home-3", "water_inactivity", Category.INACTIVITY, Severity.HIGH),
            ("critical", "home-3", "smoke_alarm", Category.SMOKE, Severity.CRITICAL),
            ("done", "home-3", "tap_running", Category.LEAK, Severity.MEDIUM),
            ("hidden", "home-2", "smoke_alarm", Category.SMOKE, Severity.CRITICAL),
        ]:
            world.clock.advance(timedelta(minutes=5))
            at += timedelta(minutes=5)
            opened[name] = await world.open_alert(home, kind, category, severity, at)
        await wang.json("POST", f"/api/v1/alerts/{opened['done']}/resolve",
                        json={"outcome": "false_alarm"})  # fmt: skip
        await wang.json("POST", f"/api/v1/alerts/{opened['low']}/acknowledge")

        active = await wang.json("GET", "/api/v1/alerts")
        expected = [opened[n] for n in ("critical", "old_high", "new_high", "low")]
        assert _ids(active) == expected and active["next_before_id"] is None
        first = active["alerts"][0]
        assert (first["home_id"], first["street"], first["resident_name"]) == (
            "home-3",
            "east",
            "resident",
        )
        assert first["timezone"] == "Asia/Shanghai"

        pages, cursor = [], None
        while True:
            query = "/api/v1/alerts?limit=3" + (f"&before_id={cursor}" if cursor else "")
            page = await wang.json("GET", query)
            pages.append(_ids(page))
            cursor = page["next_before_id"]
            if cursor is None:
                break
        assert pages == [expected[:3], expected[3:]]

        every = await wang.json("GET", "/api/v1/alerts?state=all&limit=2")
        assert _ids(every) == [opened["done"], opened["critical"]]  # newest first
        rest = await wang.json(
            "GET", f"/api/v1/alerts?state=all&before_id={every['next_before_id']}"
        )
        assert _ids(rest) == [opened[n] for n in ("new_high", "low", "old_high")]
        resolved = await wang.json("GET", "/api/v1/alerts?state=resolved")
        assert _ids(resolved) == [opened["done"]]
        acknowledged = await wang.json("GET", "/api/v1/alerts?state=acknowledged")
        assert _ids(acknowledged) == [opened["low"]]
        open_only = await wang.json("GET", "/api/v1/alerts?state=open")
        assert _ids(open_only) == [opened[n] for n in ("critical", "old_high", "new_high")]
        high = await wang.json("GET", "/api/v1/alerts?severity=high")
        assert _ids(high) == [opened["old_high"], opened["new_high"]]
        smoke = await wang.json("GET", "/api/v1/alerts?category=smoke&state=all")
        assert _ids(smoke) == [opened["critical"]]
        home_1 = await wang.json("GET", "/api/v1/alerts?home_id=home-1")
        assert _ids(home_1) == [opened["old_high"], opened["low"]]

        for bad, field in [
            ("state=closed", "state"),
            ("severity=urgent", "severity"),
            ("limit=501", "limit"),
            ("limit=x", "limit"),
            ("before_id=-1", "before_id"),
            ("colour=red", "colour"),
        ]:
            error = await wang.json("GET", f"/api/v1/alerts?{bad}", 422)
            assert error["error"]["field"] == field, bad

        admin = await world.bearer("root", Role.ADMIN)
        everything = await admin.json("GET", "/api/v1/alerts")
        assert _ids(everything)[:2] == [opened["critical"], opened["hidden"]]


async def _next_event(resp: aiohttp.ClientResponse) -> tuple[str, Any]:
    """The next `event:`/`data:` pair of an event stream (comments skipped)."""
    name, data = "", ""
    while True:
        raw = await asyncio.wait_for(resp.content.readline(), 10)
        assert raw, "the stream ended"
        line = raw.decode().rstrip("\n")
        if line.startswith("event: "):
            name = line.removeprefix("event: ")
        elif line.startswith("data: "):
            data += line.removeprefix("data: ")
        elif line == "" and name:
            return name, json.loads(data)


async def test_the_stream_sends_changes_in_the_advisors_homes_only(db_url: str) -> None:
    async with api_world(db_url) as world:
        wang, _ = await _two_advisors(world)
        hub = world.client.app[ALERT_HUB] if world.client.app else None
        assert hub is not None
        await asyncio.wait_for(hub.listening.wait(), 10)
        async with wang.get("/api/v1/alerts/stream") as resp:
            assert resp.status == 200
            assert resp.headers["Content-Type"] == "text/event-stream"
            assert await _next_event(resp) == (
                "hello",
                {"username": "wang", "heartbeat_seconds": 15.0},
            )
            elsewhere = await world.open_alert("home-2", "smoke_alarm", Category.SMOKE,
                                               Severity.CRITICAL)  # fmt: skip
            mine = await world.open_alert("home-1")
            name, alert = await _next_event(resp)
            assert (name, alert["id"], alert["state"]) == ("alert", mine, "open")
            assert alert["resident_name"] == "resident" and alert["home_id"] == "home-1"
            await world.alerts.acknowledge(mine, "someone")  # from outside the API
            name, alert = await _next_event(resp)
            assert (alert["id"], alert["acknowledged_by"]) == (mine, "someone")
            assert elsewhere != mine
        admin = await world.bearer("root", Role.ADMIN)
        async with admin.get("/api/v1/alerts/stream") as resp:
            assert (await _next_event(resp))[0] == "hello"
            await world.alerts.acknowledge(elsewhere, "li")
            name, alert = await _next_event(resp)
            assert (name, alert["id"]) == ("alert", elsewhere)
        log = await admin.json("GET", "/api/v1/audit")
        # Opening a stream is recorded, and so is each alert pushed, with its home.
        assert [(e["username"], e["action"], e["home_ids"]) for e in log["entries"]] == [
            ("root", "alerts.stream.push", ["home-2"]),
            ("root", "alerts.stream", []),
            ("wang", "alerts.stream.push", ["home-1"]),
            ("wang", "alerts.stream.push", ["home-1"]),
            ("wang", "alerts.stream", []),
        ]
