"""`eldercare run`: every service in one process — ingest, the detectors, the alert stage
and its channels, and the console with its API."""

from __future__ import annotations

import argparse
import asyncio
from typing import Any

from api.server import check_port_free
from core.clock import WallClock
from core.settings import Settings
from eldercare.embedded import require_embedded
from eldercare.runtime import broker, database, prepare_database
from eldercare.stack import running_stack
from eldercare.stopping import run_until_stopped


def add_parser(subparsers: Any) -> None:
    """Register `run`."""
    parser = subparsers.add_parser(
        "run",
        help="run ingest, detectors, alerts and the console until Ctrl-C (one process)",
    )
    parser.set_defaults(handler=run_services)


def run_services(args: argparse.Namespace, settings: Settings) -> int:
    """Migrate, then run the whole stack until interrupted."""
    require_embedded(settings)  # before either embedded service starts

    async def go() -> None:
        check_port_free(settings.api_host, settings.api_port)
        async with database(settings) as url, broker(settings) as mqtt:
            await prepare_database(url, wait=True)
            async with running_stack(settings, url, mqtt, WallClock()):
                await asyncio.Event().wait()  # until SIGTERM or Ctrl-C cancels us

    run_until_stopped(go())
    return 0
