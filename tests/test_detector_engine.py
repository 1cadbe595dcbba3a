"""The engine: state that survives a restart, pipeline health, episodes, cheap sweeps."""

from __future__ import annotations

import itertools
import json
import time
from dataclasses import replace
from datetime import timedelta

from core.kinds import Category, Severity
from core.pipeline import PipelineProblem, PipelineStatus
from core.readings import DeviceType
from core.registry import RegistryRow
from detectors.engine import Engine
from detectors.findings import Finding
from detectors.scenario import Scenario, heartbeats, merged, quiet, replay
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
    # Ingest's heartbeat stops with everything else (the broker is down) and comes back.
    beats = heartbeats(at(9), at(14), missing=[(at(11), at(11.5))])
    guarded = replay(
        Engine(rows, EngineSettings(), default_home_settings=touchy), merged(readings, beats)
    )
    system = [f for f in guarded if f.category is Category.SYSTEM]
    assert [(f.kind, f.severity, f.clears) for f in system] == [
        ("pipeline_down", Severity.HIGH, False),
        ("pipeline_down", Severity.INFO, True),
    ]
    assert at(11.02) <= system[0].at <= at(11.05)  # three heartbeats late, at the latest
    assert at(11.5) <= system[1].at <= at(11.51)
    assert not [f for f in guarded if f.category is Category.INACTIVITY]
    # The control: a recording without heartbeats is healthy throughout, so the same
    # outage pages about every home.
    unguarded = replay(Engine(rows, EngineSettings(), default_home_settings=touchy), readings)
    assert len({f.home_id for f in unguarded if f.category is Category.INACTIVITY}) == 3
    assert not [f for f in unguarded if f.category is Category.SYSTEM]


def test_a_quiet_fleet_with_the_heartbeat_flowing_is_not_paused() -> None:
    """Every home silent for hours (a pilot of meters reporting hourly): the heartbeat
    proves the pipeline delivers, so the homes are judged, and nothing is paused."""
    scenarios, rows = fleet()
    readings = [r for s in scenarios for r in awake(s, 7, 10) + s.hourly_index(at(7), at(16), [])]
    found = replay(
        Engine(rows, EngineSettings()),
        merged(readings, heartbeats(at(7), at(16))),
        until=at(16),
    )
    assert not [f for f in found if f.category is Category.SYSTEM]
    silent = {f.home_id for f in found if f.kind == "motion_inactivity"}
    assert silent == {s.home_id for s in scenarios}


def test_pipeline_status_pauses_and_resumes_and_survives_a_restart() -> None:
    s = Scenario()
    engine = Engine(s.rows(), ONE_HOME)
    out: list[Finding] = []
    for beat in heartbeats(at(9), at(10)):
        engine.heartbeat_into(beat, out)
    down = PipelineStatus("ingest-1", at(10), PipelineProblem.BROKER_DISCONNECTED)
    found = engine.pipeline_status(down)
    assert [(f.kind, f.severity) for f in found] == [("pipeline_down", Severity.HIGH)]
    assert "broker disconnected" in found[0].explanation
    assert engine.pipeline_suspended
    saved = json.loads(json.dumps(engine.to_dict()))
    again = Engine(s.rows(), ONE_HOME)
    again.restore(saved)
    assert again.pipeline_suspended
    assert again.pipeline_status(PipelineStatus("ingest-1", at(10.2), None)) == []
    assert again.pipeline_suspended  # no heartbeat has come back since it went down
    for beat in heartbeats(at(10.25), at(10.3)):
        again.heartbeat_into(beat, out)
    assert not again.pipeline_suspended
    assert [(f.kind, f.clears) for f in out[-1:]] == [("pipeline_down", True)]
    assert again.pipeline_blind == [[at(10).timestamp(), at(10.25).timestamp()]]


def test_silence_before_an_outage_still_counts_after_it() -> None:
    s = Scenario()
    readings = awake(s, 7, 10) + [
        r for r in quiet(s, at(7), at(16)) if not at(11) <= r.ts < at(11.5)
    ]
    beats = heartbeats(at(7), at(16), every=timedelta(minutes=1), missing=[(at(11), at(11.5))])
    engine = Engine(s.rows(), EngineSettings())
    found = replay(engine, merged(readings, beats))
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


def test_a_heartbeat_is_late_only_past_its_usual_cadence_and_transit() -> None:
    """On a clock that runs far faster than the wall (a demo's catch-up, a stepped test),
    every heartbeat takes minutes of that clock from being sent to being committed: the
    pipeline is not down for that. A heartbeat that stops coming is still noticed."""
    s = Scenario()
    engine = Engine(s.rows(), ONE_HOME)
    out: list[Finding] = []
    transit = timedelta(minutes=4)  # longer than the cadence's own timeout (3 beats)
    for beat in heartbeats(at(9), at(10), every=timedelta(minutes=1)):
        engine.heartbeat_into(beat, out, (beat.sent_at + transit).timestamp())
        engine.tick_epoch((beat.sent_at + transit).timestamp(), out)
    assert not engine.pipeline_suspended and not [f for f in out if f.kind == "pipeline_down"]
    # Then none comes back: down once the cadence and the usual transit have passed.
    engine.tick_epoch((at(10) + timedelta(minutes=10)).timestamp(), out)
    assert not engine.pipeline_suspended
    engine.tick_epoch((at(10) + timedelta(minutes=16)).timestamp(), out)
    assert engine.pipeline_suspended
    assert [f.kind for f in out] == ["pipeline_down"]
