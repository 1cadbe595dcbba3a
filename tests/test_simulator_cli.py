"""`eldercare simulate`: argument checking and a small run, in-process."""

from __future__ import annotations

from pathlib import Path

import pytest

from eldercare.cli import main


def _run(argv: list[str]) -> int:
    try:
        return main(argv)
    except SystemExit as exc:  # argparse exits on bad arguments
        return int(exc.code or 0)


@pytest.mark.parametrize(
    ("bad", "message"),
    [
        (["--homes", "0"], "--homes: must be a positive integer"),
        (["--homes", "-3"], "--homes: must be a positive integer"),
        (["--homes", "ten"], "--homes: must be a positive integer"),
        (["--days", "0"], "--days: must be a positive integer"),
        (["--seed", "-1"], "--seed: must be a non-negative integer"),
        (["--start", "2026-13-01"], "--start: must be a date YYYY-MM-DD"),
        (["--start", "1999-12-31"], "--start: must be on or after 2000-01-02"),
        (["--timezone", "Mars/Olympus"], "--timezone: unknown time zone 'Mars/Olympus'"),
        (["--incident-scale", "nan"], "--incident-scale: must be a finite number >= 0"),
        (["--pirs", "7"], "PIRs must be within 1–6"),
        (["--pirs", "2-1"], "PIRs must be within 1–6"),
        (["--meter", "weekly"], "--meter: invalid choice"),
        (["--pipeline-outages", "2"], "--pipeline-outages needs --heartbeat-s"),
        (
            ["--heartbeat-s", "60", "--pipeline-outages", "1", "--outage-minutes", "x"],
            "--outage-minutes must be a range",
        ),
        (["--heartbeat-s", "60", "--pipeline-outages", "40"], "do not fit"),
    ],
)
def test_bad_arguments_exit_2_with_a_clear_message(
    bad: list[str], message: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    args = {"--homes": "2", "--days": "2", "--seed": "1", "--out": str(tmp_path / "out")}
    args.update(dict(zip(bad[::2], bad[1::2], strict=True)))
    argv = ["simulate", *(x for pair in args.items() for x in pair)]
    assert _run(argv) == 2
    assert message in capsys.readouterr().err
    assert not (tmp_path / "out").exists()


def test_missing_required_argument_exits_2(capsys: pytest.CaptureFixture[str]) -> None:
    assert _run(["simulate", "--homes", "2", "--days", "2", "--seed", "1"]) == 2
    assert "--out" in capsys.readouterr().err


def test_out_must_not_be_a_file(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    target = tmp_path / "file"
    target.write_text("")
    argv = ["simulate", "--homes", "1", "--days", "1", "--seed", "1", "--out", str(target)]
    assert _run(argv) == 2
    assert "is not a directory" in capsys.readouterr().err


def test_simulate_writes_the_files(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "sim"
    argv = ["simulate", "--homes", "2", "--days", "3", "--seed", "7", "--out", str(out)]
    argv += ["--start", "2026-09-30", "--timezone", "Asia/Shanghai", "--incident-scale", "0"]
    assert _run(argv) == 0
    assert "readings/min" in capsys.readouterr().out
    assert (out / "homes.csv").read_text().count("\n") == 1 + 2 * 7
    assert (out / "recording.jsonl").stat().st_size > 0
    assert (out / "truth.jsonl").read_text() == ""
    with (out / "recording.jsonl").open() as recording:
        first = recording.readline()
    assert '"ts":"2026-09-29T16:' in first  # local midnight in Shanghai is 16:00 UTC


def test_a_profile_with_heartbeats_and_outages(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "sim"
    argv = ["simulate", "--homes", "3", "--days", "4", "--seed", "2", "--out", str(out),
            "--profile", "real-daily", "--pirs", "1", "--heartbeat-s", "120",
            "--pipeline-outages", "1", "--outage-minutes", "30-60"]  # fmt: skip
    assert _run(argv) == 0
    assert "daily/1pir/gaps/life/idle-hb" in capsys.readouterr().out
    header = (out / "homes.csv").read_text().splitlines()[0]
    assert header == "home_id,device_id,type,room,timezone,profile,pirs,household"
    recording = (out / "recording.jsonl").read_text()
    assert '"topic":"eldercare/v1/ingest/sim-ingest/heartbeat"' in recording
    assert '"readings":[' in recording
    assert '"category": "system"' in (out / "truth.jsonl").read_text().replace('":"', '": "')
    assert (out / "context.jsonl").exists()


def test_profile_options_belong_to_record_mode(capsys: pytest.CaptureFixture[str]) -> None:
    assert _run(["simulate", "--live", "--homes", "1", "--seed", "1", "--profile",
                 "real-hourly"]) == 2  # fmt: skip
    assert "--profile cannot be used in --live mode" in capsys.readouterr().err
