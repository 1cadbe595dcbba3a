"""The learned baseline: cold start, what it learns, how it speaks, how fast it fits."""

from __future__ import annotations

import json
import math
import random
import time
from datetime import timedelta

import numpy as np

from core.kinds import Category
from detectors import daybook as d
from detectors.baseline import Baseline, fit_baseline
from detectors.engine import Engine
from detectors.localtime import LocalClock
from detectors.routine import describe_outliers
from detectors.scenario import Scenario, quiet, replay
from detectors.settings import DEFAULT_HOME_SETTINGS
from tests.test_detector_rules import DAY, ONE_HOME, alerts, at, awake

LEARN_DAYS = 14


def learned_engine(s: Scenario, days: int = LEARN_DAYS) -> tuple[Engine, list]:
    """An engine that has watched `days` ordinary days of the scenario's home."""
    engine = Engine(s.rows(), ONE_HOME)
    found = replay(engine, s.ordinary_days(DAY, days))
    return engine, found


def test_cold_start_until_enough_days() -> None:
    s = Scenario()
    engine = Engine(s.rows(), ONE_HOME)
    replay(engine, s.ordinary_days(DAY, 6))
    assert engine.baseline("H1") is None  # rules with defaults carry the home
    assert fit_baseline(engine.history("H1"), DEFAULT_HOME_SETTINGS) is None
    engine, found = learned_engine(s)
    assert engine.baseline("H1") is not None
    assert alerts(found) == []  # two weeks of ordinary days: not a single alert


def test_what_the_baseline_learns_from_ordinary_days() -> None:
    engine, _ = learned_engine(Scenario())
    b = engine.baseline("H1")
    assert b is not None
    noon = 12 * 3600
    assert abs(b.wake_median_s + noon - (24 + 7) * 3600) < 30 * 60  # up about 07:00
    assert abs(b.bed_early_s + noon - 22 * 3600) < 45 * 60  # in bed about 22:00
    slot = lambda hour: int(hour * 2)  # noqa: E731
    # By day a silence of more than about two hours is unusual; by night it is sleep.
    assert 75 * 60 <= b.silence_threshold_s[slot(11)] <= 2.5 * 3600
    assert b.silence_threshold_s[slot(3)] > 4 * 3600
    assert b.litres_high >= 20
    assert b.hourly_rate[3] < b.hourly_rate[11]


def test_learned_silence_limit_speaks_sooner_than_the_default() -> None:
    s = Scenario()
    engine, _ = learned_engine(s)
    last = LEARN_DAYS
    readings = awake(s, 7, 10, last) + quiet(s, at(0, last), at(16, last))
    found = alerts(replay(engine, sorted(readings, key=lambda r: r.ts)))
    assert [f.kind for f in found] == ["motion_inactivity"]
    assert found[0].at < at(12.5, last)  # the cold-start limit would wait until 13:00
    assert "usual limit" in found[0].explanation


def test_learned_morning_deadline() -> None:
    s = Scenario()
    engine, _ = learned_engine(s)
    last = LEARN_DAYS
    found = alerts(replay(engine, quiet(s, at(0, last), at(12, last))))
    assert [f.kind for f in found] == ["no_morning_activity"]
    assert at(7.5, last) <= found[0].at <= at(9, last)  # not the cold-start 10:00
    assert "usually up by 07" in found[0].explanation


def test_routine_outlier_is_explained_in_plain_words() -> None:
    engine, _ = learned_engine(Scenario())
    b = engine.baseline("H1")
    assert b is not None
    day = list(engine.history("H1")[-1])
    day[d.F_WAKE] = b.wake_median_s + 3 * 3600
    found = describe_outliers(
        day, b, DEFAULT_HOME_SETTINGS.routine, LocalClock("Asia/Shanghai"), 0.0
    )
    assert any(text.startswith("up 3 h later than usual") for _, text in found)
    ordinary = list(engine.history("H1")[-1])
    assert (
        describe_outliers(ordinary, b, DEFAULT_HOME_SETTINGS.routine, LocalClock("UTC"), 0.0) == []
    )


def test_days_flagged_by_a_finding_do_not_teach_long_silences() -> None:
    engine, _ = learned_engine(Scenario(), 20)
    history = np.array(engine.history("H1"))
    ill = history[-2:].copy()
    ill[:, d.F_GAP : d.F_GAP + 48] = 6 * 3600.0  # two days in bed
    ill[:, d.F_FLAGGED] = 1.0
    plain = fit_baseline(history, DEFAULT_HOME_SETTINGS)
    with_ill = fit_baseline(np.vstack([history, ill]), DEFAULT_HOME_SETTINGS)
    assert plain is not None and with_ill is not None
    assert with_ill.silence_threshold_s[22] <= plain.silence_threshold_s[22] * 1.1


