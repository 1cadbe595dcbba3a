"""The audit log without gaps, through the HTTP API on a real database: every route that
reads residents' data (taken from the route records, like the authorization matrix)
leaves an entry naming the homes it returned; refusals are tied to the user with the
reason; an out-of-scope request reads nothing; the list cursor is no existence oracle;
the supervisor's audit view filters and exports CSV."""

from __future__ import annotations

import asyncio
import csv
import io
import re
from datetime import timedelta
from typing import Any

from api.context import ALERT_HUB, AUDIT
from api.principal import Role
from api.server import all_routes
from core.kinds import Category, Severity
from tests.api_helpers import ApiClient, ApiWorld, add_home, api_world, assign

# Routes that answer with no resident's data, and why; every other route that needs a
# sign-in must be audited. A new route lands in one or the other.
NO_RESIDENT_DATA = {
    ("POST", "/api/v1/auth/login"): "signing in",
    ("POST", "/api/v1/auth/logout"): "signing out",
    ("GET", "/api/v1/auth/me"): "the caller's own account",
    ("POST", "/api/v1/auth/password"): "the caller's own password",
    ("GET", "/api/v1/users"): "staff accounts",
    ("POST", "/api/v1/users"): "staff accounts",
    ("POST", "/api/v1/users/{username}/disable"): "staff accounts",
    ("POST", "/api/v1/users/{username}/enable"): "staff accounts",
    ("PUT", "/api/v1/users/{username}/password"): "staff accounts",
    ("POST", "/api/v1/users/{username}/tokens"): "staff accounts",
    ("GET", "/api/v1/tokens"): "staff accounts",
    ("DELETE", "/api/v1/tokens/{token_id}"): "staff accounts",
    ("GET", "/api/v1/audit"): "the log itself: ids and staff names",
    ("GET", "/api/v1/audit.csv"): "the log itself: ids and staff names",
    ("GET", "/api/v1/policies"): "escalation rules",
    ("PUT", "/api/v1/policies/{name}"): "escalation rules",
    ("DELETE", "/api/v1/policies/{name}"): "escalation rules",
    ("GET", "/api/v1/dashboard"): "figures per street and advisor",
    ("GET", "/api/v1/dashboard.csv"): "figures per street and advisor",
    ("GET", "/api/v1/family/preferences/{home_id}"): "the family member's own channels",
    ("PUT", "/api/v1/family/preferences/{home_id}"): "the family member's own channels",
    ("DELETE", "/api/v1/homes/{home_id}/contacts/{role}/{position}"): "answers nothing",
    ("GET", "/api/v1/ops/banner"): "counts of failing notification channels",
    ("GET", "/api/v1/retention"): "retention periods and counts of rows due",
    ("GET", "/api/v1/duty"): "staff on duty per street",
    ("GET", "/api/v1/duty/rotations"): "staff on duty per street",
    ("POST", "/api/v1/duty/overrides"): "staff on duty per street",
    ("DELETE", "/api/v1/duty/overrides/{override_id}"): "staff on duty per street",
    ("DELETE", "/api/v1/duty/rotations/{rotation_id}"): "staff on duty per street",
}
MINE, OTHER = "home-a", "home-b"


