"""`eldercare demo`: the whole system on simulated homes, in one command."""

from __future__ import annotations

import argparse
import asyncio
from typing import Any

from core.settings import Settings
from eldercare.demo import DemoOptions, run_demo


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
        help="run everything on simulated homes (embedded broker and PostgreSQL unless "
        "ELDERCARE_MQTT_URL / ELDERCARE_DATABASE_URL are set)",
    )
    parser.add_argument("--homes", type=_positive(int), default=50)
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
        help="simulated seconds per real second until the clock reaches now",
    )
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument(
        "--duration",
        type=_positive(float),
        help="stop after this many seconds (default: run until Ctrl-C)",
    )
    parser.set_defaults(handler=run_demo_command)  # fmt: skip


def run_demo_command(args: argparse.Namespace, settings: Settings) -> int:
    """Run the demo until Ctrl-C or --duration."""
    options = DemoOptions(homes=args.homes, speed=args.speed, seed=args.seed,
                          backfill_days=args.backfill_days, duration_s=args.duration,
                          timezone=settings.default_timezone)  # fmt: skip
    asyncio.run(run_demo(settings, options))
    return 0
