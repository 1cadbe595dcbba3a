"""`eldercare run`: the services in one process — ingest feeding the detectors."""

from __future__ import annotations

import argparse
import asyncio
from typing import Any

from core.clock import WallClock
from core.settings import Settings
from detectors.service import DetectorService
from eldercare.runtime import broker, database, ingest_config, prepare_database
from ingest.service import IngestService


def add_parser(subparsers: Any) -> None:
    """Register `run`."""
    parser = subparsers.add_parser(
        "run", help="run ingest and the detectors until Ctrl-C (one process; see README)"
    )
    parser.set_defaults(handler=run_services)


def run_services(args: argparse.Namespace, settings: Settings) -> int:
    """Migrate, start the detectors (restore + replay), then ingest into them."""

    async def go() -> None:
        async with database(settings) as url, broker(settings) as mqtt:
            await prepare_database(url)
            detectors = DetectorService(url, WallClock())
            ingest = IngestService(ingest_config(settings, mqtt), url, mqtt.target,
                                   on_committed=detectors.on_committed)  # fmt: skip
            detectors_ready = asyncio.Event()
            async with asyncio.TaskGroup() as tasks:
                tasks.create_task(detectors.run(detectors_ready), name="detectors")
                # Ingest starts once the detectors have caught up with what is stored,
                # so every committed batch after that reaches them.
                await detectors_ready.wait()
                tasks.create_task(ingest.run(), name="ingest")

    asyncio.run(go())
    return 0
