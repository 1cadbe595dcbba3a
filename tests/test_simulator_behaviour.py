"""The simulated residents behave within published ranges, and the data shows the truth.

Realism is measured from the messages themselves (meter index, PIR events), with the
timeline only to know when the resident was out; the ranges and their sources are in
`simulators.figures`.
"""

from __future__ import annotations

import statistics
from collections import defaultdict
from dataclasses import dataclass, field
from itertools import pairwise

import pytest

from simulators import figures
from simulators.events import METER, MOTION, OFFLINE, ONLINE, ONLINE_REBOOT, SMOKE_ALARM, Event
from simulators.home import Chunk
from simulators.incidents import (
    DeviceFault,
    Fall,
    Illness,
    IncidentKind,
    IncidentRates,
    WaterRunning,
)
from simulators.layout import BATHROOM, ENTRANCE, WATER_METER
from simulators.localtime import MS_PER_HOUR, MS_PER_MINUTE, HomeCalendar
from simulators.record import Simulation, simulate_homes
from simulators.timeline import OUT


@dataclass
class HomeData:
    """One home's messages and its resident's time out, gathered once."""

    events: list[Event] = field(default_factory=list)
    out_ms_by_day: dict[int, int] = field(default_factory=lambda: defaultdict(int))
    out_spans: list[tuple[int, int]] = field(default_factory=list)


def _gather(sim: Simulation, index: int) -> HomeData:
    data = HomeData()
    cal = sim.calendar
    chunks: list[Chunk] = list(sim.chunks(index))
    for chunk in chunks:
        data.events.extend(chunk.events)
        for start, end, _, mode in chunk.segments:
            if mode != OUT:
                continue
            data.out_spans.append((start, end))
            t = start
            while t < end:
                day = cal.locate(t)[0]
                upto = min(end, cal.midnight_ms(day + 1))
                data.out_ms_by_day[day] += upto - t
                t = upto
    return data


def _incident_days(sim: Simulation, index: int) -> set[int]:
    """Days touched by any incident (with half a day either side)."""
    cal = sim.calendar
    days: set[int] = set()
    for inc in sim.homes[index].incidents:
        end = inc.end_ms
        if isinstance(inc, Fall):
            end = max(end, inc.hospital_until_ms)
        first = cal.locate(inc.start_ms - 12 * MS_PER_HOUR)[0]
        last = cal.locate(end + 12 * MS_PER_HOUR)[0]
        days.update(range(first, last + 1))
    return days


@dataclass(frozen=True)
class PersonFigures:
    water_l: float
    night_visits: float
    hours_out: float
    motion: float
    longest_day_gap_h: float


def _figures(sim: Simulation, index: int, data: HomeData) -> PersonFigures:
    cal = sim.calendar
    bad = _incident_days(sim, index)
    motion: dict[int, int] = defaultdict(int)
    water: dict[int, float] = defaultdict(float)
    night: dict[int, int] = defaultdict(int)
    motion_by_day: dict[int, list[int]] = defaultdict(list)
    last_bathroom = -(10**15)
    last_index = None
    for ts, _, device, _, kind, a, _ in data.events:
        day, seconds = cal.locate(ts)
        hour = seconds / 3600
        if kind == MOTION:
            motion[day] += 1
            motion_by_day[day].append(ts)
            # A night visit: bathroom motion after ten quiet minutes there, 23:00–05:00.
            if device == BATHROOM and ts - last_bathroom > 10 * MS_PER_MINUTE:
                if hour < 5:
                    night[day] += 1
                elif hour >= 23:
                    night[day + 1] += 1
            if device == BATHROOM:
                last_bathroom = ts
        elif kind == METER:
            if last_index is not None and a >= last_index:
                water[day] += (a - last_index) / 10
            last_index = a
    # Ordinary days: no incident near, not away most of the day, not the first or last.
    good = [
        d
        for d in range(1, cal.days - 1)
        if d not in bad and data.out_ms_by_day[d] < 10 * MS_PER_HOUR
    ]
    assert len(good) >= 20
    longest_gap = 0.0
    for day in good:
        longest_gap = max(longest_gap, _longest_home_gap_h(cal, day, motion_by_day[day], data))
    return PersonFigures(
        water_l=statistics.mean(water[d] for d in good),
        night_visits=statistics.mean(night[d] for d in good),
        hours_out=statistics.mean(data.out_ms_by_day[d] / MS_PER_HOUR for d in good),
        motion=statistics.mean(motion[d] for d in good),
        longest_day_gap_h=longest_gap,
    )


