"""`eldercare bench quality`: the detectors over every simulator profile and over real
meters, beside the 12 h street rule, as markdown tables for the README (issue 10).

The matrix (sizes at `scale` 1; `scale` multiplies the homes, but for the pilots of one
and five homes):

- each profile (`classic`, `real-15min`, `real-hourly`, `real-daily`): 100 homes × 60 days,
  incidents at twice the default rates (so that each PIR count has some), reported for all
  its homes and for each PIR count;
- deployment size: `real-hourly` with 1, 5, 50 and 500 homes × 30 days (a home's data is
  the same whatever the size, so any difference is the detectors' doing);
- our pipeline: `real-15min`, 50 homes × 30 days with the ingest heartbeat every 60 s and
  3 outages of 10–240 min (truth: `system`);
- real meters: the DAIAD export converted, with 60 stretches of 24–72 h without water and
  60 taps left running (1–6 h at 5 L/min) injected.

Every recording is backtested twice: all detectors, and the 12 h rule alone.
"""

from __future__ import annotations

import json
import shutil
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from core.registry import parse_registry_csv
from detectors.backtest import BacktestResult, run_backtest
from detectors.scoring import Incident, load_truth
from eldercare.meter_export import ExportFormat, attribution_text, read_export, write_conversion
from eldercare.meter_inject import InjectPlan, meter_series, place, rewrite
from eldercare.quality import (
    GroupReport,
    couples,
    group_report,
    load_context,
    markdown_tables,
    meter_reports,
    pipeline_report,
    registry_groups,
)
from simulators.incidents import IncidentRates
from simulators.localtime import HomeCalendar
from simulators.pipeline import PipelinePlan, draw_outages
from simulators.record import DEFAULT_START, simulate_homes, write_recording
from simulators.world import PRESETS

GRACE_S = 7200.0
SEED = 7
_DAIAD = Path("shared/data/daiad-meters/swm_trialA_dev.csv.gz")


def daiad_export() -> Path:
    """The DAIAD export in the shared folder beside the repository (or beside the
    working directory); the first of them that exists."""
    candidates = (Path.cwd().parent / _DAIAD, Path(__file__).resolve().parents[1].parent / _DAIAD)
    return next((c for c in candidates if c.is_file()), candidates[0])


@dataclass(frozen=True, slots=True)
class Run:
    """One recording of the matrix."""

    name: str
    make: Callable[[Path], None]  # writes homes.csv, recording.jsonl, truth.jsonl (+ context)
    per_pirs: bool = False


def _simulated(
    preset: str, homes: int, days: int, scale: float = 2.0, heartbeats: bool = False
) -> Callable[[Path], None]:
    def make(out: Path) -> None:
        """Write the simulation's files into `out`."""
        pipeline = PipelinePlan()
        if heartbeats:
            cal = HomeCalendar(DEFAULT_START, days, "Asia/Shanghai")
            outages = draw_outages(SEED, cal.start_ms, cal.end_ms, 3, (10, 240))
            pipeline = PipelinePlan(60_000, outages)
        sim = simulate_homes(homes, days, SEED, rates=IncidentRates().scaled(scale),
                             world=PRESETS[preset], pipeline=pipeline)  # fmt: skip
        write_recording(sim, out)

    return make


def _real_meters(export: Path) -> Callable[[Path], None]:
    def make(out: Path) -> None:
        """Convert the export and inject incidents into it."""
        conversion = read_export(export, ExportFormat())
        plain = out / "converted"
        write_conversion(conversion, plain, "Europe/Madrid", attribution_text(export, None))
        rows = parse_registry_csv((plain / "homes.csv").read_text(), "Europe/Madrid")
        meters = {r.device_id for r in rows}
        series = meter_series(plain / "recording.jsonl", meters)
        plan = InjectPlan(no_water=60, taps=60, seed=1)
        injections = place(plan, rows, series)
        with (out / "recording.jsonl").open("w", encoding="utf-8") as handle:
            handle.writelines(rewrite(plain / "recording.jsonl", injections, series))
        (out / "truth.jsonl").write_text(
            "".join(json.dumps(i.to_json()) + "\n" for i in injections)
        )
        shutil.copyfile(plain / "homes.csv", out / "homes.csv")
        shutil.rmtree(plain)

    return make