def test_baseline_round_trips_through_json() -> None:
    engine, _ = learned_engine(Scenario())
    b = engine.baseline("H1")
    assert b is not None
    again = Baseline.from_dict(json.loads(json.dumps(b.to_dict())))
    for name, value in b.to_dict().items():
        other = again.to_dict()[name]
        if isinstance(value, list):
            assert all(
                (x is None and y is None) or math.isclose(x, y)
                for x, y in zip(value, other, strict=True)
            )
        else:
            assert value == other


def test_fit_takes_a_few_milliseconds_per_home() -> None:
    engine, _ = learned_engine(Scenario(), 21)
    history = np.array(engine.history("H1"))
    rng = np.random.default_rng(1)
    six_weeks = np.vstack([history, history])[:42]
    homes = [six_weeks * rng.uniform(0.9, 1.1, (len(six_weeks), 1)) for _ in range(50)]
    started = time.process_time()  # CPU time: other work on the machine does not count
    for home in homes:
        assert fit_baseline(home, DEFAULT_HOME_SETTINGS) is not None
    per_home_s = (time.process_time() - started) / len(homes)
    assert per_home_s < 0.005  # 100,000 homes on 2 cores: well under 10 minutes


def _lively_day(s: Scenario, day: int, wake: float, rng: random.Random) -> list:
    """A well day: up at `wake` (local hour), busy for an hour (washing, breakfast), then
    about the home until bed at 22:00; the meter reports every quarter hour."""
    out = []
    t = at(wake, day)
    while t < at(wake + 1, day):
        out.append(s.motion(t, rng.choice(("bathroom", "kitchen", "bedroom"))))
        t += timedelta(minutes=rng.uniform(1, 2))
    while t < at(22, day):
        out.append(s.motion(t, rng.choice(("living_room", "kitchen"))))
        t += timedelta(minutes=rng.uniform(3, 12))
    return out + s.meter(at(0, day), at(24, day))


def _ill_morning(s: Scenario, day: int, wake: float) -> list:
    """Up at `wake`, then in bed: a movement every quarter hour, nothing more."""
    out = []
    t = at(wake, day)
    while t < at(12, day):
        out.append(s.motion(t, "bedroom"))
        t += timedelta(minutes=15)
    return out + s.meter(at(0, day), at(12, day))


def _learned_lively(days: int = 14) -> tuple[Scenario, Engine]:
    s = Scenario()
    rng = random.Random(3)
    engine = Engine(s.rows(), ONE_HOME)
    for day in range(days):
        readings = _lively_day(s, day, 7 + rng.uniform(-0.25, 0.25), rng)
        replay(engine, sorted(readings, key=lambda r: (r.ts, r.seq)))
    return s, engine


def test_up_but_barely_moving_is_found_within_the_hour() -> None:
    s, engine = _learned_lively()
    b = engine.baseline("H1")
    assert b is not None and b.morning_low and b.morning_low[0] > 5
    found = alerts(replay(engine, sorted(_ill_morning(s, 14, 7.0), key=lambda r: r.ts)))
    assert [f.kind for f in found][:1] == ["slow_morning"]
    assert found[0].category is Category.INACTIVITY
    assert at(7.75, 14) <= found[0].at <= at(8, 14)  # 45 minutes after getting up
    assert "up at 07:00 but barely moving" in found[0].explanation
    assert "usually about" in found[0].explanation


def test_an_ordinary_busy_morning_is_not_slow() -> None:
    s, engine = _learned_lively()
    readings = _lively_day(s, 14, 7.1, random.Random(9))
    found = alerts(replay(engine, sorted(readings, key=lambda r: (r.ts, r.seq))))
    assert found == []


def test_restless_night_is_not_judged_as_a_morning() -> None:
    s, engine = _learned_lively()
    # Up at 04:30, hours before the usual 07:00, then back to a slow doze until noon.
    found = alerts(replay(engine, sorted(_ill_morning(s, 14, 4.5), key=lambda r: r.ts)))
    assert "slow_morning" not in [f.kind for f in found]


def test_old_day_summaries_without_morning_counts_still_fit() -> None:
    _, engine = _learned_lively()
    history = np.array(engine.history("H1"))[:, : d.OLD_SUMMARY_LEN]
    b = fit_baseline(history, DEFAULT_HOME_SETTINGS)
    assert b is not None and all(math.isnan(v) for v in b.morning_low)
    # A restored home: days saved by the old version, then new ones.
    mixed = [list(row) for row in history[:7]] + engine.history("H1")[7:]
    b = fit_baseline(mixed, DEFAULT_HOME_SETTINGS)
    assert b is not None and b.days == len(mixed)
