"""`eldercare retention show|run`: how long each kind of data is kept, and deleting what
is past its period now (or every ELDERCARE_RETENTION_INTERVAL_S with --repeat)."""

from __future__ import annotations

import argparse
from typing import Any

import asyncpg

from core.clock import WallClock
from core.retention import COVERS
from core.settings import Settings
from eldercare.commands.users import with_pool
from eldercare.retention_job import retention_loop
from storage.retention import RetentionReport, due, expire


def add_parser(subparsers: Any) -> None:
    """Register `retention`."""
    retention = subparsers.add_parser(
        "retention", help="data retention: show the policy, delete what is past it"
    )
    sub = retention.add_subparsers(dest="retention_command", metavar="ACTION", required=True)
    show = sub.add_parser("show", help="days kept, cutoff, oldest row and rows due, per kind")
    show.set_defaults(handler=run_retention_show)
    run = sub.add_parser("run", help="delete what is past its period now (audited)")
    run.add_argument(
        "--repeat",
        action="store_true",
        help="keep running, every ELDERCARE_RETENTION_INTERVAL_S (when not in `eldercare run`)",
    )
    run.set_defaults(handler=run_retention_run)


def run_retention_show(args: argparse.Namespace, settings: Settings) -> int:
    """One line per kind of data."""

    async def action(pool: asyncpg.Pool) -> int:
        async with pool.acquire() as conn:
            found = await due(conn, settings.retention, WallClock().now())
        print("kind\tkeep days\tcutoff\toldest\trows due\tcovers")
        for d in found:
            oldest = f"{d.oldest:%Y-%m-%d}" if d.oldest else "-"
            print(f"{d.kind}\t{d.keep_days}\t{d.cutoff:%Y-%m-%d %H:%M}\t{oldest}"
                  f"\t{d.due_rows}\t{COVERS[d.kind]}")  # fmt: skip
        return 0

    return with_pool(settings, action)


def run_retention_run(args: argparse.Namespace, settings: Settings) -> int:
    """Delete what is due and print what went."""

    async def action(pool: asyncpg.Pool) -> int:
        if args.repeat:

            def show(report: RetentionReport) -> None:
                print(f"deleted {report.summary()}", flush=True)

            interval_s = settings.retention_interval_s
            await retention_loop(pool, settings.retention, WallClock(), interval_s, show)
            return 0
        report = await expire(pool, settings.retention, WallClock().now())
        print(f"deleted {report.summary()}")
        return 0

    return with_pool(settings, action)
