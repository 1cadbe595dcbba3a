"""Simulator profiles: each produces what it claims (meter cadence, PIRs, gaps, batched
uploads the wire decoder accepts, heartbeats and pipeline outages, people)."""

from __future__ import annotations

import csv
import io
import itertools
import json
from collections import defaultdict
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from core.readings import DeviceType, Reading
from core.registry import parse_registry_csv
from ingest.wire import MAX_BATCHED_PAYLOAD_BYTES, decode, decode_heartbeat
from simulators.localtime import HomeCalendar
from simulators.pipeline import PipelinePlan, draw_outages
from simulators.record import DEFAULT_START, Simulation, simulate_homes, write_recording
from simulators.world import (
    CLASSIC,
    PRESETS,
    Gaps,
    MeterKind,
    PirHeartbeat,
    WorldProfile,
    build_profile,
)

TZ = "Asia/Shanghai"
HOUR_S = 3600.0


def ts_of(text: str) -> float:
    return datetime.fromisoformat(text).timestamp()


_RECORDINGS: dict[tuple[str, int, int, int], Path] = {}


@pytest.fixture(scope="module")
def scratch(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("profiles")


def recorded(scratch: Path, preset: str, homes: int = 12, days: int = 14, seed: int = 5) -> Path:
    """A recording of `preset` with heartbeats and two pipeline outages (made once)."""
    key = (preset, homes, days, seed)
    if key not in _RECORDINGS:
        out = scratch / f"{preset}-{homes}-{days}-{seed}"
        write_recording(_simulation(preset, homes, days, seed), out)
        _RECORDINGS[key] = out
    return _RECORDINGS[key]


def _simulation(preset: str, homes: int, days: int, seed: int) -> Simulation:
    cal = HomeCalendar(DEFAULT_START, days, TZ)
    outages = draw_outages(seed, cal.start_ms, cal.end_ms, 2, (30, 180))
    return simulate_homes(homes, days, seed, timezone=TZ, world=PRESETS[preset],
                          pipeline=PipelinePlan(60_000, outages))  # fmt: skip


def lines(path: Path) -> list[dict[str, Any]]:
    with (path / "recording.jsonl").open() as handle:
        return [json.loads(line) for line in handle]


def jsonl(path: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


def device_of(topic: str) -> str:
    return topic.split("/")[3]


def registry(path: Path) -> list[dict[str, str]]:
    return list(csv.DictReader(io.StringIO((path / "homes.csv").read_text())))


def windows(path: Path, kind: str) -> list[tuple[str, float, float]]:
    return [
        (c["home_id"], ts_of(c["start"]), ts_of(c["end"]))
        for c in jsonl(path / "context.jsonl")
        if c["kind"] == kind
    ]


@pytest.mark.parametrize("preset", ["real-15min", "real-hourly", "real-daily"])
def test_every_line_is_accepted_by_the_wire_decoder(scratch: Path, preset: str) -> None:
    path = recorded(scratch, preset)
    types = {r.device_id: r.type for r in parse_registry_csv((path / "homes.csv").read_text(), TZ)}
    last_ts = 0.0
    seqs: dict[str, int] = {}
    batched = heartbeats = 0
    for line in lines(path):
        raw = json.dumps(line["payload"], separators=(",", ":")).encode()
        assert len(raw) <= MAX_BATCHED_PAYLOAD_BYTES
        ts = ts_of(line["payload"]["ts"])
        assert ts >= last_ts, "lines in payload-ts order"
        last_ts = ts
        received = datetime.fromtimestamp(ts, UTC)
        if "/ingest/" in line["topic"]:
            assert decode_heartbeat(line["topic"], raw, received) is not None
            heartbeats += 1
            continue
        results = decode(line["topic"], raw, types.get, received)
        assert all(isinstance(r, Reading) for r in results), (line, results)
        if "readings" in line["payload"]:
            batched += 1
            elements = line["payload"]["readings"]
            assert 1 <= len(elements) <= 96
            assert [e["ts"] for e in elements] == sorted(e["ts"] for e in elements)
        device = device_of(line["topic"])
        for reading in results:
            assert isinstance(reading, Reading)
            # Sequence numbers rise per device (a reboot restarts them at 0).
            if reading.seq != 0 and device in seqs:
                assert reading.seq > seqs[device]
            seqs[device] = reading.seq
    assert heartbeats > 0
    assert batched > 0  # daily uploads, and every meter's kept reads after our outages


def meter_lines(path: Path) -> dict[str, list[dict[str, Any]]]:
    out: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for line in lines(path):
        if line["topic"].endswith("-water/telemetry"):
            out[device_of(line["topic"])].append(line["payload"])
    return out


def test_hourly_meter_sends_one_whole_litre_index_an_hour_and_nothing_else(scratch: Path) -> None:
    path = recorded(scratch, "real-hourly")
    assert not any(line["topic"].endswith("-water/status") for line in lines(path)), (
        "index-only meters send no status"
    )
    for payloads in meter_lines(path).values():
        single = [p for p in payloads if "volume_l" in p]
        assert all("flow_lpm" not in p and p["volume_l"] == int(p["volume_l"]) for p in single)
        steps = [ts_of(b["ts"]) - ts_of(a["ts"]) for a, b in itertools.pairwise(single)]
        # On the hour of its own phase; a lost report or a silence is a multiple of it.
        assert all(round(step / HOUR_S) >= 1 and abs(step / HOUR_S - round(step / HOUR_S)) < 1e-6
                   for step in steps)  # fmt: skip
        assert sorted(steps)[len(steps) // 2] == pytest.approx(HOUR_S)


def test_classic_meter_reports_every_15_minutes_with_the_flow(scratch: Path) -> None:
    path = recorded(scratch, "real-15min")
    for payloads in meter_lines(path).values():
        single = [p for p in payloads if "volume_l" in p]
        assert all("flow_lpm" in p for p in single)
        quarter = [p for p in single if ts_of(p["ts"]) % 900 == 0]
        assert len(quarter) > 0.7 * 14 * 96


def test_daily_meter_uploads_hourly_reads_once_a_day_and_resends_what_was_missed(
    scratch: Path,
) -> None:
    path = recorded(scratch, "real-daily", homes=30, days=20)
    silent = {home: (s, e) for home, s, e in windows(path, "meter_silent")}
    assert silent, "the seed places some meter silences"
    for device, payloads in meter_lines(path).items():
        assert all("readings" in p for p in payloads)
        reads = [ts_of(e["ts"]) for p in payloads for e in p["readings"]]
        assert reads == sorted(reads) and len(set(reads)) == len(reads), "each read once"
        uploads = [ts_of(p["ts"]) for p in payloads]
        gaps = [b - a for a, b in itertools.pairwise(uploads)]
        assert min(gaps) >= 0
        home = device.removesuffix("-water")
        if home in silent:
            start, end = silent[home]
            after = [p for p in payloads if ts_of(p["ts"]) >= end]
            # Back from days of silence, the next upload carries the reads it kept.
            assert after and any(start <= ts_of(e["ts"]) < end for e in after[0]["readings"])
            assert not any(start <= u < end for u in uploads)


def test_pirs_per_home_within_the_range_and_placed_plausibly() -> None:
    for count in range(1, 7):
        world = build_profile("real-hourly", pirs=str(count))
        sim = simulate_homes(20, 2, 1, timezone=TZ, world=world)
        by_home: dict[str, list[str]] = defaultdict(list)
        for row in sim.registry():
            if row.type is DeviceType.PIR:
                by_home[row.home_id].append(row.room or "")
        assert all(len(rooms) == count for rooms in by_home.values())
        if count == 1:
            assert {rooms[0] for rooms in by_home.values()} <= {"hall", "living_room"}
    world = build_profile("real-hourly", pirs="1-6")
    sim = simulate_homes(60, 1, 2, timezone=TZ, world=world)
    counts = {len(home.setup.pirs) for home in sim.homes}
    assert counts == {1, 2, 3, 4, 5, 6}
    rows = list(csv.DictReader(io.StringIO(sim.registry_csv())))
    assert {r["profile"] for r in rows} == {"hourly/1-6pir/gaps/life/idle-hb"}
    for home in sim.homes:
        mine = [r for r in rows if r["home_id"] == home.home_id]
        assert {int(r["pirs"]) for r in mine} == {len(home.setup.pirs)}
        assert sum(r["type"] == "pir" for r in mine) == len(home.setup.pirs)


def test_only_registered_devices_send(scratch: Path) -> None:
    path = recorded(scratch, "real-hourly")
    devices = {r["device_id"] for r in registry(path)}
    sent = {device_of(line["topic"]) for line in lines(path) if "/devices/" in line["topic"]}
    assert sent <= devices


def test_idle_pirs_send_a_heartbeat_only_after_an_hour_of_silence(scratch: Path) -> None:
    path = recorded(scratch, "real-hourly")
    outages = windows(path, "pipeline_outage") + windows(path, "network_outage")
    by_device: dict[str, list[tuple[float, bool]]] = defaultdict(list)
    for line in lines(path):
        if "-pir-" in line["topic"]:
            payload = line["payload"]
            heartbeat = payload.get("online") is True and "fw" not in payload
            by_device[device_of(line["topic"])].append((ts_of(payload["ts"]), heartbeat))
    checked = 0
    for messages in by_device.values():
        for (before, _), (at, status) in itertools.pairwise(messages):
            if status and not any(s - 600 <= at <= e + 600 for _, s, e in outages):
                # Idle: a heartbeat comes an hour after the last message (or later, when
                # that one was lost on the way).
                assert at - before > 3600 - 1
                checked += 1
    assert checked > 100


def test_missing_reports_are_a_few_percent() -> None:
    base = replace(CLASSIC, meter=MeterKind.HOURLY, pirs=(3, 3))
    lossy = replace(base, gaps=Gaps(missing_share=0.03))
    full = sum(1 for _ in simulate_homes(10, 7, 3, timezone=TZ, world=base).events())
    kept = sum(1 for _ in simulate_homes(10, 7, 3, timezone=TZ, world=lossy).events())
    assert 0.95 < kept / full < 0.99


def test_network_outage_silences_the_homes_pirs_and_smoke_alarm(scratch: Path) -> None:
    path = recorded(scratch, "real-15min", homes=20)
    outages = windows(path, "network_outage")
    assert outages
    for line in lines(path):
        device = device_of(line["topic"])
        if "-water" in device or "/ingest/" in line["topic"]:
            continue
        ts = ts_of(line["payload"]["ts"])
        for home, start, end in outages:
            if device.startswith(home + "-") and start < ts < end:
                pytest.fail(f"{device} heard during its home's network outage")
    truth = jsonl(path / "truth.jsonl")
    assert any(t["kind"] == "network_outage" and t["category"] == "device" for t in truth)


def test_heartbeats_every_minute_and_nothing_during_a_pipeline_outage(scratch: Path) -> None:
    path = recorded(scratch, "real-15min")
    truth = [t for t in jsonl(path / "truth.jsonl") if t["category"] == "system"]
    assert len(truth) == 2 and all(t["home_id"] == "*" for t in truth)
    outages = [(ts_of(t["start"]), ts_of(t["end"])) for t in truth]
    beats = [ts_of(x["payload"]["ts"]) for x in lines(path) if "/ingest/" in x["topic"]]
    steps = [b - a for a, b in itertools.pairwise(beats)]
    assert steps.count(60.0) == len(steps) - 2  # two gaps: the outages
    for line in lines(path):
        ts = ts_of(line["payload"]["ts"])
        assert not any(s <= ts < e for s, e in outages), line
    # The meters kept their reads and sent them when the pipeline was back.
    for start, end in outages:
        late = [
            e
            for line in lines(path)
            if end <= ts_of(line["payload"]["ts"]) < end + 600 and "readings" in line["payload"]
            for e in line["payload"]["readings"]
        ]
        assert late and all(start <= ts_of(e["ts"]) < end for e in late)


def test_a_recording_without_heartbeats_has_no_heartbeat_lines(tmp_path: Path) -> None:
    write_recording(simulate_homes(3, 2, 1, timezone=TZ, world=PRESETS["real-hourly"]), tmp_path)
    assert b"/ingest/" not in (tmp_path / "recording.jsonl").read_bytes()
    assert not any(t["category"] == "system" for t in jsonl(tmp_path / "truth.jsonl"))


def test_the_same_home_sends_the_same_whatever_the_deployment_size() -> None:
    world = PRESETS["real-hourly"]
    one = simulate_homes(1, 5, 9, timezone=TZ, world=world)
    many = simulate_homes(50, 5, 9, timezone=TZ, world=world)
    first = [line for topic, line in one.messages()]
    mine = [p for topic, p in many.messages() if "/H0001-" in topic]
    assert first == mine


def test_holidays_visitors_and_partners_hide_no_incident_nor_are_in_truth(scratch: Path) -> None:
    path = recorded(scratch, "real-15min", homes=40, days=30, seed=11)
    rows = registry(path)
    assert {r["household"] for r in rows} == {"alone", "couple"}
    truth = jsonl(path / "truth.jsonl")
    assert not any(t["kind"] == "holiday" for t in truth)
    holidays = windows(path, "holiday")
    assert holidays and windows(path, "visit") and windows(path, "overnight_visit")
    away = jsonl(path / "absences.jsonl")
    assert any(a["reason"] == "holiday" and not a["declared"] for a in away)
    motion: dict[str, list[float]] = defaultdict(list)
    for line in lines(path):
        if line["payload"].get("motion"):
            motion[device_of(line["topic"]).split("-")[0]].append(ts_of(line["payload"]["ts"]))
    lying = [
        (t["home_id"], ts_of(t["start"]) + 300, ts_of(t["end"]) - 60)
        for t in truth
        if t["kind"] == "fall"
    ]
    assert lying
    for home, start, end in lying + [(h, s + 600, e - 600) for h, s, e in holidays]:
        assert not any(start < ts < end for ts in motion[home]), (home, start, end)


def test_profile_options_are_checked() -> None:
    with pytest.raises(ValueError, match="PIRs must be within"):
        build_profile("classic", pirs="0-3")
    with pytest.raises(ValueError, match="unknown meter"):
        build_profile("classic", meter="weekly")
    with pytest.raises(ValueError, match="unknown profile"):
        build_profile("suburban")
    with pytest.raises(ValueError, match="need heartbeats"):
        PipelinePlan(0, ((0, 1),))
    assert build_profile("classic") == CLASSIC and CLASSIC.classic
    assert build_profile("real-daily", pir_heartbeat="fixed").pir_heartbeat is PirHeartbeat.FIXED
    assert WorldProfile(pirs=(2, 2)).label == "15min/2pir"
