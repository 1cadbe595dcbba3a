"""The per-group quality report: numbers on crafted findings and truth whose answer is
known, and the backtest command reporting a simulated profile separately."""

from __future__ import annotations

import argparse
import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from core.kinds import Category, Severity
from core.settings import Settings
from detectors.findings import Finding
from detectors.scoring import Incident, false_findings
from eldercare.commands import backtest as command
from eldercare.quality import group_report, markdown_tables, registry_groups
from simulators.record import simulate_homes, write_recording
from simulators.world import PRESETS

DAY = datetime(2026, 1, 5, tzinfo=UTC)  # 08:00 in Shanghai is 00:00 UTC


def at(hours: float) -> datetime:
    return DAY + timedelta(hours=hours)


def finding(home: str, category: Category, kind: str, hours: float) -> Finding:
    return Finding(home, category, kind, Severity.HIGH, at(hours), "x")


def incident(home: str, category: Category, start: float, end: float, kind: str) -> Incident:
    return Incident(home, category, at(start), at(end), kind)


INCIDENTS = [
    incident("H1", Category.LEAK, 2, 4, "tap_left_running"),
    incident("H2", Category.LEAK, 2, 4, "tap_left_running"),
    incident("H1", Category.SMOKE, 6, 6.1, "smoke"),
    incident("H2", Category.SMOKE, 6, 6.1, "smoke"),
    incident("H1", Category.INACTIVITY, 0.5, 6.5, "fall"),  # 08:30 local, 6 h
    incident("H3", Category.DEVICE, 1, 9, "network_outage"),
]
FINDINGS = [
    finding("H1", Category.LEAK, "leak_high_flow", 2.75),  # by the 2nd report (03:00)
    finding("H2", Category.LEAK, "leak_high_flow", 3.5),  # after it
    finding("H1", Category.SMOKE, "smoke_alarm", 6 + 30 / 3600),  # at the event
    finding("H2", Category.SMOKE, "smoke_alarm", 6 + 5 / 60),  # 5 min late
    finding("H1", Category.INACTIVITY, "motion_inactivity", 2.0),  # 90 min after the fall
    finding("H3", Category.DEVICE, "device_offline", 4),  # excused by the outage
    finding("H3", Category.INACTIVITY, "motion_inactivity", 5),  # not excused: false
    finding("H2", Category.WANDERING, "night_wandering", 20),  # false, during a visit
]
# Hourly meter messages: (arrival, newest read), both epoch seconds.
REPORTS = {
    home: [(at(h).timestamp(), at(h).timestamp()) for h in range(0, 24)] for home in ("H1", "H2")
}


def test_group_report_on_crafted_findings() -> None:
    context = [("H2", "visit", at(19).timestamp(), at(22).timestamp())]
    zones = {h: "Asia/Shanghai" for h in ("H1", "H2", "H3")}
    report = group_report("three homes", FINDINGS, INCIDENTS, {"H1", "H2", "H3"}, 30.0,
                          7200, zones, REPORTS, context)  # fmt: skip
    # 3 homes × 30 days = 3 home-months; two false findings, one of each rule.
    assert report.false_by_kind == pytest.approx(
        {"inactivity/motion_inactivity": 1 / 3, "wandering/night_wandering": 1 / 3}
    )
    assert report.false_in_budget == pytest.approx(2 / 3)
    assert (report.leak_second_report.total, report.leak_second_report.met) == (2, 1)
    assert (report.smoke_at_event.total, report.smoke_at_event.met) == (2, 1)
    assert (report.daytime.incidents, report.daytime.detected) == (1, 1)
    assert report.daytime.delay_p50_min == pytest.approx(90)
    assert report.false_context == {"visit": 1, "none of these": 1}
    smoke = next(c for c in report.categories if c.category == "smoke")
    assert (smoke.recall, smoke.delay_p90_min) == (1.0, pytest.approx(0.5 + 0.9 * 4.5))
    table = markdown_tables([(report, None)])
    assert "| three homes | 3 × 30 | 0.33 | 0.00 | 0.33 | 0.00 | **0.67** |" in table


def test_a_device_incident_excuses_device_findings_only() -> None:
    false = false_findings(FINDINGS, INCIDENTS, 7200)
    assert [(f.home_id, f.kind) for f in false] == [
        ("H3", "motion_inactivity"),
        ("H2", "night_wandering"),
    ]


def test_a_home_outside_the_group_is_left_out() -> None:
    report = group_report("H1 only", FINDINGS, INCIDENTS, {"H1"}, 30.0, 7200, {}, REPORTS)
    assert report.false_by_kind == {} and report.homes == 1
    assert report.leak_second_report.total == 1


def cli(*argv: str) -> int:
    parser = argparse.ArgumentParser(prog="eldercare")
    command.add_parser(parser.add_subparsers())
    args = parser.parse_args(["backtest", *argv])
    return int(args.handler(args, Settings.from_env({})))


def test_backtest_reports_a_profile_and_its_pir_counts_separately(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    write_recording(simulate_homes(4, 3, 2, world=PRESETS["real-hourly"]), tmp_path)
    groups = registry_groups((tmp_path / "homes.csv").read_text())
    assert "hourly/1-6pir/gaps/life/idle-hb" in groups
    code = cli("--registry", str(tmp_path / "homes.csv"), "--recording",
               str(tmp_path / "recording.jsonl"), "--truth", str(tmp_path / "truth.jsonl"),
               "--out", str(tmp_path / "f.jsonl"), "--workers", "1", "--json")  # fmt: skip
    assert code == 0
    out = json.loads(capsys.readouterr().out)
    names = [p["name"] for p in out["profiles"]]
    assert names[0] == "all homes" and names[1:] == list(groups)
    assert all("false_by_kind" in p for p in out["profiles"])