class World:
    """home-a on street east (office's street; wang advises it; fam is family), home-b
    on street west; alerts, devices and a resident in each."""

    def __init__(self, world: ApiWorld) -> None:
        self.world = world
        self.alerts: dict[str, int] = {}
        self.clients: dict[Role, ApiClient] = {}

    async def build(self) -> None:
        pool = self.world.pool
        for home_id, street in ((MINE, "east"), (OTHER, "west")):
            await add_home(pool, home_id, street=street)
            await pool.execute(
                "INSERT INTO devices (id, type, home_id, room) VALUES ($1, 'pir', $2, 'hall')",
                f"pir-{home_id}",
                home_id,
            )
        self.clients[Role.SUPERVISOR] = await self.world.user_signed_in(
            "office", Role.SUPERVISOR, street="east"
        )
        self.clients[Role.ADVISOR] = await self.world.user_signed_in("wang", Role.ADVISOR)
        self.clients[Role.FAMILY] = await self.world.user_signed_in("fam", Role.FAMILY)
        self.clients[Role.ADMIN] = await self.world.bearer("root", Role.ADMIN)
        await assign(pool, MINE, "wang")
        await assign(pool, MINE, "fam", role="family")
        for name, kind, category in (
            ("claimed", "motion_inactivity", Category.INACTIVITY),
            ("acked", "leak_continuous_flow", Category.LEAK),
        ):
            self.alerts[name] = await self.world.open_alert(MINE, kind, category)
        self.alerts["other"] = await self.world.open_alert(OTHER, "smoke_alarm", Category.SMOKE,
                                                           Severity.CRITICAL)  # fmt: skip

    def client_for(self, roles: frozenset[Role]) -> tuple[Role, ApiClient]:
        """The least powerful allowed caller who sees home-a (and not home-b); an admin
        for what only admins may do."""
        for role in (Role.ADVISOR, Role.SUPERVISOR, Role.FAMILY):
            if role in roles:
                return role, self.clients[role]
        if roles == {Role.ADMIN}:
            return Role.ADMIN, self.clients[Role.ADMIN]
        raise AssertionError(f"no home-a caller among {roles}")

    async def entries(self, **where: Any) -> list[dict[str, Any]]:
        """Audit rows (everything written so far), oldest first."""
        app = self.world.client.app
        assert app is not None
        await app[AUDIT].flush()
        conditions = " AND ".join(f"{k} = ${i}" for i, k in enumerate(where, start=1)) or "TRUE"
        rows = await self.world.pool.fetch(
            f"SELECT * FROM audit_log WHERE {conditions} ORDER BY id", *where.values()
        )
        return [dict(r) for r in rows]


SAMPLE_BODIES: dict[tuple[str, str], Any] = {
    ("POST", "/api/v1/alerts/{alert_id}/claim"): {"eta_minutes": 15},
    ("POST", "/api/v1/alerts/{alert_id}/arrive"): {},
    ("POST", "/api/v1/alerts/{alert_id}/acknowledge"): {},
    ("POST", "/api/v1/alerts/{alert_id}/comment"): {"text": "called her son"},
    ("POST", "/api/v1/alerts/{alert_id}/resolve"): {"outcome": "resident_ok"},
    ("PUT", "/api/v1/homes/{home_id}/settings"): {"district": "Xuhui"},
    ("POST", "/api/v1/homes/{home_id}/away"): {"ends_at": "2026-01-09T00:00:00Z"},
    ("PUT", "/api/v1/homes/{home_id}/contacts/{role}/{position}"): {
        "person_ref": "neighbour",
        "sms": "+8613900000001",
    },
}
# Which alert each action works on (claim then arrive; acknowledge, comment, resolve).
ALERT_FOR = {"claim": "claimed", "arrive": "claimed"}


def _concrete(path: str, alerts: dict[str, int], resident_id: int) -> str:
    action = path.rsplit("/", 1)[-1]
    values = {"home_id": MINE, "alert_id": str(alerts[ALERT_FOR.get(action, "acked")]),
              "role": "backup_advisor", "position": "3",
              "resident_id": str(resident_id)}  # fmt: skip
    return re.sub(r"\{(\w+)\}", lambda m: values[m[1]], path)


