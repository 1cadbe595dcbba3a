"""`eldercare backtest`: run the detectors over a recording and score them against truth.

Given the truth it also reports, for all homes and for each profile of a simulator's
registry (its `profile` and `pirs` columns), false findings by rule and category per home
per 30 days, recall and delay by category (daytime inactivity of 4 h or more apart), the
share of leaks found by the second meter report that shows them, smoke at the event, and
where the false findings fall (a `context.jsonl` beside the recording: visits, holidays,
report gaps, our outages). `eldercare bench quality` runs the whole matrix of profiles
and real meters, beside the 12 h street rule.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from concurrent.futures import TimeoutError as FuturesTimeout
from pathlib import Path
from typing import Any, TypeVar

from core.registry import RegistryError, parse_registry_csv
from core.settings import Settings
from detectors.backtest import RULES, BacktestResult, load_absences, run_backtest, write_findings
from detectors.recording import RecordingError
from detectors.scoring import (
    Incident,
    TruthError,
    daytime_long,
    format_groups,
    format_scores,
    kind_groups,
    load_truth,
    score,
    score_groups,
)
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

DEFAULT_GRACE_MIN = 120.0
DAYTIME_GROUP = "inactivity: daytime (start 07-21 local), >= 4 h"


T = TypeVar("T")


def _grace(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number of minutes: {text!r}") from None
    if not 0 <= value <= 7 * 24 * 60:
        raise argparse.ArgumentTypeError("grace must be between 0 and 10080 minutes")
    return value


def _workers(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a whole number: {text!r}") from None
    if not 1 <= value <= 64:
        raise argparse.ArgumentTypeError("workers must be between 1 and 64")
    return value


def add_parser(subparsers: Any) -> None:
    """Register `backtest`."""
    parser = subparsers.add_parser(
        "backtest",
        help="run the detectors over a recording (event time, no broker or database)",
        description=(
            "Decode every recorded message (lines in the recorder's own layout by a fast "
            "path that yields exactly the wire decoder's values, any other line by the wire "
            "decoder), run the detectors in event time, write the findings as JSON Lines "
            "and, given the ground truth, print recall, detection delay and false "
            "findings per category."
        ),
    )
    parser.add_argument("--registry", required=True, type=Path, help="registry CSV")
    parser.add_argument("--recording", required=True, type=Path, help="recording JSON Lines")
    parser.add_argument("--out", required=True, type=Path, help="findings JSON Lines to write")
    parser.add_argument("--truth", type=Path, help="ground-truth JSON Lines to score against")
    parser.add_argument(
        "--absences", type=Path, help="absences JSON Lines; the declared ones are honoured"
    )
    parser.add_argument(
        "--rule",
        choices=RULES,
        default="engine",
        help="engine: every detector (default); shanghai12h: only the fixed street rule "
        "(< 10 L of water in 12 h)",
    )
    parser.add_argument(
        "--grace-min",
        type=_grace,
        default=DEFAULT_GRACE_MIN,
        help=f"minutes after an incident's end a finding still counts for it "
        f"(default {DEFAULT_GRACE_MIN:.0f})",
    )
    parser.add_argument(
        "--workers",
        type=_workers,
        default=os.cpu_count() or 1,
        help="processes to split the homes between (default: one per CPU)",
    )
    parser.add_argument(
        "--context",
        type=Path,
        help="what explains false findings (visits, holidays, gaps; default: context.jsonl "
        "beside the recording, if there)",
    )
    parser.add_argument("--json", action="store_true", help="print the results as JSON")
    parser.set_defaults(handler=run)


def _both(
    first: Callable[[Incident], bool], second: Callable[[Incident], bool]
) -> Callable[[Incident], bool]:
    def member(incident: Incident) -> bool:
        """In both groups."""
        return first(incident) and second(incident)

    return member


def _fail(message: str) -> int:
    print(f"eldercare backtest: {message}", file=sys.stderr)
    return 2


def _summary(result: BacktestResult, out: Path) -> dict[str, Any]:
    return {
        "homes": result.homes,
        "days": round(result.span_days, 2),
        "messages": result.messages,
        "readings": result.readings,
        "rejected": result.rejected,
        "findings": len(result.findings),
        "seconds": round(result.elapsed_s, 2),
        "messages_per_s": round(result.messages_per_s),
        "out": str(out),
    }


PROGRESS_EVERY_S = 10.0


def _with_progress(work: Callable[[], T], what: str) -> T:
    """Run `work` in a thread, saying on stderr that it goes on every PROGRESS_EVERY_S."""
    began = time.monotonic()
    print(f"backtest: {what}", file=sys.stderr, flush=True)
    with ThreadPoolExecutor(max_workers=1, thread_name_prefix="backtest") as pool:
        future = pool.submit(work)
        while True:
            try:
                return future.result(timeout=PROGRESS_EVERY_S)
            except FuturesTimeout:
                print(f"backtest: still running, {time.monotonic() - began:.0f} s",
                      file=sys.stderr, flush=True)  # fmt: skip


def run(args: argparse.Namespace, settings: Settings) -> int:
    """Run the backtest; exit 2 on unusable arguments or files."""
    for name in ("registry", "recording", "truth", "absences", "context"):
        path = getattr(args, name)
        if path is not None and not path.is_file():
            return _fail(f"--{name}: no such file: {path}")
    if not args.out.parent.is_dir():
        return _fail(f"--out: directory does not exist: {args.out.parent}")
    try:
        registry_text = args.registry.read_text(encoding="utf-8")
        rows = parse_registry_csv(registry_text, settings.default_timezone)
        truth = load_truth(args.truth) if args.truth else None
        absences = load_absences(args.absences) if args.absences else []
    except (RegistryError, TruthError, UnicodeDecodeError) as exc:
        return _fail(f"{exc}")
    except ValueError as exc:
        return _fail(f"--absences: {exc}")
    try:
        result = _with_progress(
            lambda: run_backtest(
                rows, args.recording, rule=args.rule, absences=absences, workers=args.workers
            ),
            f"{len({row.home_id for row in rows})} homes, "
            f"{args.recording.stat().st_size / 1e6:,.0f} MB of recording, "
            f"{args.workers} worker{'s' if args.workers != 1 else ''}",
        )
        write_findings(result.findings, args.out)
    except RecordingError as exc:
        return _fail(f"--recording: {exc}")
    except OSError as exc:
        return _fail(f"{exc}")
    summary = _summary(result, args.out)
    scores = groups = None
    reports: list[GroupReport] = []
    pipeline: dict[str, Any] = {}
    if truth is not None:
        grace_s = args.grace_min * 60
        scores = score(result.findings, truth, result.homes, result.span_days, grace_s)
        daytime = daytime_long({row.home_id: row.timezone for row in rows})
        wanted = {DAYTIME_GROUP: daytime}
        for name, member in kind_groups(truth).items():
            if name.startswith("inactivity/"):  # the headline target, kind by kind
                wanted[f"{name}: daytime, >= 4 h"] = _both(member, daytime)
        wanted.update(kind_groups(truth))
        groups = score_groups(result.findings, truth, wanted, grace_s)
        try:
            reports = profile_reports(args, rows, registry_text, result, truth)
        except (OSError, ValueError, KeyError) as exc:
            return _fail(f"--context: {exc}")
        pipeline = pipeline_report(result.findings, truth, result.span_days, grace_s)
    if args.json:
        if scores is not None and groups is not None:
            summary["grace_min"] = args.grace_min
            summary["scores"] = [s.to_json() for s in scores]
            summary["groups"] = [g.to_json() for g in groups]
            summary["profiles"] = [r.to_json() for r in reports]
            summary["pipeline"] = pipeline
        print(json.dumps(summary, indent=2))
        return 0
    print(
        f"{result.messages} messages ({result.readings} readings, "
        f"{sum(result.rejected.values())} rejected) from {result.homes} homes over "
        f"{result.span_days:.1f} days in {result.elapsed_s:.1f} s "
        f"({result.messages_per_s:,.0f} messages/s); {len(result.findings)} findings → {args.out}"
    )
    if scores is not None and groups is not None:
        print(f"rule: {args.rule}; grace after an incident's end: {args.grace_min:.0f} min")
        print(format_scores(scores))
        print()
        print(format_groups(groups))
        print()
        print(markdown_tables([(r, None) for r in reports]))
        if pipeline["outages"] or pipeline["findings"]:
            print(f"\nour pipeline: {pipeline['found']} of {pipeline['outages']} outages "
                  f"found; {pipeline['false_per_30d']:.2f} false findings per 30 days")  # fmt: skip
    return 0


def profile_reports(
    args: argparse.Namespace,
    rows: list[Any],
    registry_text: str,
    result: BacktestResult,
    truth: list[Incident],
) -> list[GroupReport]:
    """Quality figures for all homes, then for each profile group of the registry."""
    context_path = args.context or args.recording.parent / "context.jsonl"
    context = load_context(context_path) if context_path.is_file() else []
    homes = {row.home_id for row in rows}
    leak_homes = {i.home_id for i in truth if i.category.value == "leak"} & homes
    reports = meter_reports(args.recording, rows, leak_homes)
    zones = {row.home_id: row.timezone for row in rows}
    pairs = {"all homes": homes, **registry_groups(registry_text)}
    return [
        group_report(
            name,
            result.findings,
            truth,
            members,
            result.span_days,
            args.grace_min * 60,
            zones,
            reports,
            context,
            couples(registry_text),
        )
        for name, members in pairs.items()
    ]
