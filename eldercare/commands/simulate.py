"""`eldercare simulate`: write simulated homes to files (record mode).

    eldercare simulate --homes 10 --days 60 --seed 1 --out DIR [--start 2026-01-05]
                       [--timezone Asia/Shanghai] [--incident-scale 1.0]

writes DIR/homes.csv (registry), DIR/recording.jsonl (MQTT messages in timestamp order),
DIR/truth.jsonl (ground truth) and DIR/absences.jsonl. The same arguments always give
byte-identical files.
"""

from __future__ import annotations

import argparse
import logging
import math
import sys
from collections.abc import Callable
from datetime import date
from pathlib import Path
from typing import Any

from core.logs import kv
from core.settings import Settings
from simulators.incidents import IncidentRates
from simulators.localtime import load_zone
from simulators.record import (
    DEFAULT_START,
    EARLIEST_START,
    MAX_DAYS,
    MAX_HOMES,
    simulate_homes,
    write_recording,
)

log = logging.getLogger("eldercare.simulate")


def _positive_int(high: int) -> Callable[[str], int]:
    def parse(text: str) -> int:
        """The integer in `text`, or an argparse error naming the allowed range."""
        try:
            value = int(text)
        except ValueError:
            value = 0
        if not 1 <= value <= high:
            raise argparse.ArgumentTypeError(
                f"must be a positive integer (at most {high}), got {text!r}"
            )
        return value

    return parse


def _seed(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"must be a non-negative integer, got {text!r}") from None
    if value < 0:
        raise argparse.ArgumentTypeError(f"must be a non-negative integer, got {value}")
    return value


def _start(text: str) -> date:
    try:
        value = date.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"must be a date YYYY-MM-DD, got {text!r}") from None
    if value < EARLIEST_START:
        raise argparse.ArgumentTypeError(f"must be on or after {EARLIEST_START.isoformat()}")
    return value


def _timezone(text: str) -> str:
    try:
        load_zone(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None
    return text


def _scale(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"must be a number, got {text!r}") from None
    if not math.isfinite(value) or value < 0:
        raise argparse.ArgumentTypeError(f"must be a finite number >= 0, got {text!r}")
    return value


def add_parser(subparsers: Any) -> None:
    """Add `simulate` to the command line."""
    parser = subparsers.add_parser(
        "simulate",
        help="write simulated homes to files (registry, recording, ground truth)",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument(
        "--homes", type=_positive_int(MAX_HOMES), required=True, metavar="N",
        help=f"number of homes (1–{MAX_HOMES})",
    )  # fmt: skip
    parser.add_argument(
        "--days", type=_positive_int(MAX_DAYS), required=True, metavar="D",
        help=f"number of days (1–{MAX_DAYS})",
    )  # fmt: skip
    parser.add_argument("--seed", type=_seed, required=True, metavar="S", help="random seed (>= 0)")
    parser.add_argument("--out", type=Path, required=True, metavar="DIR", help="output directory")
    parser.add_argument(
        "--start", type=_start, default=DEFAULT_START, metavar="YYYY-MM-DD",
        help=f"first simulated day (default {DEFAULT_START.isoformat()})",
    )  # fmt: skip
    parser.add_argument(
        "--timezone", type=_timezone, default=None, metavar="TZ",
        help="IANA time zone of the homes (default: ELDERCARE_DEFAULT_TIMEZONE)",
    )  # fmt: skip
    parser.add_argument(
        "--incident-scale", type=_scale, default=1.0, metavar="X",
        help="multiply the default incident rates (0: no incidents; default 1)",
    )  # fmt: skip
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace, settings: Settings) -> int:
    """Write the simulated homes; 0 on success, 2 on a bad output path, 1 on I/O errors."""
    out: Path = args.out
    if out.exists() and not out.is_dir():
        print(f"eldercare simulate: --out {out} exists and is not a directory", file=sys.stderr)
        return 2
    simulation = simulate_homes(
        n_homes=args.homes,
        days=args.days,
        seed=args.seed,
        start=args.start,
        timezone=args.timezone or settings.default_timezone,
        rates=IncidentRates().scaled(args.incident_scale),
    )
    try:
        stats = write_recording(simulation, out)
    except OSError as exc:
        print(f"eldercare simulate: cannot write to {out}: {exc}", file=sys.stderr)
        return 1
    log.info(
        kv(
            "simulate_recorded",
            homes=stats.homes,
            days=stats.days,
            messages=stats.messages,
            incidents=stats.truth_records,
            seconds=round(stats.seconds, 2),
            per_minute=round(stats.messages_per_minute),
        )
    )
    print(
        f"wrote {stats.messages} messages from {stats.homes} homes over {stats.days} days "
        f"and {stats.truth_records} ground-truth incidents to {out} in {stats.seconds:.1f} s "
        f"({stats.messages_per_minute:,.0f} readings/min)"
    )
    return 0
