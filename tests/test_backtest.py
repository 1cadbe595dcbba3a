"""The backtest: a hand-made recording whose answer is known, and the command line."""

from __future__ import annotations

import argparse
import json
from datetime import datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from core.pipeline import heartbeat_topic
from core.readings import Channel, DeviceType, Reading
from core.registry import format_registry_csv, parse_registry_csv
from core.settings import Settings
from detectors import backtest as backtest_module
from detectors.backtest import run_backtest
from detectors.recording import DEVICE_AT, decode_line, fast_fields, split_line
from detectors.scenario import Scenario, heartbeats
from detectors.scoring import load_truth, score
from eldercare.commands import backtest as command
from ingest.wire import format_ts, topic_for
from simulators.incidents import IncidentRates
from simulators.record import simulate_homes, write_recording

DATA = Path(__file__).parent / "data" / "backtest"
# What is in the recording (tests/data/backtest, all times 2026-01-05 Asia/Shanghai):
#   home A: a tap left on 10:00–11:30 at 8 L/min (truth: leak), smoke 12:00–12:05 (truth)
#   home B: a 50-minute bath at 15:00 (no truth: a false leak finding), and a "fall" in
#           the truth 13:00–13:30 that the data cannot show (motion goes on): a miss
#   two messages the decoder rejects: a bad ts, and an unregistered device


def rows() -> list:
    return parse_registry_csv((DATA / "homes.csv").read_text(), "Asia/Shanghai")


def test_backtest_on_a_known_recording() -> None:
    result = run_backtest(rows(), DATA / "recording.jsonl")
    assert (result.messages, result.readings) == (510, 508)
    assert result.rejected == {"schema: ts not RFC 3339": 1, "unknown_device": 1}
    assert result.homes == 2
    alerting = [(f.home_id, f.kind) for f in result.findings if f.alerting]
    assert alerting == [
        ("A", "leak_high_flow"),
        ("A", "smoke_alarm"),
        ("B", "leak_continuous_flow"),
    ]
    scores = {
        s.category: s
        for s in score(
            result.findings, load_truth(DATA / "truth.jsonl"), result.homes, result.span_days, 7200
        )
    }
    assert (scores["leak"].incidents, scores["leak"].detected, scores["leak"].false_findings) == (
        1,
        1,
        1,
    )
    assert scores["leak"].delay_p50_min == pytest.approx(30.0)
    assert scores["smoke"].recall == 1.0 and scores["smoke"].delay_p50_min == 0.0
    assert (scores["inactivity"].recall, scores["inactivity"].delay_p50_min) == (0.0, None)
    # One false finding in 2 homes over the recording's span, per home per 30 days.
    expected = 1 / (2 * result.span_days / 30)
    assert scores["leak"].false_per_home_30d == pytest.approx(expected)


def test_partitioned_backtest_finds_the_same() -> None:
    one = run_backtest(rows(), DATA / "recording.jsonl")
    two = run_backtest(rows(), DATA / "recording.jsonl", workers=2)
    assert one.findings == two.findings
    assert (one.messages, one.readings, one.rejected) == (two.messages, two.readings, two.rejected)


def test_street_rule_alone() -> None:
    result = run_backtest(rows(), DATA / "recording.jsonl", rule="shanghai12h")
    assert all(f.kind == "water_inactivity" for f in result.findings)


def cli(*argv: str) -> int:
    parser = argparse.ArgumentParser(prog="eldercare")
    command.add_parser(parser.add_subparsers())
    args = parser.parse_args(["backtest", *argv])
    return int(args.handler(args, Settings.from_env({})))