async def _read_stream(w: World, client: ApiClient, path: str) -> None:
    """Open the live stream, see a change of home-a pushed (and none of home-b), close."""
    app = w.world.client.app
    assert app is not None
    await asyncio.wait_for(app[ALERT_HUB].listening.wait(), 10)
    async with client.get(path) as resp:
        assert resp.status == 200
        assert await asyncio.wait_for(resp.content.readline(), 10) == b"event: hello\n"
        await w.world.alerts.comment(w.alerts["other"], "someone", "elsewhere")
        await w.world.alerts.comment(w.alerts["acked"], "someone", "a change")
        while (line := await asyncio.wait_for(resp.content.readline(), 10)) != b"event: alert\n":
            assert line, "the stream ended"
        data = await asyncio.wait_for(resp.content.readline(), 10)
        assert f'"home_id":"{MINE}"'.encode() in data


async def test_every_route_that_reads_residents_data_leaves_an_audit_entry(db_url: str) -> None:
    async with api_world(db_url) as world:
        w = World(world)
        await w.build()
        failures: list[str] = []
        checked = 0
        resident_id = await world.pool.fetchval("SELECT id FROM residents WHERE home_id = $1", MINE)
        # Erasing home-a's resident empties what later routes would read: it goes last.
        for route in sorted(all_routes(), key=lambda r: r.path.endswith("/erase")):
            key = (route.method, route.path)
            if route.public or key in NO_RESIDENT_DATA:
                continue
            if route.audit is None:
                failures.append(f"{route.method} {route.path}: reads residents' data, no audit")
                continue
            role, client = w.client_for(route.roles)
            before = len(await w.entries())
            path = _concrete(route.path, w.alerts, resident_id)
            if route.content_type == "text/event-stream":
                await _read_stream(w, client, path)
            else:
                body = SAMPLE_BODIES.get(key)
                async with client.request(route.method, path, json=body) as resp:
                    answer = await resp.read()
                    if resp.status >= 300:
                        failures.append(
                            f"{route.method} {path} as {role}: {resp.status} {answer!r}"
                        )
                        continue
            new = (await w.entries())[before:]
            reads = [e for e in new if e["action"].startswith(route.audit)]
            if not reads:
                failures.append(f"{route.method} {path}: no audit entry")
                continue
            for entry in reads:
                homes = [] if entry["action"] == "alerts.stream" else [MINE]  # the stream's start
                if entry["home_ids"] != homes or entry["outcome"] != "read":
                    failures.append(f"{route.method} {path}: audited {entry}")
                if entry["username"] != {Role.ADVISOR: "wang", Role.SUPERVISOR: "office",
                                         Role.FAMILY: "fam", Role.ADMIN: "root"}[role]:  # fmt: skip
                    failures.append(f"{route.method} {path}: audited as {entry['username']}")
            checked += 1
        assert failures == []
        assert checked >= 20  # the list is derived, not empty


async def test_refusals_are_tied_to_the_user_and_empty_answers_read_nothing(
    db_url: str,
) -> None:
    async with api_world(db_url) as world:
        w = World(world)
        await w.build()
        wang, fam = w.clients[Role.ADVISOR], w.clients[Role.FAMILY]
        await wang.json("GET", f"/api/v1/homes/{OTHER}", 404)
        await wang.json("GET", f"/api/v1/alerts/{w.alerts['other']}", 404)
        empty = await wang.json("GET", f"/api/v1/alerts?home_id={OTHER}")
        assert empty["alerts"] == []
        await fam.json("GET", "/api/v1/homes", 403)
        entries = [
            (e["username"], e["action"], e["outcome"], e["reason"], e["home_ids"],
             e["requested_home"])
            for e in await w.entries(username="wang") + await w.entries(username="fam")
        ]  # fmt: skip
        assert entries == [
            ("wang", "home.detail", "refused", "not_found", [], OTHER),
            ("wang", "alert.read", "refused", "not_found", [], None),
            # Asked for home-b, got nothing: not a read of home-b.
            ("wang", "alerts.list", "read", None, [], OTHER),
            ("fam", "homes.list", "refused", "forbidden", [], None),
        ]


