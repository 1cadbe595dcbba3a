"""`eldercare bench ingest|detectors`: the benchmarks, one command each, figures printed."""

from __future__ import annotations

import argparse
import asyncio
import json
from pathlib import Path
from typing import Any

from core.settings import Settings
from eldercare.bench_ingest import IngestBenchOptions, run_ingest_bench
from eldercare.runtime import database


def _positive_int(text: str) -> int:
    value = int(text)
    if value <= 0:
        raise argparse.ArgumentTypeError(f"must be a positive integer, got {text}")
    return value


def add_parser(subparsers: Any) -> None:
    """Register `bench ingest` and `bench detectors`."""
    bench = subparsers.add_parser("bench", help="benchmarks (figures for the README)")
    sub = bench.add_subparsers(dest="bench_command", metavar="WHAT", required=True)
    ingest = sub.add_parser(
        "ingest",
        help="end-to-end ingest rate and latency, with the broker and COPY limits, "
        "using a Mosquitto of deploy/mosquitto and the configured (or embedded) PostgreSQL",
    )
    ingest.add_argument("--messages", type=_positive_int, default=200_000)
    ingest.add_argument("--devices", type=_positive_int, default=1000)
    ingest.add_argument("--publishers", type=_positive_int, default=2, help="publisher processes")
    ingest.add_argument("--live-rate", type=_positive_int, default=5000, help="messages/s offered")
    ingest.add_argument("--live-seconds", type=_positive_int, default=20)
    ingest.add_argument("--rss-messages", type=int, default=1_000_000, help="0 to skip")
    ingest.add_argument("--json", type=Path, help="also write the figures to this file")
    ingest.set_defaults(handler=run_bench_ingest)
    detectors = sub.add_parser(
        "detectors", help="backtest throughput, a timer sweep over many homes, baseline refits"
    )
    detectors.add_argument("--homes", type=_positive_int, default=50, help="backtest homes")
    detectors.add_argument("--days", type=_positive_int, default=14, help="backtest days")
    detectors.add_argument("--sweep-homes", type=_positive_int, default=100_000)
    detectors.add_argument("--fit-homes", type=_positive_int, default=1000)
    detectors.add_argument("--json", type=Path, help="also write the figures to this file")
    detectors.set_defaults(handler=run_bench_detectors)


def run_bench_ingest(args: argparse.Namespace, settings: Settings) -> int:
    """Run every ingest phase and print the figures."""
    options = IngestBenchOptions(
        messages=args.messages, devices=args.devices, publishers=args.publishers,
        live_rate_per_s=args.live_rate, live_seconds=args.live_seconds,
        rss_messages=args.rss_messages,
    )  # fmt: skip
    if options.devices < options.publishers:
        print("eldercare: --devices must be at least --publishers")
        return 2

    async def go() -> dict[str, Any]:
        async with database(settings) as url:
            return await run_ingest_bench(url, options)

    figures = asyncio.run(go())
    if args.json:
        args.json.write_text(json.dumps(figures, indent=2))
    return 0


def run_bench_detectors(args: argparse.Namespace, settings: Settings) -> int:
    """Run the detector benchmarks (no services needed) and print the figures."""
    from detectors.bench import run  # the numpy-heavy benchmark loads only when asked for

    figures = run(homes=args.homes, days=args.days, sweep_homes=args.sweep_homes,
                  fit_homes=args.fit_homes)  # fmt: skip
    if args.json:
        args.json.write_text(json.dumps(figures, indent=2))
    return 0
