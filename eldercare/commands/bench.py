"""`eldercare bench ingest|wire|detectors|alerts|api|retention|quality`: the benchmarks, one command
each, figures printed."""

from __future__ import annotations

import argparse
import asyncio
import json
import time
from pathlib import Path
from typing import Any

from benchmarks.ingest import IngestBenchOptions, run_ingest_bench
from core.settings import Settings
from eldercare.runtime import database


def _positive_float(text: str) -> float:
    value = _non_negative_float(text)
    if value == 0:
        raise argparse.ArgumentTypeError(f"must be a positive number, got {text}")
    return value


def _speed(text: str) -> float:
    value = _non_negative_float(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1 (real time), got {text}")
    return value


def _non_negative_float(text: str) -> float:
    value = float(text)
    if not 0 <= value < float("inf"):
        raise argparse.ArgumentTypeError(f"must be a finite number >= 0, got {text}")
    return value


def _positive_int(text: str) -> int:
    value = int(text)
    if value <= 0:
        raise argparse.ArgumentTypeError(f"must be a positive integer, got {text}")
    return value


def add_parser(subparsers: Any) -> None:
    """Register `bench ingest`, `bench wire`, `bench detectors`, `bench alerts` and
    `bench api`."""
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
    wire = sub.add_parser(
        "wire",
        help="the wire decoder's CPU cost a message; with --fuzz N, N hostile inputs through "
        "it counting uncaught errors (needs the test extra: hypothesis)",
    )
    wire.add_argument("--messages", type=_positive_int, default=100_000)
    wire.add_argument("--fuzz", type=int, default=0, metavar="N", help="fuzz inputs (0: none)")
    wire.add_argument("--json", type=Path, help="also write the figures to this file")
    wire.set_defaults(handler=run_bench_wire)
    nats_bench = sub.add_parser(
        "nats",
        help="committed readings/s through a NATS JetStream cluster (loopback, R3) with one "
        "and two ingest worker processes, beside Mosquitto, on the configured PostgreSQL",
    )
    nats_bench.add_argument("--messages", type=_positive_int, default=50_000)
    nats_bench.add_argument("--devices", type=_positive_int, default=1000)
    nats_bench.add_argument("--publishers", type=_positive_int, default=2)
    nats_bench.add_argument("--nodes", type=_positive_int, default=3, help="NATS nodes")
    nats_bench.add_argument("--json", type=Path, help="also write the figures to this file")
    nats_bench.set_defaults(handler=run_bench_nats)
    detectors = sub.add_parser(
        "detectors", help="backtest throughput, a timer sweep over many homes, baseline refits"
    )
    detectors.add_argument("--homes", type=_positive_int, default=50, help="backtest homes")
    detectors.add_argument("--days", type=_positive_int, default=14, help="backtest days")
    detectors.add_argument("--sweep-homes", type=_positive_int, default=100_000)
    detectors.add_argument("--fit-homes", type=_positive_int, default=1000)
    detectors.add_argument("--json", type=Path, help="also write the figures to this file")
    detectors.set_defaults(handler=run_bench_detectors)
    retention = sub.add_parser(
        "retention",
        help="a retention run over a backlog of readings (chunks or batches) while ingest"
        " writes; a resident's export and erasure",
    )
    retention.add_argument("--readings", type=_positive_int, default=2_000_000)
    retention.add_argument("--days", type=_positive_int, default=60, help="spread over")
    retention.add_argument("--keep-days", type=_positive_int, default=30)
    retention.add_argument("--json", type=Path, help="also write the figures to this file")
    retention.set_defaults(handler=run_bench_retention)
    quality = sub.add_parser(
        "quality",
        help="detection quality over every simulator profile and real meters, beside the "
        "12 h street rule: markdown tables for the README",
    )
    quality.add_argument("--scale", type=_positive_float, default=1.0,
                         help="multiply every run's homes (default 1)")  # fmt: skip
    quality.add_argument("--workers", type=_positive_int, default=2)
    quality.add_argument("--export", type=Path, help="the DAIAD meter export (default: shared/)")
    quality.add_argument("--only", nargs="*", default=(), metavar="WORD",
                         help="only the runs whose name holds one of these words")  # fmt: skip
    quality.add_argument("--json", type=Path, help="also write the figures to this file")
    quality.add_argument("--markdown", type=Path, help="also write the tables to this file")
    quality.set_defaults(handler=run_bench_quality)
    alerts = sub.add_parser(
        "alerts",
        help="smoke reading committed → its notifications at the gateways, with many homes' "
        "traffic flowing live through a Mosquitto of deploy/mosquitto and the whole stack",
    )
    alerts.add_argument("--homes", type=_positive_int, default=1000)
    alerts.add_argument("--alarms", type=_positive_int, default=50, help="one home each")
    alerts.add_argument("--gap", type=_positive_float, nargs=2, default=(1.0, 2.0),
                        metavar=("MIN_S", "MAX_S"), help="seconds between two alarms")  # fmt: skip
    alerts.add_argument("--speed", type=_speed, default=1.0,
                        help="the homes' clock, x real time (1: their normal traffic)")  # fmt: skip
    alerts.add_argument("--history-hours", type=_non_negative_float, default=1.0,
                        help="history written straight to storage before going live")  # fmt: skip
    alerts.add_argument("--warmup", type=_positive_float, default=10.0,
                        help="seconds of live traffic before the first alarm")  # fmt: skip
    alerts.add_argument("--seed", type=int, default=1)
    alerts.add_argument("--json", type=Path, help="also write the figures to this file")
    alerts.set_defaults(handler=run_bench_alerts)
    api = sub.add_parser(
        "api",
        help="the console's reads (open alerts, a home's 48 h) over HTTP with many homes, "
        "readings and past alerts stored, from load-client processes",
    )
    api.add_argument("--homes", type=_positive_int, default=100_000)
    api.add_argument("--readings", type=_positive_int, default=10_000_000)
    api.add_argument("--alerts", type=_positive_int, default=1_000_000, help="past alerts")
    api.add_argument("--open-alerts", type=_positive_int, default=5_000,
                     help="of --alerts, the newest, still open or acknowledged")  # fmt: skip
    api.add_argument("--clients", type=_positive_int, default=2, help="load-client processes")
    api.add_argument("--connections", type=_positive_int, default=8,
                     help="keep-alive connections in all, latency phases")  # fmt: skip
    api.add_argument("--saturate-connections", type=_positive_int, default=64,
                     help="keep-alive connections in all, throughput phases")  # fmt: skip
    api.add_argument("--seconds", type=_positive_float, default=10.0, help="measured a phase")
    api.add_argument("--warmup", type=_non_negative_float, default=2.0, help="seconds a phase")
    api.add_argument("--seed", type=int, default=1)
    api.add_argument("--json", type=Path, help="also write the figures to this file")
    api.set_defaults(handler=run_bench_api)


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


def run_bench_nats(args: argparse.Namespace, settings: Settings) -> int:
    """Mosquitto, then NATS with one and two workers; print the figures."""
    from benchmarks.nats import NatsBenchOptions, run_nats_bench

    if not settings.database_url:
        print("eldercare: bench nats needs ELDERCARE_DATABASE_URL (its workers are processes)")
        return 2
    options = NatsBenchOptions(messages=args.messages, devices=args.devices,
                               publishers=args.publishers, nodes=args.nodes)  # fmt: skip
    figures = asyncio.run(run_nats_bench(settings.database_url, options))
    if args.json:
        args.json.write_text(json.dumps(figures, indent=2))
    return 0


def run_bench_wire(args: argparse.Namespace, settings: Settings) -> int:
    """Time the decoder and, if asked, fuzz it; exit 1 if any input raised."""
    from benchmarks.wire import run

    figures = run(args.messages)
    if args.fuzz > 0:
        try:
            from benchmarks.wire_fuzz import run_fuzz
        except ImportError:
            print("eldercare: --fuzz needs hypothesis (pip install 'eldercare[test]')")
            return 2
        tally = run_fuzz(args.fuzz)
        figures.update(fuzz_inputs=tally.inputs, fuzz_uncaught_errors=tally.uncaught_count,
                       fuzz_internal_rejections=tally.internal_count)  # fmt: skip
        for line in tally.uncaught + tally.internal:
            print("  " + line)
        print(f"  fuzz: {tally.inputs:,} inputs, {tally.uncaught_count} uncaught errors, "
              f"{tally.internal_count} internal rejections")  # fmt: skip
    if args.json:
        args.json.write_text(json.dumps(figures, indent=2))
    return 1 if figures.get("fuzz_uncaught_errors") else 0


def run_bench_detectors(args: argparse.Namespace, settings: Settings) -> int:
    """Run the detector benchmarks (no services needed) and print the figures."""
    from benchmarks.detectors import run  # the numpy-heavy benchmark loads only when asked for

    figures = run(homes=args.homes, days=args.days, sweep_homes=args.sweep_homes,
                  fit_homes=args.fit_homes)  # fmt: skip
    if args.json:
        args.json.write_text(json.dumps(figures, indent=2))
    return 0


def run_bench_alerts(args: argparse.Namespace, settings: Settings) -> int:
    """Run the alert-latency benchmark on the whole stack and print the figures."""
    # The whole stack (API included) loads only when asked for.
    from benchmarks.alerts import AlertBenchOptions, run_alert_bench

    low, high = args.gap
    if low > high:
        print("eldercare: --gap MIN_S must not exceed MAX_S")
        return 2
    if args.alarms > args.homes:
        print("eldercare: --alarms must not exceed --homes (one alarm a home)")
        return 2
    options = AlertBenchOptions(
        homes=args.homes, alarms=args.alarms, min_gap_s=low, max_gap_s=high, speed=args.speed,
        history_hours=args.history_hours, warmup_s=args.warmup, seed=args.seed,
    )  # fmt: skip

    async def go() -> dict[str, Any]:
        async with database(settings) as url:
            return await run_alert_bench(url, settings, options)

    figures = asyncio.run(go())
    if args.json:
        args.json.write_text(json.dumps(figures, indent=2))
    return 0 if figures.get("alarms_missing") == 0 else 1


def run_bench_api(args: argparse.Namespace, settings: Settings) -> int:
    """Run the API benchmark on a fresh database and print the figures."""
    from benchmarks.api import ApiBenchOptions, run_api_bench

    options = ApiBenchOptions(
        homes=args.homes, readings=args.readings, alerts=args.alerts,
        open_alerts=args.open_alerts, clients=args.clients, connections=args.connections,
        saturate_connections=args.saturate_connections, seconds=args.seconds,
        warmup_s=args.warmup, seed=args.seed,
    )  # fmt: skip

    async def go() -> dict[str, Any]:
        async with database(settings) as url:
            return await run_api_bench(url, options)

    figures = asyncio.run(go())
    if args.json:
        args.json.write_text(json.dumps(figures, indent=2))
    return 0 if figures.get("http_errors") == 0 else 1


def run_bench_retention(args: argparse.Namespace, settings: Settings) -> int:
    """Run the retention benchmark on a fresh database and print the figures."""
    from benchmarks.retention import run_retention_bench
    from benchmarks.scratch_db import scratch_database

    async def go() -> dict[str, Any]:
        async with (
            database(settings) as server,
            scratch_database(server, "eldercare_bench_retention") as url,
        ):
            return await run_retention_bench(url, args.readings, args.days, args.keep_days)

    figures = asyncio.run(go())
    if args.json:
        args.json.write_text(json.dumps(figures, indent=2))
    return 0


def run_bench_quality(args: argparse.Namespace, settings: Settings) -> int:
    """The quality matrix: every profile and the real meters, two rules each."""
    from benchmarks.quality import run_matrix  # the simulator and detectors, only when asked

    began = time.perf_counter()
    figures = run_matrix(args.scale, args.workers, args.export, args.only,
                         lambda line: print(line, flush=True))  # fmt: skip
    figures["seconds"] = round(time.perf_counter() - began, 1)
    print()
    print(figures["markdown"])
    print(f"\nwhole matrix: {figures['seconds']:.0f} s")
    if args.json:
        args.json.write_text(json.dumps(figures, indent=2) + "\n", encoding="utf-8")
    if args.markdown:
        args.markdown.write_text(figures["markdown"] + "\n", encoding="utf-8")
    return 0