def test_cli_writes_findings_and_prints_scores(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "findings.jsonl"
    base = ["--registry", str(DATA / "homes.csv"), "--recording", str(DATA / "recording.jsonl")]
    assert (
        cli(*base, "--out", str(out), "--truth", str(DATA / "truth.jsonl"), "--workers", "1") == 0
    )
    printed = capsys.readouterr().out
    assert "510 messages (508 readings, 2 rejected)" in printed
    assert "leak" in printed and "false/home/30d" in printed
    lines = [json.loads(line) for line in out.read_text().splitlines()]
    assert {"home_id", "category", "kind", "severity", "at", "explanation"} <= set(lines[0])
    assert lines[0]["at"].endswith("Z")
    assert cli(*base, "--out", str(out), "--truth", str(DATA / "truth.jsonl"), "--json") == 0
    report = json.loads(capsys.readouterr().out)
    leak = next(s for s in report["scores"] if s["category"] == "leak")
    assert leak["recall"] == 1.0 and leak["false_findings"] == 1


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["--registry", "missing.csv"], "no such file"),
        (["--truth", "BAD_TRUTH"], "line 1"),
        (["--recording", "BAD_RECORDING"], "line 2"),
        (["--registry", "BAD_REGISTRY"], "line 2"),
    ],
)
def test_cli_bad_files_exit_2(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], argv: list[str], message: str
) -> None:
    bad = {
        "BAD_TRUTH": (
            '{"home_id": "A", "category": "fire", "start": "x", "end": "y"}\n',
            "t.jsonl",
        ),
        "BAD_RECORDING": (
            (DATA / "recording.jsonl").read_text()[:200].split("\n")[0] + "\nnot json\n",
            "r.jsonl",
        ),
        "BAD_REGISTRY": ("home_id,device_id,type,room\nA,A-x,toaster,\n", "h.csv"),
    }
    values = {"--registry": str(DATA / "homes.csv"), "--recording": str(DATA / "recording.jsonl")}
    flag, value = argv
    if value in bad:
        text, name = bad[value]
        (tmp_path / name).write_text(text)
        value = str(tmp_path / name)
    values[flag] = value
    args = [part for pair in values.items() for part in pair]
    assert cli(*args, "--out", str(tmp_path / "out.jsonl"), "--workers", "1") == 2
    assert message in capsys.readouterr().err


def test_cli_bad_arguments_exit_2(tmp_path: Path) -> None:
    with pytest.raises(SystemExit) as exc:
        cli("--registry", "x", "--recording", "y", "--out", "z", "--rule", "guess")
    assert exc.value.code == 2
    with pytest.raises(SystemExit) as exc:
        cli("--registry", "x", "--recording", "y", "--out", "z", "--workers", "0")
    assert exc.value.code == 2


def _wire_fields(raw: bytes, types: dict) -> tuple | None:
    """What the wire decoder makes of a recording line, as fast_fields' tuple (None:
    rejected)."""
    line = split_line(raw, 1)
    assert line.ts is not None
    (reading,) = decode_line(line, types.get, line.ts)
    if not isinstance(reading, Reading):
        return None
    return (
        reading.ts.timestamp(),
        reading.received_at.timestamp(),
        reading.seq,
        reading.channel is Channel.STATUS,
        reading.online,
        reading.motion,
        reading.room,
        reading.volume_l,
        reading.flow_lpm,
        reading.alarm,
        reading.test,
        reading.battery_pct,
    )


def test_the_recorders_lines_decode_as_the_wire_decoder_decodes_them(tmp_path: Path) -> None:
    write_recording(simulate_homes(4, 3, seed=5, rates=IncidentRates().scaled(5)), tmp_path)
    registry = parse_registry_csv((tmp_path / "homes.csv").read_text(), "Asia/Shanghai")
    types = {row.device_id: row.type for row in registry}
    fast = 0
    with (tmp_path / "recording.jsonl").open("rb") as handle:
        for raw in handle:
            slash = raw.find(b"/", DEVICE_AT)
            fields = fast_fields(raw, slash, types[raw[DEVICE_AT:slash].decode()])
            if fields is not None:
                fast += 1
                assert fields == _wire_fields(raw, types), raw
    assert fast > 1000  # nearly every line takes the fast path


@pytest.mark.parametrize(
    "payload",
    [
        b'{"ts":"2026-01-05T00:01:00.000Z","seq":01,"motion":true}',  # not JSON
        b'{"ts":"2026-01-05T00:01:00.000Z","seq":1,"motion":true,"room":"a\\u0062"}',
        b'{"ts":"2026-02-30T00:01:00.000Z","seq":1,"motion":true}',  # no such day
        b'{"ts":"1999-12-31T23:59:00.000Z","seq":1,"motion":true}',  # before 2000
        b'{"ts":"2026-01-05T00:01:00.000+08:00","seq":1,"motion":true}',
        b'{"ts":"2026-01-05T00:01:00.000Z","seq":99999999999999999999,"motion":true}',
        b'{"ts":"2026-01-05T00:01:00.000Z","seq":1,"motion":1}',
        b'{"ts":"2026-01-05T00:01:00.000Z","seq":1,"motion":true,"motion":false}',
        b'{"ts":"2026-01-05T00:01:00.000Z","seq":1,"volume_l":-1}',
        b'{"ts":"2026-01-05T00:01:00.000Z","seq":1,"online":true,"battery_pct":101}',
        b'{"ts":"2026-01-05T00:01:00.000Z","seq":1,"online":true,"rssi_dbm":5}',
        b'{"ts":"2026-01-05T00:01:00.000Z", "seq":1,"motion":true}',
    ],
)
def test_any_other_line_is_left_to_the_wire_decoder(payload: bytes) -> None:
    types = {"A-pir": DeviceType.PIR, "A-water": DeviceType.WATER_METER}
    for device in types:
        for channel in ("telemetry", "status"):
            raw = b'{"topic":"eldercare/v1/devices/%s/%s","payload":%s}\n' % (
                device.encode(),
                channel.encode(),
                payload,
            )
            slash = raw.find(b"/", DEVICE_AT)
            assert fast_fields(raw, slash, types[device]) is None, raw


