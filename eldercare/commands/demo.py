"""`eldercare demo`: the whole system on simulated homes, in one command."""

from __future__ import annotations

import argparse
import sys
from typing import Any

from core.logs import quiet_for_people
from core.settings import Settings
from eldercare.demo import DemoOptions, run_demo
from eldercare.demo_plan import PlanConflict
from eldercare.embedded import require_embedded
from eldercare.stopping import run_until_stopped


def _positive(kind: type) -> Any:
    def parse(text: str) -> Any:
        try:
            value = kind(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"not a number: {text!r}") from None
        if value <= 0:
            raise argparse.ArgumentTypeError(f"must be positive, got {text}")
        return value

    return parse


def add_parser(subparsers: Any) -> None:
    """Register `demo`."""
    parser = subparsers.add_parser(
        "demo",
        description="Run the whole system on simulated homes: writes their history, then "
        "runs them live in step with the clock, with stand-in SMS and voice gateways. "
        "Ctrl-C stops; the next run resumes the same homes from the data directory.",
        help="run everything on simulated homes (embedded broker and PostgreSQL unless "
        "ELDERCARE_MQTT_URL / ELDERCARE_DATABASE_URL are set)",
    )
    parser.add_argument(
        "--homes",
        type=_positive(int),
        default=50,
        help="how many simulated homes (default 50); a data directory keeps one demo, so "
        "a different number needs an empty ELDERCARE_DATA_DIR",
    )
    parser.add_argument(
        "--backfill-days",
        type=_positive(int),
        default=14,
        help="days of history written before going live (baselines learn from them)",
    )
    parser.add_argument(
        "--speed",
        type=_positive(float),
        default=60.0,
        help="how fast the last two hours before now are replayed before the homes run in "
        "step with the clock (default 60: two minutes)",
    )
    parser.add_argument(
        "--seed",
        type=int,
        default=1,
        help="the simulation's random seed (default 1): the same seed gives the same "
        "residents, routines and incidents",
    )
    parser.add_argument(
        "--duration",
        type=_positive(float),
        help="stop after this many seconds (default: run until Ctrl-C)",
    )
    parser.set_defaults(handler=run_demo_command)  # fmt: skip


def run_demo_command(args: argparse.Namespace, settings: Settings) -> int:
    """Run the demo until Ctrl-C or --duration."""
    require_embedded(settings)  # before either embedded service starts
    options = DemoOptions(homes=args.homes, speed=args.speed, seed=args.seed,
                          backfill_days=args.backfill_days, duration_s=args.duration,
                          timezone=settings.default_timezone)  # fmt: skip
    quiet_for_people(settings.log_level)
    try:
        run_until_stopped(run_demo(settings, options))
    except PlanConflict as conflict:
        print(f"eldercare demo: {conflict}", file=sys.stderr)
        return 2
    return 0
