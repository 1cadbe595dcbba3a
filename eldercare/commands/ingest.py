"""`eldercare ingest`: run one ingest worker until interrupted."""

from __future__ import annotations

import argparse
import asyncio
import logging
from typing import Any

from core.logs import kv
from core.settings import Settings
from eldercare.runtime import broker, database, ingest_config, migrate_and_detect
from ingest.service import IngestService

log = logging.getLogger("eldercare.ingest")


def add_parser(subparsers: Any) -> None:
    """Register `ingest`."""
    parser = subparsers.add_parser(
        "ingest", help="subscribe to device messages and store them (runs until Ctrl-C)"
    )
    parser.set_defaults(handler=run_ingest)


def run_ingest(args: argparse.Namespace, settings: Settings) -> int:
    """Migrate, report the backend, then ingest until interrupted."""

    async def go() -> None:
        async with database(settings) as url, broker(settings) as mqtt:
            _, backend = await migrate_and_detect(url)
            log.info(kv("storage_backend", backend=backend.name,
                        timescaledb=backend.timescaledb_version or "-"))  # fmt: skip
            await IngestService(ingest_config(settings, mqtt), url, mqtt.target).run()

    asyncio.run(go())
    return 0
