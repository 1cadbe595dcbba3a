"""The backtest: a hand-made recording whose answer is known, and the command line."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import pytest

from core.registry import parse_registry_csv
from core.settings import Settings
from detectors.backtest import run_backtest
from detectors.scoring import load_truth, score
from eldercare.commands import backtest as command

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
