"""The detectors on homes as they are: hourly meters, one motion sensor, gaps, late data,
small pilots and large ones, streets that lose power. Crafted data, in event time."""

from __future__ import annotations

import dataclasses
import random
from datetime import datetime, timedelta

from core.kinds import Category, Severity
from core.pipeline import CommittedBatch
from core.readings import Reading
from core.registry import RegistryRow
from detectors.engine import Engine
from detectors.findings import Finding
from detectors.scenario import Scenario, heartbeats, merged, renumbered, replay
from detectors.settings import EngineSettings
from tests.test_detector_rules import alerts, at

ALONE = EngineSettings()


def sparse_rows(s: Scenario, street: str | None = None) -> list[RegistryRow]:
    """An hourly meter and one motion sensor in the living room, nothing else."""
    return [dataclasses.replace(r, street=street) for r in s.rows(("living_room",), smoke=False)]


def ordinary_week(
    s: Scenario, days: int, seed: int, first_day: int = 0, fall: datetime | None = None
) -> list[Reading]:
    """An elder living alone, seen by one living-room sensor (hourly heartbeat) and an
    hourly index-only meter: up about 07:00, naps after lunch in the bedroom (unseen),
    out shopping some mornings, a shower every other evening, a night toilet visit.
    After a `fall`, no motion and no water (the devices go on reporting)."""
    rng = random.Random(seed)
    out: list[Reading] = []
    uses: list[tuple[datetime, float]] = []
    for day in range(first_day, first_day + days):
        wake = 7 + rng.uniform(-0.4, 0.4)
        bed = 22 + rng.uniform(-0.5, 0.4)
        spans = [(wake + 0.5, 9.0), (12.0, 13.2), (15.0, 18.0), (19.0, bed)]
        if rng.random() < 0.7:  # at home all morning; else out shopping until 11:30
            spans.insert(1, (9.5, 11.8))
        for start, end in spans:
            t = start
            while t < end:
                out.append(s.motion(at(t, day), "living_room"))
                t += rng.uniform(4, 25) / 60
        flushes = [wake + 0.1, 10.5, 12.6, 15.2, 17.5, 20.0, bed - 0.2]
        uses += [(at(h + rng.uniform(0, 0.2), day), 6.0) for h in flushes]
        uses += [(at(wake + 0.3, day), 8.0), (at(12.3, day), 5.0), (at(18.5, day), 12.0)]
        if day % 2:
            uses.append((at(20.5, day), 40.0))
        if rng.random() < 0.5:
            uses.append((at(rng.uniform(2, 4), day), 6.0))
        out += [s.status(at(h + 0.7, day), "living_room") for h in range(24)]
    if fall is not None:
        out = [r for r in out if r.ts < fall or r.motion is None]
        uses = [(t, litres) for t, litres in uses if t < fall]
    out += s.hourly_index(at(0, first_day), at(24, first_day + days - 1), uses)
    return renumbered(out)


def test_one_home_an_hourly_meter_and_one_sensor_a_normal_week_raises_nothing() -> None:
    s = Scenario()
    found = replay(Engine(sparse_rows(s), ALONE), ordinary_week(s, 7, seed=3))
    assert alerts(found) == []


def test_the_same_home_in_a_500_home_deployment_gets_the_same_findings() -> None:
    """Nothing about one home depends on how many others report around it (the old
    pipeline guard paused everyone in a pilot whose homes were quiet for minutes). The
    home falls on its sixth morning: found the same way, alone or among 500."""
    fall = at(9.8, 5)
    beats = heartbeats(at(0), at(24, 6), timedelta(minutes=1))
    s = Scenario("H1")
    alone = replay(Engine(sparse_rows(s), ALONE), merged(ordinary_week(s, 7, 3, fall=fall), beats))
    found = alerts(alone)
    assert [f.category for f in found] == [Category.INACTIVITY]
    assert fall < found[0].at <= fall + timedelta(hours=7)
    fleet = [Scenario("H1")] + [Scenario(f"N{i:03d}") for i in range(499)]
    rows = [row for home in fleet for row in sparse_rows(home)]
    readings = [
        r
        for i, home in enumerate(fleet)
        for r in ordinary_week(home, 7, 3 + i, fall=fall if i == 0 else None)
    ]
    together = replay(Engine(rows, ALONE), merged(readings, beats))
    assert [f for f in together if f.home_id == "H1"] == alone


