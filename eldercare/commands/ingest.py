"""`eldercare ingest`: run one ingest worker until interrupted."""

from __future__ import annotations

import argparse
import asyncio
import dataclasses
import sys
from typing import Any

from prometheus_client import CollectorRegistry

from api.server import serving_process_metrics
from core.clock import WallClock
from core.settings import Settings
from core.supervise import Stage, Supervisor
from core.telemetry import IngestTelemetry
from eldercare.runtime import broker, database, ingest_config, prepare_database
from eldercare.stopping import run_until_stopped
from ingest.config import IngestConfig
from ingest.nats_client import NatsTarget
from ingest.service import IngestService
from storage.errors import is_transient


def add_parser(subparsers: Any) -> None:
    """Register `ingest`."""
    parser = subparsers.add_parser(
        "ingest", help="subscribe to device messages and store them (runs until Ctrl-C)"
    )
    parser.add_argument(
        "--drain",
        metavar="CLIENT_ID",
        help="retire a stopped worker: take the messages the broker holds for its client id,"
        " commit them, end its session, and exit",
    )
    parser.set_defaults(handler=run_ingest)


def run_ingest(args: argparse.Namespace, settings: Settings) -> int:
    """Migrate, report the backend, then ingest until interrupted."""

    if args.drain is not None:
        if settings.nats_url:
            print("eldercare: --drain is for an MQTT broker's sessions; on NATS the"
                  " workers share one durable consumer and nothing is stranded",
                  file=sys.stderr)  # fmt: skip
            return 2
        try:
            IngestConfig(client_id=args.drain)
        except ValueError as exc:
            print(f"eldercare: --drain: {exc}", file=sys.stderr)
            return 2
    # SIGTERM and Ctrl-C cancel the worker at an await (eldercare/stopping.py says why).
    if settings.nats_url:
        run_until_stopped(_ingest_from_nats(settings))
        return 0

    async def go() -> None:
        # This worker's metrics (ingest's only); the totals carry on across a restart.
        registry = CollectorRegistry()
        telemetry = IngestTelemetry.on(registry)
        current: list[IngestService] = []

        def unacked() -> int | None:
            return current[-1].stats.unacked if current else None

        async with (
            database(settings) as url,
            broker(settings) as mqtt,
            serving_process_metrics(settings.metrics_port, registry, unacked),
        ):
            await prepare_database(url, wait=True)
            if args.drain is not None:
                config = dataclasses.replace(ingest_config(settings, mqtt), client_id=args.drain)
                drainer = IngestService(config, url, mqtt.target, clock=WallClock(),
                                        telemetry=telemetry)  # fmt: skip
                current[:] = [drainer]
                stats = await drainer.drain()
                dead = sum(stats.dead_letters.values())
                print(f"drained {args.drain}: {stats.received} messages received,"
                      f" {stats.stored} readings stored, {stats.duplicates} duplicates,"
                      f" {dead} dead letters; session ended")  # fmt: skip
                return

            async def run_worker(up: asyncio.Event) -> None:
                # A fresh worker after a failure: the broker redelivers what was unacked.
                service = IngestService(ingest_config(settings, mqtt), url, mqtt.target,
                                        clock=WallClock(), telemetry=telemetry)  # fmt: skip
                current[:] = [service]
                await service.run(up)

            await Supervisor(Stage("ingest", run_worker), is_outage=is_transient).run()

    run_until_stopped(go())
    return 0


async def _ingest_from_nats(settings: Settings) -> None:
    """One worker of the group sharing the cluster's durable consumer (ELDERCARE_NATS_URL)."""
    assert settings.nats_url is not None
    target = NatsTarget(settings.nats_url, settings.nats_partitions)
    async with database(settings) as url:
        await prepare_database(url, wait=True)

        async def run_worker(up: asyncio.Event) -> None:
            # A fresh worker after a failure: the stream redelivers what was unacked.
            await IngestService(
                IngestConfig.from_settings(settings), url, target, clock=WallClock()
            ).run(up)

        await Supervisor(Stage("ingest", run_worker), is_outage=is_transient).run()