def _longest_home_gap_h(cal: HomeCalendar, day: int, motion: list[int], data: HomeData) -> float:
    """Longest stretch without motion between 09:00 and 20:00, counting only time at home."""
    start, end = cal.to_utc_ms(day, 9 * 3600), cal.to_utc_ms(day, 20 * 3600)
    marks = [start, *(t for t in motion if start <= t < end), end]
    spans = [(s, e) for s, e in data.out_spans if s < end and start < e]
    longest = 0
    for a, b in pairwise(marks):
        away = sum(max(0, min(b, e) - max(a, s)) for s, e in spans)
        longest = max(longest, b - a - away)
    return longest / MS_PER_HOUR


REALISM_HOMES = 8
REALISM_DAYS = 60


@pytest.fixture(scope="module")
def realism() -> list[PersonFigures]:
    sim = simulate_homes(REALISM_HOMES, REALISM_DAYS, seed=2026)
    return [_figures(sim, i, _gather(sim, i)) for i in range(REALISM_HOMES)]


def test_daily_water_use_is_within_published_ranges(realism: list[PersonFigures]) -> None:
    for person in realism:
        assert person.water_l in figures.WATER_L_PER_DAY, person


def test_night_toilet_visits_match_nocturia_figures(realism: list[PersonFigures]) -> None:
    visits = [p.night_visits for p in realism]
    assert all(v in figures.NIGHT_TOILET_VISITS_PER_NIGHT for v in visits), visits
    # People differ: some rarely get up at night, some get up two or more times.
    assert min(visits) < 0.7 and max(visits) > 1.3, visits


def test_hours_out_of_home_are_within_published_ranges(realism: list[PersonFigures]) -> None:
    hours = [p.hours_out for p in realism]
    assert all(h in figures.HOURS_OUT_PER_DAY for h in hours), hours
    assert statistics.mean(hours) in figures.HOURS_OUT_PER_DAY_POPULATION
    assert max(hours) > 1.5 * min(hours), "homebodies and the often-out should differ"


def test_motion_events_per_day_are_plausible(realism: list[PersonFigures]) -> None:
    for person in realism:
        assert person.motion in figures.MOTION_EVENTS_PER_DAY, person


def test_no_long_daytime_gaps_at_home_on_ordinary_days(realism: list[PersonFigures]) -> None:
    for person in realism:
        assert person.longest_day_gap_h <= figures.MAX_DAYTIME_MOTION_GAP_HOURS, person


# -- ground truth against the data -------------------------------------------------------

TRUTH_HOMES = 8
TRUTH_DAYS = 45


@pytest.fixture(scope="module")
def busy() -> tuple[Simulation, list[HomeData]]:
    sim = simulate_homes(TRUTH_HOMES, TRUTH_DAYS, seed=77, rates=IncidentRates().scaled(3))
    return sim, [_gather(sim, i) for i in range(TRUTH_HOMES)]


def _between(events: list[Event], start: int, end: int) -> list[Event]:
    return [e for e in events if start < e[0] < end]


def test_every_incident_kind_occurs(busy: tuple[Simulation, list[HomeData]]) -> None:
    sim, _ = busy
    kinds = {inc.kind for home in sim.homes for inc in home.incidents}
    # Gaps, holidays and our own outages come with profiles and heartbeats only
    # (tests/test_simulator_profiles.py).
    elsewhere = {IncidentKind.NETWORK_OUTAGE, IncidentKind.METER_SILENT, IncidentKind.HOLIDAY,
                 IncidentKind.PIPELINE_OUTAGE}  # fmt: skip
    assert kinds == set(IncidentKind) - elsewhere


def test_falls_show_no_motion_and_no_new_water_until_found(
    busy: tuple[Simulation, list[HomeData]],
) -> None:
    sim, homes = busy
    for home, data in zip(sim.homes, homes, strict=True):
        for inc in home.incidents:
            if not isinstance(inc, Fall):
                continue
            during = _between(data.events, inc.start_ms, inc.end_ms)
            assert not [e for e in during if e[4] == MOTION], inc
            flows = [e[6] for e in data.events if e[4] == METER and e[0] < inc.end_ms]
            before = [e for e in data.events if e[4] == METER and e[0] <= inc.start_ms][-1][6]
            for e in during:
                if e[4] == METER:
                    assert e[6] <= before, ("water started during a fall", inc)
            assert flows
            # Activity stops at the fall: the last motion is just before it.
            last = max(e[0] for e in data.events if e[4] == MOTION and e[0] < inc.start_ms)
            assert inc.start_ms - last < 5 * MS_PER_MINUTE
            # And resumes when found (the helper at the entrance) or on getting up.
            after = min(e for e in data.events if e[4] == MOTION and e[0] >= inc.end_ms)
            assert after[0] - inc.end_ms < 5 * MS_PER_MINUTE
            if inc.found:
                assert after[2] == ENTRANCE


