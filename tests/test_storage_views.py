"""The console's read queries on crafted data: statuses, signs of life, buckets, scope,
the dashboard's figures, the family's day and the operations metrics."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta

import asyncpg
import pytest

from core.contacts import ChannelKind, Contact, Endpoint, Language, Role
from storage.backend import detect_backend
from storage.dashboard import dashboard
from storage.family_view import (
    Preferences,
    day_so_far,
    family_scope,
    get_preferences,
    open_alerts,
    set_preferences,
)
from storage.home_admin import delete_contact, list_contacts, set_contact, update_settings
from storage.home_series import home_series
from storage.homes_view import (
    HomeView,
    add_away_period,
    get_home,
    list_away_periods,
    list_devices,
    list_homes,
    list_residents,
)
from storage.metrics import collect
from storage.scope import HomeScope, ScopeKind
from tests.view_data import NOW, alert, assign, device, home, reading

ALL = HomeScope.everything()


def by_id(homes: list[HomeView]) -> dict[str, HomeView]:
    return {h.id: h for h in homes}


async def test_status_and_colour_follow_alerts_devices_and_away(db: asyncpg.Connection) -> None:
    for h in ("ok", "red", "amber", "battery", "silent", "away", "never"):
        await home(db, h)
    await device(db, "m-ok", "ok")
    await device(db, "p-ok", "ok", "pir", "hall", seen=timedelta(hours=30))  # daily check-in
    await device(db, "m-red", "red")
    await alert(db, "red", "no_water", "high")
    await alert(db, "red", "battery_low", "low", category="device")
    await device(db, "m-amber", "amber")
    await alert(db, "amber", "late_first_use", "low", category="routine")
    await alert(db, "amber", "old", "critical", resolve_min=5, outcome="assisted")
    await device(db, "m-bat", "battery")
    await device(db, "p-bat", "battery", "pir", battery=12.0)
    await device(db, "m-silent", "silent", seen=timedelta(hours=2))
    await device(db, "m-away", "away", seen=timedelta(hours=2))
    await db.execute(
        "INSERT INTO away_periods (home_id, starts_at, ends_at) VALUES ('away', $1, $2)",
        NOW - timedelta(days=1), NOW + timedelta(days=2),
    )  # fmt: skip
    await device(db, "m-never", "never", seen=None)

    homes = by_id(await list_homes(db, ALL, NOW))

    assert {h: (v.status, v.colour) for h, v in homes.items()} == {
        "ok": ("ok", "green"),
        "red": ("alert", "red"),
        "amber": ("attention", "amber"),
        "battery": ("attention", "amber"),
        "silent": ("offline", "grey"),
        "away": ("away", "blue"),
        "never": ("offline", "grey"),
    }
    assert (homes["red"].open_alerts, homes["red"].highest_severity) == (2, "high")
    assert (homes["amber"].open_alerts, homes["amber"].highest_severity) == (1, "low")
    assert (homes["ok"].devices_total, homes["ok"].devices_online) == (2, 2)
    assert (homes["silent"].devices_total, homes["silent"].devices_online) == (1, 0)
    assert homes["away"].away_until == NOW + timedelta(days=2)
    assert homes["ok"].resident_name == "resident of ok"
    # The status filter and paging.
    assert [h.id for h in await list_homes(db, ALL, NOW, status="offline")] == ["never", "silent"]
    first = await list_homes(db, ALL, NOW, limit=3)
    rest = await list_homes(db, ALL, NOW, after_id=first[-1].id)
    assert [h.id for h in first + rest] == sorted(homes)


async def test_a_device_that_said_goodbye_is_offline_at_once(db: asyncpg.Connection) -> None:
    await home(db, "h1")
    await device(db, "m1", "h1", seen=timedelta(minutes=1), online=False)
    [dev] = await list_devices(db, ALL, NOW)
    assert (dev.id, dev.online) == ("m1", False)
    assert (await get_home(db, ALL, "h1", NOW)).status == "offline"  # type: ignore[union-attr]


async def test_last_sign_of_life_is_motion_or_flowing_water(db: asyncpg.Connection) -> None:
    await home(db, "h1")
    await device(db, "m1", "h1")
    await device(db, "p1", "h1", "pir", "kitchen")
    await reading(db, "p1", "h1", NOW - timedelta(hours=5), motion=True)
    await reading(db, "m1", "h1", NOW - timedelta(hours=3), volume=10.0, flow=4.0)
    # Later messages that are not a person: an idle meter report, a status-like reading.
    await reading(db, "m1", "h1", NOW - timedelta(hours=1), volume=12.0, flow=0.0)
    await reading(db, "p1", "h1", NOW - timedelta(minutes=30), motion=False)
    h = await get_home(db, ALL, "h1", NOW)
    assert h is not None
    assert h.last_sign_of_life_at == NOW - timedelta(hours=3)

    await home(db, "quiet")
    assert (await get_home(db, ALL, "quiet", NOW)).last_sign_of_life_at is None  # type: ignore[union-attr]


async def test_scope_decides_which_homes_exist(db: asyncpg.Connection) -> None:
    await home(db, "n1", "north")
    await home(db, "n2", "north")
    await home(db, "s1", "south")
    await assign(db, "n1", "primary_advisor", "alice")
    await assign(db, "s1", "backup_advisor", "alice")
    await assign(db, "n2", "family", "alice")  # family of n2 is no advisor's right to it
    await assign(db, "n2", "family", "fay", pos=1)

    alice = HomeScope(ScopeKind.ADVISOR, "alice")
    north = HomeScope(ScopeKind.STREET, "north")
    fay = family_scope("fay")
    assert [h.id for h in await list_homes(db, alice, NOW)] == ["n1", "s1"]
    assert [h.id for h in await list_homes(db, north, NOW)] == ["n1", "n2"]
    assert [h.id for h in await list_homes(db, fay, NOW)] == ["n2"]
    assert await get_home(db, alice, "n2", NOW) is None
    assert await get_home(db, north, "s1", NOW) is None
    assert await get_home(db, fay, "n1", NOW) is None
    assert [r.home_id for r in await list_residents(db, alice)] == ["n1", "s1"]
    assert await list_residents(db, fay, "n1") == []
    # Declaring an absence for a home outside the scope writes nothing.
    later = NOW + timedelta(days=1)
    assert await add_away_period(db, fay, "n1", NOW, later, None, "fay") is None
    assert await db.fetchval("SELECT count(*) FROM away_periods") == 0
    added = await add_away_period(db, fay, "n2", NOW, later, "with me", "fay")
    assert added is not None and added.declared_by == "fay"
    assert [p.note for p in await list_away_periods(db, fay, "n2", NOW)] == ["with me"]
    assert await list_away_periods(db, alice, "n2", NOW) == []


async def test_buckets_give_litres_per_hour_and_motion_per_room(db: asyncpg.Connection) -> None:
    await home(db, "h1")
    await home(db, "other")
    await device(db, "m1", "h1")
    await device(db, "p1", "h1", "pir", "bedroom")
    await device(db, "p2", "h1", "pir", "kitchen")
    start = NOW - timedelta(hours=4)
    # The meter's report before the window anchors the first difference.
    await reading(db, "m1", "h1", start - timedelta(minutes=15), volume=1000.0)
    used_per_hour = [10.0, 0.0, 25.5, 4.0]
    index = 1000.0
    for hour, litres in enumerate(used_per_hour):
        for quarter in range(4):
            index += litres / 4
            ts = start + timedelta(hours=hour, minutes=15 * quarter + 5)
            await reading(db, "m1", "h1", ts, volume=index)
    # A replaced meter (index back to zero) is no water.
    await reading(db, "m1", "h1", NOW - timedelta(minutes=1), volume=0.0)
    for minutes in (10, 20, 70):
        await reading(db, "p1", "h1", start + timedelta(minutes=minutes), motion=True)
    await reading(db, "p2", "h1", start + timedelta(minutes=200), motion=True, room="kitchen")
    await reading(db, "p2", "other", start + timedelta(minutes=30), motion=True)

    backend = await detect_backend(db)
    series = await home_series(db, backend, ALL, "h1", start, NOW, timedelta(hours=1))

    assert [(p.t, p.litres) for p in series.water] == [
        (start + timedelta(hours=i), litres) for i, litres in enumerate([*used_per_hour, 0.0])
    ]
    assert [(p.t, p.room, p.events) for p in series.motion] == [
        (start, "bedroom", 2),
        (start + timedelta(hours=1), "bedroom", 1),
        (start + timedelta(hours=3), "kitchen", 1),
    ]
    fay = family_scope("fay")
    hidden = await home_series(db, backend, fay, "h1", start, NOW, timedelta(hours=1))
    assert hidden.water == [] and hidden.motion == []


async def test_dashboard_figures_on_crafted_alerts(db: asyncpg.Connection) -> None:
    await home(db, "n1", "north")
    await home(db, "n2", "north")
    await home(db, "s1", "south")
    await assign(db, "n1", "primary_advisor", "alice")
    await assign(db, "n2", "primary_advisor", "bob")
    await assign(db, "n2", "primary_advisor", "zed", pos=1)  # not the primary's first
    await assign(db, "s1", "primary_advisor", "alice")
    await device(db, "m-n1", "n1")
    await device(db, "m-n2", "n2", seen=timedelta(hours=3))
    await device(db, "p-n2", "n2", "pir", seen=None)
    await device(db, "m-s1", "s1", seen=None)

    # North: acknowledged after 2, 4, 6, 8 and 20 minutes.
    day = NOW - timedelta(days=1)
    for i, ack in enumerate((2, 4, 6, 8, 20)):
        await alert(db, "n1" if i < 3 else "n2", f"k{i}", opened=day, ack_min=ack,
                    arrive_min=ack + 10, resolve_min=ack + 30, outcome="assisted")  # fmt: skip
    await alert(db, "n1", "leak", category="leak", opened=day, ack_min=1, resolve_min=3,
                outcome="false_alarm")  # fmt: skip
    await alert(db, "n1", "leak2", category="leak", opened=day, resolve_min=3,
                outcome="condition_cleared")  # fmt: skip
    # South: one acknowledged in 30 minutes; one still open past the target.
    await alert(db, "s1", "leak", category="leak", opened=day, ack_min=30, resolve_min=40,
                outcome="false_alarm")  # fmt: skip
    await alert(db, "s1", "smoke", "critical", category="smoke", opened=NOW - timedelta(hours=1))
    # Just opened (not yet a miss) and long ago (outside 8 weeks).
    await alert(db, "s1", "fresh", opened=NOW - timedelta(minutes=5))
    await alert(db, "s1", "ancient", opened=NOW - timedelta(weeks=9), ack_min=1)

    d = await dashboard(db, ALL, NOW, 8)

    assert (d.homes_monitored, d.devices_total, d.devices_online, d.devices_never_seen) == (
        3, 4, 1, 2,
    )  # fmt: skip
    streets = {r.key: r for r in d.response_by_street}
    north = streets["north"]
    assert north.alerts == 7
    # Acknowledged: 1, 2, 4, 6, 8, 20 → p50 5, p90 14 (linear interpolation).
    assert (north.ack_p50_min, north.ack_p90_min) == (5.0, 14.0)
    assert (north.arrive_p50_min, north.arrive_p90_min) == (16.0, 25.2)
    # Resolved by people: 3, 32, 34, 36, 38, 50; the self-cleared one is left out.
    assert (north.resolve_p50_min, north.resolve_p90_min) == (35.0, 44.0)
    assert north.ack_within_target == pytest.approx(5 / 6, abs=1e-4)
    south = streets["south"]
    assert south.alerts == 3
    assert south.ack_p50_min == 30.0 and south.arrive_p50_min is None
    assert south.ack_within_target == 0.0  # 30 min late, and the smoke alert never acked
    advisors = {r.key: r.alerts for r in d.response_by_advisor}
    assert advisors == {"alice": 8, "bob": 2}
    false = {f.kind: (f.resolved, f.false_alarms, f.share) for f in d.false_alarm_share}
    assert false["leak"] == (2, 2, 1.0)
    assert false["k0"] == (1, 0, 0.0)
    assert "leak2" not in false  # cleared by itself: nobody judged it
    # Local weeks: Shanghai's Monday 2026-03-02 for yesterday's alerts.
    weeks = {(w.week_start, w.category): w.count for w in d.alerts_by_week}
    assert weeks[(date(2026, 3, 2), "leak")] == 3
    assert weeks[(date(2026, 3, 2), "inactivity")] == 6
    assert all(w.week_start >= date(2026, 1, 12) for w in d.alerts_by_week)

    mine = await dashboard(db, HomeScope(ScopeKind.STREET, "south"), NOW, 8)
    assert [r.key for r in mine.response_by_street] == ["south"]
    assert (mine.homes_monitored, mine.devices_never_seen) == (1, 1)


async def test_family_day_open_alerts_and_preferences(db: asyncpg.Connection) -> None:
    await home(db, "h1")
    await assign(db, "h1", "family", "fay")
    await device(db, "m1", "h1")
    await device(db, "p1", "h1", "pir", "entrance")
    midnight = datetime(2026, 3, 4, 16, 0, tzinfo=UTC) - timedelta(days=1)  # Shanghai 00:00
    await reading(db, "m1", "h1", midnight - timedelta(minutes=10), volume=50.0)
    await reading(db, "m1", "h1", midnight + timedelta(hours=7), volume=60.0, flow=3.0)
    await reading(db, "p1", "h1", midnight + timedelta(hours=6, minutes=40), motion=True)
    await reading(db, "p1", "h1", midnight + timedelta(hours=9), motion=True)
    await reading(db, "m1", "h1", midnight + timedelta(hours=10), volume=62.5, flow=0.0)
    await alert(db, "h1", "no_water", "high")
    fay = family_scope("fay")

    day = await day_so_far(db, fay, "h1", midnight, NOW)

    assert day.water_litres == 12.5
    assert day.motion_events == 2
    assert day.first_activity_at == midnight + timedelta(hours=6, minutes=40)
    assert day.last_activity_at == midnight + timedelta(hours=9)
    assert day.last_motion_room == "entrance"
    assert [a.kind for a in await open_alerts(db, fay, ["h1"])] == ["no_water"]
    assert await open_alerts(db, family_scope("other"), ["h1"]) == []

    prefs = await get_preferences(db, "fay", "h1")
    assert prefs is not None and prefs.sms == "+8613800000000"
    new = Preferences(None, "fay@example.org", time(22), time(7), "en")
    assert await set_preferences(db, "fay", "h1", new)
    assert await get_preferences(db, "fay", "h1") == new
    assert not await set_preferences(db, "mallory", "h1", new)


async def test_contacts_and_settings_stay_inside_the_scope(db: asyncpg.Connection) -> None:
    await home(db, "n1", "north")
    await home(db, "s1", "south")
    north = HomeScope(ScopeKind.STREET, "north")
    contact = Contact(Role.PRIMARY_ADVISOR, 0, "alice", Language.EN,
                      (Endpoint(ChannelKind.SMS, "+861"),))  # fmt: skip
    assert await set_contact(db, north, "n1", contact)
    assert not await set_contact(db, north, "s1", contact)
    assert [(c.role, c.person_ref) for c in await list_contacts(db, north, "n1")] == [
        ("primary_advisor", "alice")
    ]
    assert await list_contacts(db, north, "s1") == []
    assert not await delete_contact(db, north, "s1", "primary_advisor", 0)
    assert await delete_contact(db, north, "n1", "primary_advisor", 0)
    changed = await update_settings(db, north, "n1", {"timezone": "Europe/Berlin"})
    assert changed is not None and changed.timezone == "Europe/Berlin"
    assert await update_settings(db, north, "s1", {"address": "x"}) is None


async def test_metrics_from_cheap_sources(db: asyncpg.Connection) -> None:
    await home(db, "h1")
    await device(db, "m1", "h1", seen=timedelta(minutes=1))
    await device(db, "m2", "h1", seen=timedelta(hours=1))
    await alert(db, "h1", "no_water", "high")
    await alert(db, "h1", "battery_low", "low", category="device")
    await db.execute(
        "INSERT INTO dead_letters (topic, payload, reason, received_at) VALUES ('t', '', 'r', $1)",
        NOW,
    )
    await db.execute(
        "INSERT INTO detector_state (home_id, state, through) VALUES ('h1', '{}', $1)",
        NOW - timedelta(seconds=90),
    )
    m = await collect(db, NOW)
    assert (m.devices_total, m.devices_reporting) == (2, 1)
    assert m.last_received_age_s == 60.0
    assert m.dead_letters == 1
    assert m.detector_lag_s == 90.0
    assert m.outbox_backlog == 0 and m.outbox_oldest_due_age_s is None
    assert m.open_alerts == {"critical": 0, "high": 1, "medium": 0, "low": 1, "info": 0}
    assert m.readings_inserted >= 0
