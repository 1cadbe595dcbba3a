"""The district dashboard through the API: a supervisor's street only, the CSV export."""

from __future__ import annotations

import csv
import io
from datetime import timedelta

from api.principal import Role
from tests.api_helpers import api_world, assign
from tests.view_data import NOW, alert, device, home


async def test_dashboard_for_a_street_and_as_csv(db_url: str) -> None:
    async with api_world(db_url, start=NOW) as world:
        async with world.pool.acquire() as conn:
            await home(conn, "e1", "东街")
            await home(conn, "w1", "west")
            await device(conn, "m-e1", "e1")
            await device(conn, "p-e1", "e1", "pir", seen=None)
            await device(conn, "m-w1", "w1")
            day = NOW - timedelta(days=1)
            for ack in (4, 10, 30):
                await alert(conn, "e1", f"k{ack}", opened=day, ack_min=ack, resolve_min=60,
                            outcome="false_alarm" if ack == 4 else "assisted")  # fmt: skip
            await alert(conn, "w1", "k1", opened=day, ack_min=1)
        await assign(world.pool, "e1", "wang")
        sue = await world.user_signed_in("sue", Role.SUPERVISOR, street="东街")
        wang = await world.user_signed_in("wang", Role.ADVISOR)

        d = await sue.json("GET", "/api/v1/dashboard?weeks=4")

        assert (d["homes_monitored"], d["devices_total"], d["devices_online"]) == (1, 2, 1)
        assert d["devices_never_seen"] == 1
        assert d["ack_target_minutes"] == 15
        [street] = d["response_by_street"]
        assert (street["street"], street["alerts"], street["ack_p50_min"]) == ("东街", 3, 10.0)
        assert street["ack_within_target"] == round(2 / 3, 4)
        [advisor] = d["response_by_advisor"]
        assert (advisor["advisor"], advisor["resolve_p50_min"]) == ("wang", 60.0)
        assert {f["kind"]: f["false_alarms"] for f in d["false_alarm_share"]} == {
            "k4": 1, "k10": 0, "k30": 0,
        }  # fmt: skip
        assert sum(w["count"] for w in d["alerts_by_week"]) == 3

        async with sue.get("/api/v1/dashboard.csv?weeks=4") as resp:
            assert resp.status == 200
            assert resp.content_type == "text/csv"
            text = (await resp.read()).decode("utf-8-sig")
        rows = list(csv.DictReader(io.StringIO(text)))
        # A table: one row per street and per advisor, a column per figure.
        assert [(r["group"], r["name"]) for r in rows] == [("street", "东街"), ("advisor", "wang")]
        assert rows[0]["ack_p50_min"] == "10.0" and rows[0]["alerts"] == "3"
        assert rows[0]["ack_within_15_min_pct"] == "66.7"

        await wang.json("GET", "/api/v1/dashboard", expect=403)
        error = await sue.json("GET", "/api/v1/dashboard?weeks=0", expect=422)
        assert error["error"]["field"] == "weeks"


def test_csv_cells_that_a_spreadsheet_would_run_are_neutralised() -> None:
    from api.routes.dashboard import dashboard_csv
    from storage.dashboard import Dashboard, Response

    evil = Response('=HYPERLINK("http://x")', 1, None, None, None, None, None, None, None)
    table = Dashboard(1, 1, 1, 0, [], [evil], [], [])
    rows = list(csv.reader(io.StringIO(dashboard_csv(table))))
    assert rows[1][1] == '\'=HYPERLINK("http://x")'
    for cell in ("+1", "-1", "@SUM(A1)"):
        bad = Dashboard(1, 1, 1, 0, [], [], [Response(cell, 1, *[None] * 7)], [])
        assert list(csv.reader(io.StringIO(dashboard_csv(bad))))[1][1] == "'" + cell
