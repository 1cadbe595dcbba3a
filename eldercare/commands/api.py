"""`eldercare api`: the console and its API alone, for a deployment whose pipeline runs as
separate workers (README "Growing past one machine"). Stateless: run as many copies as
needed behind the proxy. /readyz asks the database only (this process has no broker)."""

from __future__ import annotations

import argparse
import asyncio
import logging
from typing import Any

from alerts.callbacks import add_voice_callback
from alerts.config import ChannelSettings
from alerts.service import AlertService
from api.server import check_port_free, create_api_app, serving
from core.clock import WallClock
from core.logs import kv
from core.settings import Settings
from eldercare.runtime import database, prepare_database
from eldercare.stack import api_context
from eldercare.stopping import run_until_stopped
from storage.pool import wait_for_pool

log = logging.getLogger("eldercare")


def add_parser(subparsers: Any) -> None:
    """Register `api`."""
    parser = subparsers.add_parser(
        "api",
        help="serve the console and its API alone, until Ctrl-C (no ingest, detectors or "
        "alert stage: those run as their own processes)",
    )
    parser.set_defaults(handler=run_api)


def run_api(args: argparse.Namespace, settings: Settings) -> int:
    """Migrate, then serve the API until interrupted."""

    async def go() -> None:
        check_port_free(settings.api_host, settings.api_port)
        async with database(settings) as url:
            await prepare_database(url, wait=True)
            clock = WallClock()
            pool = await wait_for_pool(url, user="api", min_size=1, max_size=10)
            try:
                alerts = AlertService(pool, clock)
                app = create_api_app(api_context(settings, pool, clock, alerts))
                secret = ChannelSettings.from_settings(settings).voice_callback_secret
                if secret:
                    add_voice_callback(app, alerts, secret)
                async with serving(app, settings.api_host, settings.api_port,
                                   settings.api_header_timeout_s) as api_url:  # fmt: skip
                    log.info(kv("console", url=api_url + "/"))
                    await asyncio.Event().wait()  # until Ctrl-C or SIGTERM cancels us
            finally:
                await pool.close()

    run_until_stopped(go())
    return 0