async def test_the_list_cursor_treats_another_homes_alert_like_a_missing_one(
    db_url: str,
) -> None:
    async with api_world(db_url) as world:
        w = World(world)
        await w.build()
        wang = w.clients[Role.ADVISOR]
        theirs = await wang.json("GET", f"/api/v1/alerts?before_id={w.alerts['other']}")
        missing = await wang.json("GET", "/api/v1/alerts?before_id=987654")
        assert theirs == missing == {"alerts": [], "next_before_id": None}
        page = await wang.json("GET", "/api/v1/alerts?limit=1")
        following = await wang.json(
            "GET", f"/api/v1/alerts?limit=1&before_id={page['next_before_id']}"
        )
        assert len(following["alerts"]) == 1  # a cursor of one's own works


async def test_the_supervisors_audit_view_filters_and_exports_csv(db_url: str) -> None:
    async with api_world(db_url) as world:
        w = World(world)
        await w.build()
        wang, office = w.clients[Role.ADVISOR], w.clients[Role.SUPERVISOR]
        admin, fam = w.clients[Role.ADMIN], w.clients[Role.FAMILY]
        await wang.json("GET", f"/api/v1/homes/{MINE}/readings")
        await admin.json("GET", f"/api/v1/homes/{OTHER}")  # another street's home
        world.clock.advance(timedelta(hours=1))
        await wang.json("GET", f"/api/v1/homes/{MINE}")
        # A forged home id in a refused request lands in the log as typed...
        await fam.json("GET", "/api/v1/alerts", 403, params={"home_id": '=HYPERLINK("http://x")'})

        log = await office.json("GET", "/api/v1/audit")
        homes_seen = {h for e in log["entries"] for h in e["home_ids"] + [e["requested_home"]]}
        assert OTHER not in homes_seen  # a supervisor sees their street's homes only
        assert {e["action"] for e in log["entries"]} >= {"home.readings", "home.detail"}
        by_user = await office.json("GET", "/api/v1/audit", params={"username": "wang"})
        assert [e["action"] for e in by_user["entries"]] == ["home.detail", "home.readings"]
        since = await office.json(
            "GET", "/api/v1/audit",
            params={"username": "wang", "since": "2026-01-05T01:30:00+00:00"},
        )  # fmt: skip
        assert [e["action"] for e in since["entries"]] == ["home.detail"]
        by_action = await office.json(
            "GET", "/api/v1/audit", params={"action": "home.", "home_id": MINE}
        )
        assert {e["action"] for e in by_action["entries"]} == {"home.detail", "home.readings"}
        paged = await office.json("GET", "/api/v1/audit", params={"username": "wang", "limit": 1})
        assert paged["next_before_id"] == paged["entries"][0]["id"]
        everything = await admin.json("GET", "/api/v1/audit", params={"home_id": OTHER})
        assert [e["username"] for e in everything["entries"]] == ["root"]
        refused = await admin.json("GET", "/api/v1/audit", params={"outcome": "refused"})
        assert [e["username"] for e in refused["entries"]] == ["fam"]
        bad = await office.json(
            "GET", "/api/v1/audit", 422,
            params={"since": "2026-01-06T00:00:00Z", "until": "2026-01-05T00:00:00Z"},
        )  # fmt: skip
        assert bad["error"]["field"] == "until"

        async with admin.get("/api/v1/audit.csv", params={"outcome": "refused"}) as resp:
            assert resp.status == 200
            assert resp.headers["Content-Type"].startswith("text/csv")
            text = (await resp.read()).decode("utf-8-sig")
        rows = list(csv.DictReader(io.StringIO(text)))
        assert [r["username"] for r in rows] == ["fam"]
        # ...and leaves the CSV as text, never as a formula.
        assert rows[0]["requested_home"] == '\'=HYPERLINK("http://x")'
        async with office.get("/api/v1/audit.csv") as resp:
            office_rows = list(csv.DictReader(io.StringIO((await resp.read()).decode("utf-8-sig"))))
        assert office_rows and all(OTHER not in r["home_ids"] for r in office_rows)
        await wang.json("GET", "/api/v1/audit", 403)