def test_an_hourly_index_that_rises_every_hour_is_not_one_unbroken_flow() -> None:
    """A busy household's hourly meter: water in every hour of the day, none at night."""
    s = Scenario()
    uses = [(at(h + 0.5, d), 15.0) for d in range(14) for h in range(6, 23)]
    readings = s.hourly_index(at(0), at(24, 13), uses)
    readings += [s.status(at(h + 0.7, d), "living_room") for d in range(14) for h in range(24)]
    found = replay(Engine(sparse_rows(s), ALONE), sorted(readings, key=lambda r: r.ts))
    assert [f for f in alerts(found) if f.category is Category.LEAK] == []


def test_a_tap_left_on_shows_by_the_second_hourly_report() -> None:
    s = Scenario()
    week = ordinary_week(s, 12, seed=4)
    volume = max(r.volume_l or 0 for r in week)
    # Day 12: the kitchen tap left running at 5 L/min from 14:05, 300 L an hour.
    tap = []
    for i, hour in enumerate(range(0, 24)):
        litres = max(0.0, min(60.0, (hour + 0.283 - 14.083) * 60.0)) * 5.0 if hour >= 14 else 0
        tap.append(s.meter_index(at(hour + 0.283, 12), volume + litres))
        tap[-1] = dataclasses.replace(tap[-1], seq=20_000 + i, flow_lpm=None)
    found = replay(Engine(sparse_rows(s), ALONE), week + tap)
    leaks = [f for f in alerts(found) if f.kind == "leak_high_use"]
    assert leaks and "tap left on" in leaks[0].explanation
    assert at(15.28, 12) <= leaks[0].at <= at(16.3, 12)  # the first or second report after


def test_a_day_gap_in_a_meters_reports_raises_no_water_inactivity() -> None:
    """A meter-only home; its network drops the reports for a day, water is used
    meanwhile (the index has risen when it comes back): nothing to say about the person."""
    s = Scenario()
    readings = [r for r in ordinary_week(s, 16, seed=6) if r.volume_l is not None]
    gap = [r for r in readings if not at(9, 13) <= r.ts < at(9, 14)]
    rows = s.rows((), smoke=False)
    found = replay(Engine(rows, ALONE), gap)
    assert [f for f in alerts(found) if f.category is Category.INACTIVITY] == []
    assert [f for f in alerts(found) if f.category is Category.LEAK] == []
    # The meter itself was silent: that is a device finding, about the meter.
    assert {f.category for f in alerts(found)} <= {Category.DEVICE}


def test_late_data_withdraws_the_inactivity_it_contradicts() -> None:
    """The bedroom sensor's messages of the afternoon reach us hours late (its network was
    down): the silence already reported was not one, and the finding is withdrawn."""
    s = Scenario()
    rows = s.rows(("living_room", "bedroom"), smoke=False)
    readings = [s.motion(at(7 + i / 6), "living_room") for i in range(30)]  # 07:00-12:00
    readings += s.meter(at(6), at(20))
    readings += [
        dataclasses.replace(r, received_at=at(17).astimezone(r.ts.tzinfo))
        for r in (s.motion(at(13 + i / 6), "bedroom") for i in range(18))  # 13:00-16:00
    ]
    found = replay(Engine(rows, ALONE), readings, until=at(17.5))
    inactivity = [f for f in found if f.category is Category.INACTIVITY]
    assert [(f.kind, f.alerting, f.withdrawn) for f in inactivity] == [
        ("motion_inactivity", True, False),
        ("motion_inactivity", False, True),
    ]
    raised, withdrawn = inactivity
    assert raised.at < at(17) and withdrawn.at == at(17)
    assert withdrawn.clears and "withdrawn" in withdrawn.explanation


def test_a_street_silent_at_once_is_one_finding_while_the_heartbeat_flows() -> None:
    """Nine homes of one street stop at 14:02 (a power cut), three in another street go
    on: one finding for the street, no inactivity, no pause of the pipeline."""
    homes = [Scenario(f"X{i}") for i in range(9)] + [Scenario(f"Y{i}") for i in range(3)]
    rows = [
        dataclasses.replace(row, street="Xingfu" if h.home_id[0] == "X" else "Anle")
        for h in homes
        for row in h.rows(("living_room", "bathroom", "bedroom"), smoke=False)
    ]
    readings: list[Reading] = []
    for h in homes:
        stop = at(14.03) if h.home_id[0] == "X" else at(22)
        for i in range(7 * 6, 21 * 6):
            t = at(i / 6 + 0.01)
            if t < stop:
                readings.append(h.motion(t, "living_room"))
        readings += [r for r in h.meter(at(6), at(22)) if r.ts < stop]
    found = replay(
        Engine(rows, ALONE),
        merged(sorted(readings, key=lambda r: r.ts), heartbeats(at(6), at(22))),
        until=at(22),
    )
    group = [f for f in alerts(found) if f.kind == "homes_silent"]
    assert len(group) >= 1 and group[0].home_id == "*"
    assert "Xingfu street" in group[-1].explanation and "9 homes" in group[-1].explanation
    assert [f for f in found if f.category is Category.INACTIVITY] == []
    assert [f for f in alerts(found) if f.kind == "home_silent"] == []
    assert [f for f in found if f.category is Category.SYSTEM] == []