def matrix(scale: float, export: Path) -> list[Run]:
    """The runs, homes scaled by `scale` (at least one home each)."""

    def n(homes: int) -> int:
        return max(1, round(homes * scale))

    runs = [
        Run(f"{preset}", _simulated(preset, n(100), 60), per_pirs=preset != "classic")
        for preset in ("classic", "real-15min", "real-hourly", "real-daily")
    ]
    sizes = sorted({1, 5, n(50), n(500)})  # a pilot of one or five homes stays one
    runs += [Run(f"real-hourly, {size} homes", _simulated("real-hourly", size, 30))
             for size in sizes]  # fmt: skip
    runs.append(Run("real-15min, our outages", _simulated("real-15min", n(50), 30,
                                                          heartbeats=True)))  # fmt: skip
    if export.is_file():
        runs.append(Run("real meters (DAIAD, 62 homes)", _real_meters(export)))
    return runs


def _reports(
    run: Run, out: Path, result: BacktestResult, truth: list[Incident]
) -> list[GroupReport]:
    registry = (out / "homes.csv").read_text()
    rows = parse_registry_csv(registry, "Asia/Shanghai")
    homes = {r.home_id for r in rows}
    context_path = out / "context.jsonl"
    context = load_context(context_path) if context_path.is_file() else []
    leak_homes = {i.home_id for i in truth if i.category.value == "leak"}
    reports = meter_reports(out / "recording.jsonl", rows, leak_homes)
    zones = {r.home_id: r.timezone for r in rows}
    groups = {run.name: homes}
    if run.per_pirs:
        for key, members in registry_groups(registry).items():
            if "·" in key:
                groups[f"{run.name} ·{key.rsplit('·', 1)[-1]}"] = members
    return [
        group_report(
            name,
            result.findings,
            truth,
            members,
            result.span_days,
            GRACE_S,
            zones,
            reports,
            context,
            couples(registry),
        )
        for name, members in groups.items()
    ]


def run_matrix(
    scale: float = 1.0,
    workers: int = 2,
    export: Path | None = None,
    only: Sequence[str] = (),
    progress: Callable[[str], None] = print,
) -> dict[str, Any]:
    """Run every recording of the matrix; the figures, and the markdown tables."""
    pairs: list[tuple[GroupReport, GroupReport | None]] = []
    runs_out: list[dict[str, Any]] = []
    notes: list[str] = []
    with tempfile.TemporaryDirectory(prefix="eldercare-quality-") as scratch:
        for run in matrix(scale, export or daiad_export()):
            if only and not any(word in run.name for word in only):
                continue
            out = Path(scratch) / run.name.replace(" ", "_").replace(",", "")
            out.mkdir()
            began = time.perf_counter()
            run.make(out)
            made = time.perf_counter() - began
            rows = parse_registry_csv((out / "homes.csv").read_text(), "Asia/Shanghai")
            truth = load_truth(out / "truth.jsonl")
            by_rule: dict[str, list[GroupReport]] = {}
            figures: dict[str, Any] = {"name": run.name, "make_s": round(made, 1)}
            for rule in ("engine", "shanghai12h"):
                result = run_backtest(rows, out / "recording.jsonl", rule=rule, workers=workers)
                by_rule[rule] = _reports(run, out, result, truth)
                figures[rule] = {
                    "messages": result.messages,
                    "seconds": round(result.elapsed_s, 1),
                    "messages_per_s": round(result.messages_per_s),
                    "pipeline": pipeline_report(result.findings, truth, result.span_days, GRACE_S),
                    "groups": [r.to_json() for r in by_rule[rule]],
                }
            pairs += list(zip(by_rule["engine"], by_rule["shanghai12h"], strict=True))
            outages = figures["engine"]["pipeline"]
            if outages["outages"]:
                notes.append(f"{run.name}: {outages['found']} of {outages['outages']} outages of "
                             f"our pipeline found (p50 {outages['delay_p50_min']:.0f} min), "
                             f"{outages['false_per_30d']:.2f} false `system` findings per 30 "
                             "days")  # fmt: skip
            runs_out.append(figures)
            progress(f"{run.name}: made in {made:.0f} s; backtests "
                     f"{figures['engine']['seconds']} s + {figures['shanghai12h']['seconds']} s "
                     f"({figures['engine']['messages']:,} messages)")  # fmt: skip
            shutil.rmtree(out)
    markdown = markdown_tables(pairs)
    if notes:
        markdown += "\n\n" + "\n".join(f"- {note}" for note in notes)
    return {"runs": runs_out, "markdown": markdown}
