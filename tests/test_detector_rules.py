"""Each detector on crafted data, in event time (no wall clock, no sleeps)."""

from __future__ import annotations

from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from core.kinds import Category, Severity
from detectors.engine import Engine
from detectors.findings import Finding
from detectors.scenario import Scenario, quiet, replay
from detectors.settings import EngineSettings

LOCAL = ZoneInfo("Asia/Shanghai")
DAY = datetime(2026, 1, 5, tzinfo=LOCAL)  # a Monday, local midnight
# One home alone is quiet for minutes at a time: that never pauses anything (only a
# missing ingest heartbeat does, and these recordings have none).
ONE_HOME = EngineSettings()


def at(hour: float, day: int = 0) -> datetime:
    """Local time `hour` on day `day` of the scenario."""
    return DAY + timedelta(days=day, hours=hour)


def alerts(findings: list[Finding], kind: str | None = None) -> list[Finding]:
    """Alerting findings, optionally of one kind."""
    return [f for f in findings if f.alerting and (kind is None or f.kind == kind)]


def awake(s: Scenario, start: float, end: float, day: int = 0, every_min: float = 10.0) -> list:
    """Motion in the living room every `every_min` minutes between two local hours."""
    out = []
    t = at(start, day)
    while t < at(end, day):
        out.append(s.motion(t, "living_room"))
        t += timedelta(minutes=every_min)
    return out


def run(s: Scenario, readings: list, rows: list | None = None) -> list[Finding]:
    engine = Engine(rows or s.rows(), ONE_HOME)
    return replay(engine, sorted(readings, key=lambda r: r.ts))


def test_smoke_alarm_is_critical_at_once_and_clears() -> None:
    s = Scenario()
    readings = quiet(s, at(10), at(13))
    readings += [
        s.smoke(at(11.5), alarm=True),
        s.smoke(at(11.51), alarm=True),  # still sounding: the same episode
        s.smoke(at(11.6), alarm=False),
        s.smoke(at(12.5), test=True),  # a self-test: recorded, not alerted
    ]
    found = run(s, readings)
    smoke = [f for f in found if f.category is Category.SMOKE]
    assert [(f.severity, f.clears) for f in smoke] == [
        (Severity.CRITICAL, False),
        (Severity.INFO, True),
    ]
    assert smoke[0].at == at(11.5)
    assert "kitchen" in smoke[0].explanation
    tests = [f for f in found if f.kind == "smoke_test"]
    assert len(tests) == 1 and not tests[0].alerting


def test_high_flow_for_half_an_hour_is_a_leak() -> None:
    s = Scenario()
    readings = awake(s, 7, 14) + s.meter(at(7), at(14), [(at(10), at(14), 8.0)])
    found = alerts(run(s, readings), "leak_high_flow")
    assert len(found) == 1
    assert at(10.5) <= found[0].at <= at(10.5) + timedelta(minutes=16)
    assert found[0].category is Category.LEAK
    assert "since 10:00" in found[0].explanation


def test_a_trickle_that_never_stops_is_a_continuous_flow_leak() -> None:
    s = Scenario()
    readings = awake(s, 7, 14) + s.meter(at(7), at(14), [(at(9), at(14), 0.5)])
    found = alerts(run(s, readings), "leak_continuous_flow")
    assert len(found) == 1
    assert at(9.75) <= found[0].at <= at(10.1)


def test_a_long_shower_is_not_a_leak() -> None:
    s = Scenario()
    readings = awake(s, 7, 14) + s.meter(at(7), at(14), [(at(9), at(9.4), 8.0)])
    assert [f for f in run(s, readings) if f.category is Category.LEAK and f.alerting] == []


def test_flow_in_every_quarter_hour_for_hours_is_a_leak() -> None:
    s = Scenario()
    refills = [  # a cistern that refills for a minute every quarter hour
        (at(8) + timedelta(minutes=15 * i, seconds=30), at(8) + timedelta(minutes=15 * i + 1), 3.0)
        for i in range(32)
    ]
    readings = awake(s, 7, 16) + s.meter(at(7), at(16), refills)
    found = alerts(run(s, readings), "leak_continuous_use")
    assert len(found) == 1
    assert "every quarter hour" in found[0].explanation
    assert at(10.9) <= found[0].at <= at(11.3)


def test_flow_all_night_three_nights_running_is_a_night_leak() -> None:
    s = Scenario()
    readings = []
    for day in range(4):
        readings += awake(s, 7, 21, day)
        # A meter without a flow field reports only its index; a slow leak never stops.
        readings += s.meter(
            at(0, day), at(24, day), [(at(0, day), at(24, day), 0.02)], flow_field=False
        )
    found = alerts(run(s, readings), "leak_night_flow")
    assert len(found) == 1
    assert at(5, 2) <= found[0].at <= at(6, 2)


def test_a_day_of_very_high_use_is_reported_once() -> None:
    s = Scenario()
    # Ten 100 L draws within one care day (care days run from noon to noon).
    draws = [(at(h), at(h + 1 / 6), 10.0) for h in range(12, 22)]
    readings = awake(s, 7, 23) + s.meter(at(7), at(23), draws)
    found = alerts(run(s, readings), "high_daily_use")
    assert len(found) == 1
    assert "L of water used today" in found[0].explanation