def test_fast_path_and_partitions_find_what_the_wire_decoder_path_finds(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    write_recording(simulate_homes(6, 14, seed=11, rates=IncidentRates().scaled(4)), tmp_path)
    registry = parse_registry_csv((tmp_path / "homes.csv").read_text(), "Asia/Shanghai")
    fast = run_backtest(registry, tmp_path / "recording.jsonl", workers=2)
    monkeypatch.setattr(backtest_module, "fast_parser", lambda kind: lambda raw, at: None)
    slow = run_backtest(registry, tmp_path / "recording.jsonl", workers=1)
    assert fast.findings == slow.findings and len(fast.findings) > 10
    assert (fast.messages, fast.readings, fast.start, fast.end) == (
        slow.messages,
        slow.readings,
        slow.start,
        slow.end,
    )


def test_a_recording_with_heartbeats_is_watched_for_pipeline_outages(tmp_path: Path) -> None:
    """Ingest's heartbeat records in a recording: a half-hour outage (nothing at all
    arrives) is one system finding and its end, not an inactivity finding for the home
    whose silence limit ran out meanwhile; without heartbeat records nothing is paused."""
    s = Scenario("A")
    registry = tmp_path / "homes.csv"
    registry.write_text(format_registry_csv(s.rows(("living_room", "kitchen", "bedroom"))))
    outage = (at_local(12.5), at_local(13))  # the 4.5 h limit runs out at 12:42
    readings = [s.motion(at_local(7 + i / 6), "living_room") for i in range(6)]  # up at 7
    readings.append(s.motion(at_local(8.2), "kitchen"))  # then silent from 08:12
    meter = s.meter(at_local(7), at_local(13.15))
    readings += [r for r in meter if not outage[0] <= r.ts < outage[1]]
    beats = heartbeats(at_local(7), at_local(13.15), missing=[outage])
    lines = [
        {"topic": topic_for(r.device_id, r.channel), "payload": _payload(r)} for r in readings
    ] + [
        {"topic": heartbeat_topic(b.worker), "payload": {"ts": format_ts(b.sent_at), "seq": b.seq}}
        for b in beats
    ]
    lines.sort(key=lambda line: line["payload"]["ts"])
    watched = tmp_path / "watched.jsonl"
    watched.write_text("".join(json.dumps(line) + "\n" for line in lines))
    blind = tmp_path / "blind.jsonl"
    blind.write_text(
        "".join(json.dumps(line) + "\n" for line in lines if "ingest" not in line["topic"])
    )
    registry_rows = parse_registry_csv(registry.read_text(), "Asia/Shanghai")
    found = run_backtest(registry_rows, watched).findings
    assert [(f.kind, f.clears) for f in found if f.category.value == "system"] == [
        ("pipeline_down", False),
        ("pipeline_down", True),
    ]
    assert not [f for f in found if f.category.value == "inactivity"]
    unwatched = run_backtest(registry_rows, blind).findings
    assert not [f for f in unwatched if f.category.value == "system"]
    assert [f.kind for f in unwatched if f.alerting] == ["motion_inactivity"]


def at_local(hour: float) -> datetime:
    return datetime(2026, 1, 5, tzinfo=ZoneInfo("Asia/Shanghai")) + timedelta(hours=hour)


def _payload(r: Reading) -> dict:
    payload: dict = {"ts": format_ts(r.ts), "seq": r.seq}
    for field in ("volume_l", "flow_lpm", "motion", "room", "online", "battery_pct"):
        value = getattr(r, field)
        if value is not None:
            payload[field] = value
    return payload