def test_messages_that_go_missing_or_become_dead_letters_are_device_findings() -> None:
    s = Scenario()
    engine = Engine(s.rows(("living_room",), smoke=False), ALONE)
    out: list[Finding] = []
    readings = s.meter(at(12.5), at(24))  # within one care day (noon to noon)
    # Every other report of the meter is lost on the way (its numbers show the gaps).
    kept = [r for r in readings if r.seq % 2]
    for reading in kept:
        engine.feed_into(reading, out)
    missing = [f for f in out if f.kind == "messages_missing"]
    assert len(missing) == 1 and missing[0].category is Category.DEVICE
    lost = kept[-1].seq - kept[0].seq + 1 - len(kept)
    assert engine.missing_messages == lost
    # A late one filling a gap is counted back, and taken in.
    engine.feed_into(readings[1], out)
    assert engine.missing_messages == lost - 1
    # A redelivered duplicate changes nothing.
    engine.feed_into(kept[-1], out)
    assert engine.missing_messages == lost - 1
    batch = CommittedBatch((), at(20), rejected={s.device("water"): 25})
    rejected = engine.committed(batch)
    assert [(f.kind, f.severity) for f in rejected] == [("messages_rejected", Severity.MEDIUM)]
    # A device that reboots starts its numbering again: nothing went missing.
    reboot = Scenario()
    engine = Engine(reboot.rows(("living_room",), smoke=False), ALONE)
    first = reboot.meter(at(8), at(12))
    reboot._seq.clear()
    second = reboot.meter(at(12), at(16))
    for reading in first + second:
        engine.feed_into(reading, out)
    assert engine.missing_messages == 0


def test_a_meter_uploading_a_day_at_once_is_not_offline_between_uploads() -> None:
    """An NB-IoT meter sends its hourly reads once a day: its interval is a day."""
    s = Scenario()
    rows = s.rows(("living_room",), smoke=False)
    reads = s.hourly_index(at(0), at(0, 10), [(at(h + 0.5, d), 5.0) for d in range(10)
                                              for h in (7, 12, 19)])  # fmt: skip
    uploads = [
        dataclasses.replace(r, received_at=at(23.5, (r.ts - at(0)).days).astimezone(r.ts.tzinfo))
        for r in reads
    ]
    beats = [s.status(at(h + 0.7, d), "living_room") for d in range(10) for h in range(24)]
    found = replay(Engine(rows, ALONE), uploads + beats, until=at(0, 10))
    assert [f for f in alerts(found) if f.kind in ("device_offline", "home_silent")] == []


def test_pir_that_only_sends_hourly_heartbeats_is_not_reported_offline() -> None:
    s = Scenario()
    rows = s.rows(("bedroom",), smoke=False, meter=False)
    rng = random.Random(2)
    beats = [
        s.status(at(h + 0.5 + rng.uniform(-0.05, 0.05), d), "bedroom")
        for d in range(14)
        for h in range(24)
        if rng.random() > 0.03  # a few percent of them lost
    ]
    found = replay(Engine(rows, ALONE), beats)
    assert [f for f in alerts(found) if f.kind == "device_offline"] == []


def test_rule_without_the_cadence_it_needs_stays_silent() -> None:
    """A meter that uploads once a day cannot say "no water for 12 hours" in time: the
    water-inactivity rule stays silent rather than speak a day late."""
    s = Scenario()
    rows = s.rows((), smoke=False)
    reads = s.hourly_index(at(0), at(0, 14), [(at(8.5, d), 20.0) for d in range(14)])
    uploads = [
        dataclasses.replace(r, received_at=at(23.9, (r.ts - at(0)).days).astimezone(r.ts.tzinfo))
        for r in reads
    ]
    found = replay(Engine(rows, ALONE), uploads, until=at(0, 14))
    assert [f for f in alerts(found) if f.kind == "water_inactivity"] == []
