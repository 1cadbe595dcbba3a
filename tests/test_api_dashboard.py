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
        assert {"section": "coverage", "key": "", "metric": "devices_never_seen",
                "value": "1"} in rows  # fmt: skip
        ack_rows = [r for r in rows if r["section"] == "response_by_street"
               and r["metric"] == "ack_p50_min"]  # fmt: skip
        assert ack_rows == [{"section": "response_by_street", "key": "东街",
                        "metric": "ack_p50_min", "value": "10.0"}]  # fmt: skip

        await wang.json("GET", "/api/v1/dashboard", expect=403)
        error = await sue.json("GET", "/api/v1/dashboard?weeks=0", expect=422)
        assert error["error"]["field"] == "weeks"
