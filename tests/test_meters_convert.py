"""`eldercare meters convert|inject`: a real utility export (a slice of DAIAD trial A, in
tests/data/daiad-slice with its attribution) to a registry and a recording the backtest
reads, bad rows named by line, and incidents injected with their truth."""

from __future__ import annotations

import argparse
import gzip
import json
from datetime import datetime
from pathlib import Path

import pytest

from core.readings import Reading
from core.registry import parse_registry_csv
from core.settings import Settings
from detectors.backtest import run_backtest
from detectors.recording import decode_recording
from detectors.scoring import load_truth
from eldercare.commands import meters as command

SLICE = Path(__file__).parent / "data" / "daiad-slice" / "meters.csv.gz"


def cli(*argv: str) -> int:
    parser = argparse.ArgumentParser(prog="eldercare")
    command.add_parser(parser.add_subparsers())
    args = parser.parse_args(["meters", *argv])
    return int(args.handler(args, Settings.from_env({})))


def source_rows() -> list[list[str]]:
    with gzip.open(SLICE, "rt", encoding="utf-8") as handle:
        return [line.rstrip("\n").split(";") for line in handle][1:]


def ts_of(text: str) -> float:
    return datetime.fromisoformat(text).timestamp()


@pytest.fixture(scope="module")
def converted(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("daiad")
    assert cli("convert", str(SLICE), "--out", str(out)) == 0
    return out


def test_the_real_slice_converts_to_a_registry_and_a_recording(converted: Path) -> None:
    rows = parse_registry_csv((converted / "homes.csv").read_text(), "Asia/Shanghai")
    assert len(rows) == 3
    assert {r.timezone for r in rows} == {"Europe/Madrid"}
    assert all(r.device_id == f"{r.home_id}-water" for r in rows)
    types = {r.device_id: r.type for r in rows}
    decoded = list(decode_recording(converted / "recording.jsonl", types.get))
    readings = [d.result for d in decoded]
    assert all(isinstance(r, Reading) for r in readings)
    assert len(readings) == 3000  # every row of the slice
    stamps = [r.ts for r in readings if isinstance(r, Reading)]
    assert stamps == sorted(stamps)
    # Index values as in the export, in litres; one household's first row.
    first = next(r for r in source_rows() if r[0].startswith("1f8730a9"))
    mine = [r for r in readings if isinstance(r, Reading) and r.device_id.startswith("1f8730a9")]
    assert mine[0].volume_l == float(first[2])
    assert mine[0].ts.isoformat() == "2016-02-29T23:28:55+00:00"  # 00:28:55 in Madrid (CET)


def test_the_hour_that_comes_twice_is_two_readings_an_hour_apart(converted: Path) -> None:
    times = [
        ts_of(json.loads(line)["payload"]["ts"])
        for line in (converted / "recording.jsonl").read_text().splitlines()
        if "f8249505" in line
    ]
    assert len(times) == len(set(times)) == 1000
    # 02:10:49 CEST then 02:10:49 CET on 30 October 2016.
    first = datetime.fromisoformat("2016-10-30T00:10:49+00:00").timestamp()
    assert first in times and first + 3600 in times


def test_attribution_travels_with_the_derived_files(converted: Path) -> None:
    text = (converted / "ATTRIBUTION.md").read_text()
    assert "CC BY-SA 4.0" in text and "DAIAD" in text and "meters.csv.gz" in text


def test_the_recording_backtests(converted: Path) -> None:
    rows = parse_registry_csv((converted / "homes.csv").read_text(), "UTC")
    result = run_backtest(rows, converted / "recording.jsonl")
    assert (result.readings, result.rejected) == (3000, {})


def test_bad_rows_are_named_by_line_and_left_out(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    export = tmp_path / "export.csv"
    export.write_text(
        "meter;when;index\n"
        "m1;2024-03-01 10:00;100\n"
        "m1;2024-03-01 11:00;lots\n"  # line 3
        "m1;2024-03-31 02:30;101\n"  # line 4: clocks went forward in Madrid
        ";2024-03-01 12:00;5\n"  # line 5
        "m1;yesterday;102\n"  # line 6
        "m1;2024-03-01 12:00;103;extra\n"  # line 7
        "m2;2024-03-01 10:00;7,5\n"
        "m1;2024-03-01 10:00;100\n",  # line 9: a duplicate
        encoding="utf-8",
    )
    out = tmp_path / "out"
    code = cli("convert", str(export), "--out", str(out), "--meter-column", "meter",
               "--time-column", "when", "--index-column", "index", "--time-format",
               "%Y-%m-%d %H:%M", "--unit", "m3", "--max-bad-share", "1")  # fmt: skip
    assert code == 0
    err = capsys.readouterr().err
    expected = ((3, "not a number"), (4, "clocks went forward"), (5, "no meter id"),
                (6, "time 'yesterday'"), (7, "4 fields"), (9, "second reading"))  # fmt: skip
    for line, words in expected:
        assert f"line {line}: " in err and words in err, (line, err)
    lines = [json.loads(x) for x in (out / "recording.jsonl").read_text().splitlines()]
    assert [x["payload"]["volume_l"] for x in lines] == [100_000.0, 7_500.0]
    assert not (out / "ATTRIBUTION.md").exists()  # nothing known about this file's source
    # Too many bad rows is an error by default, saying what to check.
    assert cli("convert", str(export), "--out", str(out), "--meter-column", "meter",
               "--time-column", "when", "--index-column", "index", "--time-format",
               "%Y-%m-%d %H:%M") == 2  # fmt: skip
    assert "check --delimiter" in capsys.readouterr().err


def test_unusable_exports_exit_2_with_a_clear_message(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert cli("convert", str(tmp_path / "none.csv"), "--out", str(tmp_path)) == 2
    assert "no such export" in capsys.readouterr().err
    export = tmp_path / "x.csv"
    export.write_text("a,b,c\n1,2,3\n", encoding="utf-8")
    assert cli("convert", str(export), "--out", str(tmp_path / "o")) == 2
    err = capsys.readouterr().err
    assert "no column 'user key'" in err and "'a,b,c'" in err  # wrong delimiter shows
    assert cli("convert", str(SLICE), "--out", str(tmp_path / "o"), "--timezone", "Mars/Base") == 2
    assert "Mars/Base" in capsys.readouterr().err


def test_injected_incidents_change_the_index_as_claimed(converted: Path, tmp_path: Path) -> None:
    out = tmp_path / "injected"
    code = cli("inject", "--registry", str(converted / "homes.csv"), "--recording",
               str(converted / "recording.jsonl"), "--out", str(out), "--seed", "3",
               "--no-water", "2", "--no-water-hours", "24-30", "--taps", "2",
               "--tap-hours", "2-3", "--tap-lpm", "5")  # fmt: skip
    assert code == 0
    truth = load_truth(out / "truth.jsonl")
    assert sorted(i.kind or "" for i in truth) == ["no_water"] * 2 + ["tap_left_running"] * 2
    assert (out / "ATTRIBUTION.md").exists() and (out / "homes.csv").exists()

    def series(path: Path, home: str) -> list[tuple[float, float]]:
        return [
            (ts_of(x["payload"]["ts"]), x["payload"]["volume_l"])
            for x in map(json.loads, (path / "recording.jsonl").read_text().splitlines())
            if home in x["topic"]
        ]

    for incident in truth:
        before = series(converted, incident.home_id)
        after = series(out, incident.home_id)
        assert [t for t, _ in before] == [t for t, _ in after]  # same readings, same times
        values = [v for _, v in after]
        assert values == sorted(values), "the index never goes down"
        start, end = incident.start.timestamp(), incident.end.timestamp()
        inside = [v for t, v in after if start <= t < end]
        assert inside
        if incident.kind == "no_water":
            assert len(set(inside)) == 1, "flat: no water used"
        else:
            added = [a - b for (t, a), (_, b) in zip(after, before, strict=True) if t >= end]
            hours = (end - start) / 3600
            # 5 L/min over the whole window, in whole litres, at the next reading.
            assert added and abs(added[0] - 5 * 60 * hours) <= 1
