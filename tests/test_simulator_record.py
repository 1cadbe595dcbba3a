"""Record mode: determinism, the wire contract, the file formats, the lazy API."""

from __future__ import annotations

import csv
import json
from collections import defaultdict
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pytest

from core.kinds import Category
from core.readings import Channel, DeviceType, Reading
from ingest.wire import decode, encode_payload, format_ts
from simulators.incidents import IncidentRates
from simulators.localtime import from_epoch_ms
from simulators.record import simulate_homes, write_recording

# Incidents at four times the default rate, so a short run has faults of every sort.
BUSY = IncidentRates().scaled(4)


def _record(tmp_path: Path, name: str, seed: int, homes: int = 3, days: int = 6) -> Path:
    out = tmp_path / name
    write_recording(simulate_homes(homes, days, seed, rates=BUSY), out)
    return out


def test_same_seed_gives_byte_identical_files(tmp_path: Path) -> None:
    first = _record(tmp_path, "a", seed=11)
    second = _record(tmp_path, "b", seed=11)
    for name in ("homes.csv", "recording.jsonl", "truth.jsonl", "absences.jsonl"):
        assert (first / name).read_bytes() == (second / name).read_bytes(), name


def test_different_seed_gives_a_different_recording(tmp_path: Path) -> None:
    first = _record(tmp_path, "a", seed=11)
    other = _record(tmp_path, "b", seed=12)
    assert (first / "recording.jsonl").read_bytes() != (other / "recording.jsonl").read_bytes()


@pytest.fixture(scope="module")
def recording(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("recording")
    write_recording(simulate_homes(4, 21, seed=5, rates=BUSY), out)
    return out


def _registry(out: Path) -> dict[str, DeviceType]:
    with (out / "homes.csv").open(newline="") as f:
        rows = list(csv.DictReader(f))
    assert list(rows[0]) == ["home_id", "device_id", "type", "room", "timezone"]
    assert {row["timezone"] for row in rows} == {"Asia/Shanghai"}
    per_home: dict[str, int] = defaultdict(int)
    for row in rows:
        per_home[row["home_id"]] += 1
    assert per_home == {"H0001": 7, "H0002": 7, "H0003": 7, "H0004": 7}
    return {row["device_id"]: DeviceType(row["type"]) for row in rows}


def test_every_line_passes_the_real_decoder(recording: Path) -> None:
    types = _registry(recording)
    seen_kinds = set()
    last: dict[str, tuple[datetime, int]] = {}
    volume: dict[str, float] = {}
    battery: dict[str, float] = {}
    previous_ts = datetime(2000, 1, 1, tzinfo=UTC)
    with (recording / "recording.jsonl").open(encoding="utf-8") as f:
        for line in f:
            message = json.loads(line)
            assert list(message) == ["topic", "payload"]
            payload = encode_payload(message["payload"])
            # The fast writer and encode_payload agree byte for byte.
            assert line.endswith(payload.decode() + "}\n")
            ts = datetime.fromisoformat(message["payload"]["ts"])
            (reading,) = decode(message["topic"], payload, types.get, received_at=ts)
            assert isinstance(reading, Reading), (reading, line)
            assert reading.ts >= previous_ts, "recording not in ts order"
            previous_ts = reading.ts
            # seq increases per device, restarting at 0 only as a device comes back online.
            device = reading.device_id
            before = last.get(device)
            rebooted = reading.seq == 0 and reading.online is True
            if before is not None and reading.seq <= before[1]:
                assert rebooted, line
            last[device] = (reading.ts, reading.seq)
            # The meter index and batteries only go down, except after a replacement.
            if rebooted:
                volume.pop(device, None)
                battery.pop(device, None)
            if reading.volume_l is not None:
                assert reading.volume_l >= volume.get(device, 0.0), line
                volume[device] = reading.volume_l
            if reading.battery_pct is not None:
                assert reading.battery_pct <= battery.get(device, 100.0), line
                battery[device] = reading.battery_pct
            seen_kinds.add((reading.device_type, reading.channel, reading.online, reading.test))
    assert (DeviceType.PIR, Channel.TELEMETRY, None, None) in seen_kinds
    assert (DeviceType.WATER_METER, Channel.TELEMETRY, None, None) in seen_kinds
    assert (DeviceType.SMOKE, Channel.TELEMETRY, None, True) in seen_kinds  # self-test
    assert (DeviceType.PIR, Channel.STATUS, False, None) in seen_kinds  # a last will
    assert (DeviceType.SMOKE, Channel.STATUS, True, None) in seen_kinds


def test_truth_file_follows_the_format(recording: Path) -> None:
    lines = (recording / "truth.jsonl").read_text(encoding="utf-8").splitlines()
    assert lines, "BUSY rates over 4 homes × 21 days give incidents"
    for line in lines:
        record = json.loads(line)
        assert list(record)[:4] == ["home_id", "category", "start", "end"]
        Category(record["category"])
        start = datetime.fromisoformat(record["start"])
        end = datetime.fromisoformat(record["end"])
        assert start.tzinfo is not None and start < end


def test_timestamp_fast_path_matches_format_ts() -> None:
    encoder = simulate_homes(1, 1, seed=0).encoder
    moment = datetime(2026, 1, 5, tzinfo=UTC)
    for step_ms in (0, 1, 999, 1000, 59_999, 3_599_999, 86_399_999, 86_400_000, 7_654_321_987):
        ms = int(moment.timestamp() * 1000) + step_ms
        assert encoder.ts_text(ms) == format_ts(from_epoch_ms(ms))


def test_cursor_hands_out_the_same_messages_day_by_day() -> None:
    simulation = simulate_homes(2, 3, seed=3, start=date(2026, 2, 14), rates=BUSY)
    expected = list(simulation.messages())
    cursor = simulation.cursor()
    assert cursor.next_ts is not None and cursor.next_ts >= simulation.start
    got = []
    moment = simulation.start
    while cursor.next_ts is not None:
        moment += timedelta(hours=7)
        got.extend(cursor.advance(moment))
    assert got == expected
    assert cursor.advance(moment + timedelta(days=1)) == []


def test_encoded_messages_match_encode_payload() -> None:
    simulation = simulate_homes(1, 2, seed=4, rates=BUSY)
    pairs = zip(simulation.messages(), simulation.encoded_messages(), strict=True)
    for (topic, payload), (topic2, data) in pairs:
        assert topic == topic2 and data == encode_payload(payload)


@pytest.mark.parametrize(
    ("timezone", "start"),
    [("Europe/Berlin", date(2026, 3, 26)), ("America/New_York", date(2026, 10, 29))],
)
def test_local_routine_holds_across_a_dst_change(timezone: str, start: date) -> None:
    """Wake-ups stay in the local morning and the timeline stays ordered over DST days."""
    simulation = simulate_homes(2, 6, seed=9, start=start, timezone=timezone)
    cal = simulation.calendar
    for index in range(2):
        seam = cal.start_ms
        for chunk in simulation.chunks(index):
            assert chunk.start_ms == seam
            seam = chunk.end_ms
            ends = [s[1] for s in chunk.segments]
            assert ends == sorted(ends)
            if chunk.day >= 0:
                assert 3.9 <= cal.local_hour(chunk.start_ms) <= 10.0
        assert seam == cal.end_ms
    stamps = [event[0] for event in simulation.events()]
    assert stamps == sorted(stamps)
