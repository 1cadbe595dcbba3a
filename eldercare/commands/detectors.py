"""`eldercare detectors`: past one machine, one detector worker over its share of the
committed-readings partitions on the NATS cluster (ELDERCARE_DETECTOR_SHARE)."""

from __future__ import annotations

import argparse
import asyncio
from typing import Any

from core.clock import WallClock
from core.committed import owned_partitions, partition_of
from core.errors import StartupError
from core.settings import Settings
from core.supervise import Stage, Supervisor
from detectors.committed_feed import CommittedFeed
from detectors.service import DetectorService
from eldercare.runtime import database, prepare_database
from eldercare.stopping import run_until_stopped
from ingest.nats_client import NatsTarget
from storage.errors import is_transient


def add_parser(subparsers: Any) -> None:
    """Register `detectors`."""
    parser = subparsers.add_parser(
        "detectors",
        help="run one detector worker over its share of the NATS cluster's partitions "
        "(ELDERCARE_NATS_URL, ELDERCARE_DETECTOR_SHARE; runs until Ctrl-C)",
    )
    parser.set_defaults(handler=run_detectors)


def run_detectors(args: argparse.Namespace, settings: Settings) -> int:
    """Migrate, then follow the owned partitions until interrupted."""
    if not settings.nats_url:
        raise StartupError(
            "eldercare detectors follows a NATS cluster: set ELDERCARE_NATS_URL (on one"
            " machine `eldercare run` runs the detectors)"
        )
    run_until_stopped(_detect(settings, NatsTarget(settings.nats_url, settings.nats_partitions)))
    return 0


async def _detect(settings: Settings, target: NatsTarget) -> None:
    index, count = settings.detector_share
    mine = set(owned_partitions(index, count, target.partitions))
    async with database(settings) as url:
        await prepare_database(url, wait=True)

        async def run_worker(up: asyncio.Event) -> None:
            await run_detector_worker(url, target, index, count, mine, up)

        await Supervisor(Stage("detectors", run_worker), is_outage=is_transient).run()


async def run_detector_worker(
    database_url: str,
    target: NatsTarget,
    index: int,
    count: int,
    mine: set[int],
    ready: asyncio.Event | None = None,
) -> None:
    """One detector worker: the service over its homes, fed by its partitions."""
    service = DetectorService(
        database_url,
        WallClock(),
        owns_home=lambda home: partition_of(home, target.partitions) in mine,
        worker=f"{index}of{count}",
    )
    feed = CommittedFeed(target, sorted(mine), service.on_committed, name=f"detectors-{index}")
    service_ready, feed_ready = asyncio.Event(), asyncio.Event()
    async with asyncio.TaskGroup() as tasks:
        tasks.create_task(service.run(service_ready), name="detectors")
        await service_ready.wait()  # restored and replayed before the live batches
        tasks.create_task(feed.run(feed_ready), name="detectors-feed")
        await feed_ready.wait()
        if ready is not None:
            ready.set()
