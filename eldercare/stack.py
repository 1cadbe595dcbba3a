"""The whole pipeline in one process: ingest → detectors → alerts → channels, and the API
with the console, started in the order data flows backwards so no stage misses output
of the one before it.

Start order: the HTTP server (its URL is where the voice gateway posts answers), the alert
stage (follower, sweeper, dispatcher), the detectors (restore and replay what is
stored), then ingest. Everything stops when the block exits.
"""

from __future__ import annotations

import asyncio
import dataclasses
import logging
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass

import aiohttp
import asyncpg

from alerts.callbacks import VOICE_CALLBACK_PATH, add_voice_callback
from alerts.channels.factory import build_channels
from alerts.config import AlertConfig, ChannelSettings
from alerts.dispatcher import DispatchConfig
from alerts.runtime import AlertStage, running_alerts
from alerts.service import AlertService
from api.context import ApiContext
from api.server import create_api_app, serving
from core.clock import Clock
from core.logs import kv
from core.readings import Reading
from core.settings import Settings
from detectors.service import DetectorService
from eldercare.runtime import Broker, ingest_config
from ingest.service import IngestService
from storage.pool import create_pool

log = logging.getLogger("eldercare")

CommittedHook = Callable[[Sequence[Reading], float], None]


@dataclass(frozen=True)
class Stack:
    """The running services, for callers that watch or drive them (demo, tests)."""

    pool: asyncpg.Pool
    alerts: AlertService
    stage: AlertStage
    detectors: DetectorService
    ingest: IngestService
    api_url: str


@asynccontextmanager
async def running_stack(
    settings: Settings,
    database_url: str,
    mqtt: Broker,
    clock: Clock,
    *,
    channels: ChannelSettings | None = None,
    alert_config: AlertConfig | None = None,
    on_committed: CommittedHook | None = None,
    before_pipeline: Callable[[str], Awaitable[None]] | None = None,
) -> AsyncIterator[Stack]:
    """Every service running until the block exits. `channels` defaults to the settings';
    a voice channel without a callback URL gets this server's. `before_pipeline(api_url)`
    runs once the console is serving and before the detectors read what is stored (the
    demo writes its history there)."""
    pool = await create_pool(database_url, min_size=2, max_size=10)
    try:
        alerts = AlertService(pool, clock, alert_config)
        ingest: IngestService | None = None  # started last; the metrics ask it later

        def ingest_unacked() -> int | None:
            return None if ingest is None else ingest.stats.unacked

        context = ApiContext(pool, clock, alerts, _broker_check(mqtt),
                             secure_cookies=settings.api_secure_cookies,
                             ingest_unacked=ingest_unacked)  # fmt: skip
        app = create_api_app(context)
        channel_settings = channels or ChannelSettings.from_settings(settings)
        if channel_settings.voice_callback_secret:
            add_voice_callback(app, alerts, channel_settings.voice_callback_secret)
        async with (
            serving(app, settings.api_host, settings.api_port) as api_url,
            aiohttp.ClientSession() as session,
        ):
            if before_pipeline is not None:
                await before_pipeline(api_url)
            if channel_settings.voice_base_url and not channel_settings.voice_callback_url:
                channel_settings = dataclasses.replace(
                    channel_settings, voice_callback_url=api_url + VOICE_CALLBACK_PATH
                )
            gateways = build_channels(channel_settings, session, clock)
            log.info(kv("channels", configured=",".join(sorted(c.value for c in gateways)) or "-"))
            async with running_alerts(
                pool, clock, gateways, alert_config, DispatchConfig.from_settings(settings)
            ) as stage:
                detectors = DetectorService(
                    database_url, clock, on_findings=stage.follower.on_findings
                )
                hook = _both(detectors.on_committed, on_committed)
                ingest = IngestService(ingest_config(settings, mqtt), database_url, mqtt.target,
                                       on_committed=hook)  # fmt: skip
                detectors_ready, ingest_ready = asyncio.Event(), asyncio.Event()
                async with asyncio.TaskGroup() as tasks:
                    running = [tasks.create_task(detectors.run(detectors_ready), name="detectors")]
                    # Ingest starts once the detectors have caught up with what is stored,
                    # so every batch committed after that reaches them.
                    await detectors_ready.wait()
                    running.append(tasks.create_task(ingest.run(ingest_ready), name="ingest"))
                    await ingest_ready.wait()
                    log.info(kv("console", url=api_url + "/"))
                    try:
                        yield Stack(pool, alerts, stage, detectors, ingest, api_url)
                    finally:
                        for task in running:
                            task.cancel()
    finally:
        await pool.close()


def _both(first: CommittedHook, second: CommittedHook | None) -> CommittedHook:
    if second is None:
        return first

    def hook(readings: Sequence[Reading], committed_s: float) -> None:
        first(readings, committed_s)
        second(readings, committed_s)

    return hook


def _broker_check(mqtt: Broker) -> Callable[[], Awaitable[bool]]:
    """/readyz asks this: can we open a TCP connection to the broker?"""

    async def reachable() -> bool:
        try:
            _, writer = await asyncio.wait_for(
                asyncio.open_connection(mqtt.target.host, mqtt.target.port), 2.0
            )
        except (OSError, TimeoutError):
            return False
        writer.close()
        return True

    return reachable