def test_a_meter_index_going_back_is_a_replaced_meter() -> None:
    s = Scenario()
    readings = [*awake(s, 7, 12), s.meter_index(at(9), 5000.0), s.meter_index(at(9.5), 3.0)]
    found = alerts(run(s, readings), "meter_backwards")
    assert len(found) == 1 and found[0].category is Category.DEVICE


def test_no_motion_for_hours_in_the_day_is_inactivity_cold_start() -> None:
    s = Scenario()
    readings = awake(s, 7, 10) + quiet(s, at(7), at(18))
    found = alerts(run(s, readings))
    assert [f.kind for f in found] == ["motion_inactivity"]
    # The cold-start daytime limit is 3 h; the meter reports every 15 minutes.
    assert at(12.8) <= found[0].at <= at(13.3)
    assert "no movement since 09:50" in found[0].explanation


def test_nobody_up_by_the_morning_deadline_cold_start() -> None:
    s = Scenario()
    readings = awake(s, 18, 21.5) + quiet(s, at(18), at(36))
    found = alerts(run(s, readings))
    assert [f.kind for f in found] == ["no_morning_activity"]
    assert at(10, 1) <= found[0].at <= at(10.3, 1)  # cold-start deadline: 10:00 local


def test_bathroom_then_nothing_is_a_prolonged_bathroom_visit() -> None:
    s = Scenario()
    readings = awake(s, 7, 14) + quiet(s, at(7), at(17))
    readings.append(s.motion(at(14.01), "bathroom"))
    found = alerts(run(s, readings))
    assert [f.kind for f in found] == ["prolonged_bathroom"]
    assert at(15.25) <= found[0].at <= at(15.55)


def test_night_wandering_outside_bedroom_and_bathroom() -> None:
    s = Scenario()
    readings = awake(s, 18, 22) + quiet(s, at(18), at(30))
    rooms = ("living_room", "kitchen", "entrance")
    readings += [s.motion(at(26.5) + timedelta(minutes=2 * i), rooms[i % 3]) for i in range(15)]
    found = alerts(run(s, readings), "night_wandering")
    assert len(found) == 1
    assert found[0].category is Category.WANDERING
    assert found[0].at < at(27, 0)


def test_a_toilet_visit_at_night_is_not_wandering() -> None:
    s = Scenario()
    readings = awake(s, 18, 22) + quiet(s, at(18), at(30))
    for i in range(4):  # four visits, bedroom and bathroom only
        visit = at(25 + i)
        readings += [s.motion(visit, "bedroom"), s.motion(visit + timedelta(minutes=1), "bathroom")]
        readings.append(s.motion(visit + timedelta(minutes=4), "bedroom"))
    assert alerts(run(s, readings), "night_wandering") == []


def test_device_offline_after_its_last_will_then_back() -> None:
    s = Scenario()
    readings = awake(s, 7, 14) + quiet(s, at(7), at(14))
    readings.append(s.status(at(9), "smoke", online=False))
    readings.append(s.status(at(12), "smoke", online=True, battery=80))
    found = [f for f in run(s, readings) if f.kind == "device_offline"]
    assert [(f.clears, f.at >= at(9.25)) for f in found] == [(False, True), (True, True)]
    assert found[0].at <= at(9.5)


def test_a_short_link_loss_is_not_a_finding() -> None:
    s = Scenario()
    readings = awake(s, 7, 12) + quiet(s, at(7), at(12))
    readings += [s.status(at(9), "kitchen", online=False), s.status(at(9.1), "kitchen")]
    assert [f for f in run(s, readings) if f.category is Category.DEVICE] == []


def test_battery_low_once_per_battery() -> None:
    s = Scenario()
    readings = awake(s, 7, 12)
    readings += [
        s.status(at(8 + i / 4), "bedroom", battery=pct)
        for i, pct in enumerate((25, 19, 18, 90, 15))
    ]
    found = alerts(run(s, readings), "battery_low")
    assert len(found) == 2  # 19 % (first) and 15 % (after the replacement at 90 %)


def test_every_device_of_a_home_silent_is_one_home_finding() -> None:
    s = Scenario("H1")
    other = Scenario("H2")
    readings = awake(s, 7, 10) + quiet(s, at(7), at(10)) + quiet(s, at(14), at(15))
    readings += quiet(other, at(7), at(15)) + awake(other, 7, 15)
    readings.append(s.motion(at(14.1), "kitchen"))
    engine = Engine(s.rows() + other.rows(), ONE_HOME)
    found = [f for f in replay(engine, sorted(readings, key=lambda r: r.ts)) if f.home_id == "H1"]
    kinds = [(f.kind, f.clears) for f in found]
    assert ("home_silent", False) in kinds and ("home_silent", True) in kinds
    assert not any(kind == "device_offline" for kind, _ in kinds)
    assert not any(f.category is Category.INACTIVITY for f in found)


def test_water_only_home_less_than_ten_litres_in_twelve_hours() -> None:
    s = Scenario()
    rows = s.rows(rooms=(), smoke=False)
    readings = s.meter(at(6), at(22), [(at(8), at(8.1), 4.0)])  # 24 L at 08:00, then nothing
    found = alerts(run(s, readings, rows))
    assert [f.kind for f in found] == ["water_inactivity"]
    assert at(20) <= found[0].at <= at(20.3)
