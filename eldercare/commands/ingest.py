"""`eldercare ingest`: run one ingest worker until interrupted."""

from __future__ import annotations

import argparse
import asyncio
from typing import Any

from core.settings import Settings
from eldercare.runtime import broker, database, ingest_config, prepare_database
from ingest.service import IngestService


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
            await prepare_database(url)
            await IngestService(ingest_config(settings, mqtt), url, mqtt.target).run()

    asyncio.run(go())
    return 0
