"""Presence: out through the entrance is not inactivity; declared absences pause the rules."""

from __future__ import annotations

from datetime import timedelta

from core.kinds import Category
from detectors.engine import Engine
from detectors.scenario import Scenario, quiet, replay
from tests.test_detector_rules import ONE_HOME, alerts, at, awake, run


def test_out_through_the_entrance_is_not_inactivity() -> None:
    s = Scenario()
    readings = [*awake(s, 7, 10), s.motion(at(10.01), "entrance"), s.motion(at(10.02), "entrance")]
    readings += quiet(s, at(7), at(21))
    # Back at 16:00 through the entrance, then moving about until 17:00.
    readings += [s.motion(at(16), "entrance"), *awake(s, 16.02, 17)]
    found = alerts(run(s, readings))
    # Six hours out raise nothing; the silence after 17:00 at home does (cold limit 3 h).
    assert [f.kind for f in found] == ["motion_inactivity"]
    assert found[0].at >= at(19.8)


def test_water_while_out_is_a_machine_not_the_person() -> None:
    s = Scenario()
    readings = [*awake(s, 7, 10), s.motion(at(10.01), "entrance")]
    # The washing machine fills by itself at 10:30 and 11:00 while the person is out.
    fills = [(at(10.5), at(10.52), 10.0), (at(11), at(11.02), 10.0)]
    readings += s.meter(at(7), at(20), fills)
    readings += [s.motion(at(16), "entrance"), *awake(s, 16.02, 19.9)]
    assert alerts(run(s, readings)) == []


def test_standing_in_the_hall_then_silence_is_not_an_outing_forever() -> None:
    s = Scenario()
    readings = [*awake(s, 7, 10), s.motion(at(10.01), "entrance"), *quiet(s, at(7), at(12))]
    # Passing the hall and going on into the kitchen: still home.
    readings += [s.motion(at(10.05), "kitchen")]
    found = alerts(run(s, readings + quiet(s, at(12), at(15))))
    assert [f.kind for f in found] == ["motion_inactivity"]


def test_declared_absence_pauses_rules_then_expects_a_return() -> None:
    s = Scenario()
    readings = awake(s, 7, 9) + quiet(s, at(7), at(23))
    engine = Engine(s.rows(), ONE_HOME)
    engine.declare_away("H1", at(9), at(18))
    found = alerts(replay(engine, sorted(readings, key=lambda r: r.ts)))
    # Nothing during the declared absence; no sign of life 3 h after its end.
    assert [f.kind for f in found] == ["no_activity_after_away"]
    assert at(21) <= found[0].at <= at(21.3)
    assert found[0].category is Category.INACTIVITY
    assert "declared away until 18:00" in found[0].explanation


def test_declared_absence_then_back_on_time_raises_nothing() -> None:
    s = Scenario()
    readings = awake(s, 7, 9) + quiet(s, at(7), at(22)) + awake(s, 18.5, 21.9)
    engine = Engine(s.rows(), ONE_HOME)
    engine.declare_away("H1", at(9), at(18))
    assert alerts(replay(engine, sorted(readings, key=lambda r: r.ts))) == []


def test_long_absence_nobody_declared_is_a_routine_finding() -> None:
    s = Scenario()
    readings = [*awake(s, 7, 10), s.motion(at(10.01), "entrance"), *quiet(s, at(7), at(36))]
    found = alerts(run(s, readings))
    assert [(f.kind, f.category) for f in found] == [("long_absence", Category.ROUTINE)]
    assert at(24) <= found[0].at <= at(24.3)  # 14 h after leaving (cold start)


def test_entrance_only_home_cannot_presume_anyone_out() -> None:
    s = Scenario()
    rows = s.rows(rooms=("entrance",))
    readings = [s.motion(at(9) + timedelta(minutes=5 * i), "entrance") for i in range(12)]
    readings += quiet(s, at(7), at(19))  # one sensor: a longer cold-start limit (6 h)
    found = alerts(run(s, readings, rows))
    assert [f.kind for f in found] == ["motion_inactivity"]