def test_water_runs_throughout_a_leak(busy: tuple[Simulation, list[HomeData]]) -> None:
    sim, homes = busy
    for home, data in zip(sim.homes, homes, strict=True):
        for inc in home.incidents:
            if not isinstance(inc, WaterRunning):
                continue
            reports = [
                e for e in data.events if e[4] == METER and inc.start_ms <= e[0] < inc.end_ms
            ]
            assert reports and reports[0][0] == inc.start_ms, inc  # reported as it starts
            assert all(e[6] >= inc.rate_ml_per_min for e in reports), inc
            assert len(reports) >= (inc.end_ms - inc.start_ms) // (15 * MS_PER_MINUTE)


def test_smoke_alarm_sounds_at_the_start_and_clears_at_the_end(
    busy: tuple[Simulation, list[HomeData]],
) -> None:
    sim, homes = busy
    for home, data in zip(sim.homes, homes, strict=True):
        alarms = [(e[0], e[5]) for e in data.events if e[4] == SMOKE_ALARM]
        smokes = [i for i in home.incidents if i.kind is IncidentKind.SMOKE]
        assert alarms == [x for inc in smokes for x in ((inc.start_ms, 1), (inc.end_ms, 0))]


def test_wandering_is_at_night_through_several_rooms(
    busy: tuple[Simulation, list[HomeData]],
) -> None:
    sim, homes = busy
    for home, data in zip(sim.homes, homes, strict=True):
        for inc in home.incidents:
            if inc.kind is IncidentKind.NIGHT_WANDERING:
                assert sim.calendar.local_hour(inc.start_ms) < 4
                rooms = {e[2] for e in _between(data.events, inc.start_ms, inc.end_ms)}
                assert len(rooms & {0, 1, 2, 3, 4}) >= 3, inc


def test_stays_away_leave_and_return_through_the_entrance(
    busy: tuple[Simulation, list[HomeData]],
) -> None:
    sim, homes = busy
    for home, data in zip(sim.homes, homes, strict=True):
        for inc in home.incidents:
            if inc.kind not in (IncidentKind.STAY_AWAY_DECLARED, IncidentKind.STAY_AWAY_UNDECLARED):
                continue
            motion = [e for e in data.events if e[4] == MOTION]
            assert not _between(motion, inc.start_ms, inc.end_ms), inc
            last_before = max(e for e in motion if e[0] <= inc.start_ms)
            first_after = min(e for e in motion if e[0] >= inc.end_ms)
            assert last_before[2] == ENTRANCE and first_after[2] == ENTRANCE


def test_illness_means_much_less_activity(busy: tuple[Simulation, list[HomeData]]) -> None:
    sim, homes = busy
    cal = sim.calendar
    for home, data in zip(sim.homes, homes, strict=True):
        per_day: dict[int, int] = defaultdict(int)
        for e in data.events:
            if e[4] == MOTION:
                per_day[cal.locate(e[0])[0]] += 1
        usual = statistics.median(per_day.values())
        for inc in home.incidents:
            if isinstance(inc, Illness):
                ill = [per_day[d] for d in range(inc.first_day + 1, inc.last_day + 1)]
                assert not ill or statistics.mean(ill) < 0.6 * usual, (inc, ill, usual)


def test_device_faults_silence_the_device(busy: tuple[Simulation, list[HomeData]]) -> None:
    sim, homes = busy
    for home, data in zip(sim.homes, homes, strict=True):
        for inc in home.incidents:
            if not isinstance(inc, DeviceFault):
                continue
            mine = [e for e in data.events if e[2] == inc.device]
            silent = _between(mine, inc.silent_ms, inc.end_ms)
            assert not silent, inc
            assert [e[4] for e in mine if e[0] == inc.silent_ms] == [OFFLINE]
            back = [e for e in mine if e[0] == inc.end_ms]
            assert back and back[0][4] in (ONLINE, ONLINE_REBOOT) and back[0][3] == 0
            if inc.kind is IncidentKind.BATTERY_FLAT:
                low = [e for e in mine if inc.start_ms <= e[0] < inc.silent_ms and e[4] != MOTION]
                assert low and all(e[5] <= 20 for e in low if e[4] != METER)
            if inc.kind is IncidentKind.METER_REPLACED:
                assert inc.device == WATER_METER
                before = [e[5] for e in mine if e[4] == METER and e[0] < inc.start_ms][-1]
                after = next(e[5] for e in mine if e[4] == METER and e[0] >= inc.end_ms)
                assert after < 30 < before  # a new meter reads about 0 L (values in dL)
