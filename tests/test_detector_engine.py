"""The engine: state that survives a restart, the pipeline guard, episodes, cheap sweeps."""

from __future__ import annotations

import itertools
import json
import time
from dataclasses import replace
from datetime import timedelta

from core.kinds import Category, Severity
from core.readings import DeviceType
from core.registry import RegistryRow
from detectors.engine import Engine
from detectors.findings import Finding
from detectors.scenario import Scenario, quiet, replay
from detectors.settings import DEFAULT_HOME_SETTINGS, ActivitySettings, EngineSettings
from tests.test_detector_rules import ONE_HOME, alerts, at, awake


def silent_afternoon(s: Scenario) -> list:
    """Up in the morning, then nothing from 10:00: one inactivity episode (~13:00)."""
    return sorted(awake(s, 7, 10) + quiet(s, at(7), at(22)), key=lambda r: r.ts)


def test_state_survives_a_restart_mid_episode_without_duplicates() -> None:
    s = Scenario()
    readings = silent_afternoon(s)
    cut = next(i for i, r in enumerate(readings) if r.ts >= at(12))
    first = Engine(s.rows(), ONE_HOME)
    before = replay(first, readings[:cut])
    saved = json.loads(json.dumps(first.to_dict()))  # really JSON, as a service stores it
    second = Engine(s.rows(), ONE_HOME)
    second.restore(saved)
    after = replay(second, readings[cut:])
    found = alerts(before + after)
    assert [f.kind for f in found] == ["motion_inactivity"]
    assert found[0] in after  # raised by the restored engine, on time
    assert found[0].at <= at(13.3)


def test_restart_after_a_finding_does_not_repeat_it() -> None:
    s = Scenario()
    readings = silent_afternoon(s)
    cut = next(i for i, r in enumerate(readings) if r.ts >= at(15))
    first = Engine(s.rows(), ONE_HOME)
    before = alerts(replay(first, readings[:cut]))
    assert [f.kind for f in before] == ["motion_inactivity"]
    second = Engine(s.rows(), ONE_HOME)
    for home_id in second.home_ids:  # per-home persistence, as the service does it
        second.restore({**first.engine_state(), "homes": {home_id: first.home_state(home_id)}})
    assert alerts(replay(second, readings[cut:])) == []


def test_a_still_active_condition_is_one_finding_or_a_spaced_reminder() -> None:
    s = Scenario()
    readings = silent_afternoon(s)
    assert len(alerts(replay(Engine(s.rows(), ONE_HOME), readings))) == 1
    reminding = replace(DEFAULT_HOME_SETTINGS, activity=ActivitySettings(renotify_s=3 * 3600.0))
    engine = Engine(s.rows(), ONE_HOME, default_home_settings=reminding)
    found = alerts(replay(engine, readings))
    assert [f.kind for f in found] == ["motion_inactivity"] * 3  # ~13:00, 16:00, 19:00
    gaps = [(b.at - a.at).total_seconds() for a, b in itertools.pairwise(found)]
    assert all(gap >= 3 * 3600 for gap in gaps)
    assert found[1].explanation.startswith("still no sign of activity")


def fleet(homes: int = 3) -> tuple[list[Scenario], list[RegistryRow]]:
    scenarios = [Scenario(f"H{i}") for i in range(homes)]
    return scenarios, [row for s in scenarios for row in s.rows()]


def busy_with_gap(scenarios: list[Scenario], gap_from: float, gap_to: float, motion_back: float):
    """Every home moving every 5 minutes and its meter reporting every 5 minutes, except
    in a gap where nothing at all arrives (a broker outage); motion resumes a little later."""
    out = []
    for s in scenarios:
        moving = awake(s, 9.04, 14, every_min=5)  # between the meter's reports
        out += [r for r in moving if not at(gap_from) <= r.ts < at(motion_back)]
        meter = s.meter(at(9), at(14), every=timedelta(minutes=5))
        out += [r for r in meter if not at(gap_from) <= r.ts < at(gap_to)]
    return sorted(out, key=lambda r: r.ts)


def test_pipeline_outage_is_one_system_finding_and_no_inactivity() -> None:
    # Twenty minutes of silence is an alarm for these homes (so an outage would page).
    touchy = replace(
        DEFAULT_HOME_SETTINGS,
        activity=ActivitySettings(cold_day_silence_s=20 * 60.0, cold_day_starts_s=8 * 3600.0),
    )
    scenarios, rows = fleet()
    readings = busy_with_gap(scenarios, 11, 11.5, 11.6)
    guarded = replay(Engine(rows, EngineSettings(), default_home_settings=touchy), readings)
    system = [f for f in guarded if f.category is Category.SYSTEM]
    assert [(f.kind, f.severity, f.clears) for f in system] == [
        ("pipeline_silent", Severity.HIGH, False),
        ("pipeline_silent", Severity.INFO, True),
    ]
    assert at(11.05) <= system[0].at <= at(11.1)
    assert not [f for f in guarded if f.category is Category.INACTIVITY]
    # The control: without the guard the same outage pages about every home.
    unguarded = replay(
        Engine(rows, EngineSettings(pipeline_silence_s=1e9), default_home_settings=touchy), readings
    )
    assert len({f.home_id for f in unguarded if f.category is Category.INACTIVITY}) == 3


def test_silence_before_an_outage_still_counts_after_it() -> None:
    s = Scenario()
    readings = awake(s, 7, 10) + [
        r for r in quiet(s, at(7), at(16)) if not at(11) <= r.ts < at(11.5)
    ]
    # One home's meter reports every 15 minutes: a 20-minute silence is the pipeline's.
    engine = Engine(s.rows(), EngineSettings(pipeline_silence_s=20 * 60.0))
    found = replay(engine, sorted(readings, key=lambda r: r.ts))
    inactivity = [f for f in found if f.category is Category.INACTIVITY]
    assert len(inactivity) == 1
    # The 30 minutes we could not see are not counted: 3 h of silence plus the outage.
    assert at(13.3) <= inactivity[0].at <= at(13.9)


def test_sweep_with_nothing_due_costs_next_to_nothing() -> None:
    rows = [
        RegistryRow(f"H{i}", f"H{i}-water", DeviceType.WATER_METER, None, "Asia/Shanghai")
        for i in range(20_000)
    ]
    engine = Engine(rows, ONE_HOME)
    out: list[Finding] = []
    start = at(8).timestamp()
    for row in rows:  # every home heard once: each has a timer
        reading = Scenario(row.home_id).water(at(8))
        engine.feed_into(replace(reading, device_id=row.device_id), out)
    engine.tick_epoch(start + 1, out)  # the first look at every home
    started = time.process_time()  # CPU time: other work on the machine does not count
    for minute in range(2, 12):
        engine.tick_epoch(start + 60 * minute, out)
    assert time.process_time() - started < 0.05
