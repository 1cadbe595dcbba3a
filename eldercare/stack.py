"""The whole pipeline in one process: ingest → detectors → alerts → channels, and the API
with the console, started in the order data flows backwards so no stage misses output
of the one before it.

Start order: the HTTP server (its URL is where the voice gateway posts answers), the alert
stage (follower, sweeper, dispatcher), the detectors (restore and replay what is
stored), then ingest. Every stage runs under its own supervisor (core/supervise.py), so
an outage or a bug in one never stops the others. Everything stops when the block exits.
"""

from __future__ import annotations

import asyncio
import dataclasses
import logging
from collections import Counter
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import timedelta

import aiohttp
import asyncpg

from alerts.callbacks import VOICE_CALLBACK_PATH, add_voice_callback
from alerts.channels.factory import build_channels
from alerts.channels.outbound import OutboundPolicy
from alerts.config import AlertConfig, ChannelSettings
from alerts.dispatcher import DispatchConfig
from alerts.runtime import AlertStage, running_alerts
from alerts.service import AlertService
from api.context import ApiContext
from api.server import METRICS_HOST, create_api_app, create_metrics_app, serving
from core.clock import Clock
from core.logs import kv
from core.pipeline import CommittedBatch, PipelineStatus
from core.settings import Settings
from core.supervise import Stage, Supervisor
from core.telemetry import Telemetry
from detectors.service import DetectorService
from eldercare.retention_job import retention_stage
from eldercare.runtime import Broker, ingest_config
from ingest.service import IngestService, IngestStats
from storage.errors import is_transient
from storage.pool import wait_for_pool

log = logging.getLogger("eldercare")

CommittedHook = Callable[[CommittedBatch], None]


class _Workers:
    """The current detector service and ingest worker: a restarted stage gets new ones."""

    def __init__(self) -> None:
        self.detectors: DetectorService | None = None
        self.ingest: IngestService | None = None


@dataclass(frozen=True)
class Stack:
    """The running services, for callers that watch or drive them (demo, tests)."""

    pool: asyncpg.Pool
    alerts: AlertService
    stage: AlertStage
    api_url: str
    _workers: _Workers

    @property
    def detectors(self) -> DetectorService:
        """The detector stage's current service."""
        assert self._workers.detectors is not None
        return self._workers.detectors

    @property
    def ingest(self) -> IngestService:
        """The ingest stage's current worker."""
        assert self._workers.ingest is not None
        return self._workers.ingest


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
    demo writes its history there).

    Each stage runs under a supervisor: an error in one restarts that one alone, with
    backoff, while the others (and the API) carry on.
    """
    pool = await wait_for_pool(database_url, user="stack", min_size=2, max_size=10)
    try:
        alerts = AlertService(pool, clock, alert_config)
        workers = _Workers()
        # This process's own metrics; a restarted stage carries on counting on them.
        telemetry = Telemetry.create()

        def ingest_unacked() -> int | None:
            return None if workers.ingest is None else workers.ingest.stats.unacked

        context = api_context(settings, pool, clock, alerts, _broker_check(mqtt, workers),
                              ingest_unacked, telemetry)  # fmt: skip
        app = create_api_app(context)
        channel_settings = channels or ChannelSettings.from_settings(settings)
        if channel_settings.voice_callback_secret:
            add_voice_callback(app, alerts, channel_settings.voice_callback_secret)
        async with (
            serving(
                app, settings.api_host, settings.api_port, settings.api_header_timeout_s
            ) as api_url,
            _local_metrics(settings, context),
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
            dispatch = DispatchConfig.from_settings(settings)
            async with running_alerts(
                pool, clock, gateways, alert_config, dispatch, telemetry.alerts
            ) as stage:

                def committed(batch: CommittedBatch) -> None:
                    if workers.detectors is not None:
                        workers.detectors.on_committed(batch)
                    if on_committed is not None:
                        on_committed(batch)

                def pipeline_status(status: PipelineStatus) -> None:
                    if workers.detectors is not None:
                        workers.detectors.on_pipeline_status(status)

                async def run_detectors(up: asyncio.Event) -> None:
                    # A fresh service restores the state stored with the last findings and
                    # replays what was stored since: what a failed one held is not lost.
                    service = DetectorService(database_url, clock,
                                              on_findings=stage.follower.on_findings,
                                              telemetry=telemetry.detectors)  # fmt: skip
                    workers.detectors = service
                    await service.run(up)

                async def run_ingest(up: asyncio.Event) -> None:
                    # A fresh worker: what the failed one held unacknowledged, the broker
                    # redelivers to it. The totals carry on.
                    service = IngestService(ingest_config(settings, mqtt), database_url,
                                            mqtt.target, clock=clock, on_committed=committed,
                                            on_status=pipeline_status,
                                            telemetry=telemetry.ingest)  # fmt: skip
                    if workers.ingest is not None:
                        service.stats = _carried_over(workers.ingest.stats)
                    workers.ingest = service
                    await service.run(up)

                detectors = Supervisor(Stage("detectors", run_detectors), is_outage=is_transient)
                ingest = Supervisor(Stage("ingest", run_ingest), is_outage=is_transient)
                async with asyncio.TaskGroup() as tasks:
                    running = [tasks.create_task(detectors.run(), name="detectors")]
                    # Ingest starts once the detectors have caught up with what is stored,
                    # so every batch committed after that reaches them.
                    await detectors.ready.wait()
                    running.append(tasks.create_task(ingest.run(), name="ingest"))
                    await ingest.ready.wait()
                    # Retention runs beside them, now and every interval (the clock says
                    # what "now" is, so a test's manual clock decides what is due).
                    retention = Supervisor(
                        retention_stage(pool, settings.retention, clock,
                                        settings.retention_interval_s),
                        is_outage=is_transient,
                    )  # fmt: skip
                    running.append(tasks.create_task(retention.run(), name="retention"))
                    log.info(kv("console", url=api_url + "/"))
                    try:
                        yield Stack(pool, alerts, stage, api_url, workers)
                    finally:
                        for task in running:
                            task.cancel()
    finally:
        await pool.close()


def _carried_over(stats: IngestStats) -> IngestStats:
    """A failed worker's totals for its successor; nothing of it is in flight any more."""
    return dataclasses.replace(stats, unacked=0, paused=False,
                               dead_letters=Counter(stats.dead_letters))  # fmt: skip


def api_context(
    settings: Settings,
    pool: asyncpg.Pool,
    clock: Clock,
    alerts: AlertService,
    broker_check: Callable[[], Awaitable[bool]] | None = None,
    ingest_unacked: Callable[[], int | None] | None = None,
    telemetry: Telemetry | None = None,
) -> ApiContext:
    """The API's context from the settings (cookies, proxies, tokens, outbound URLs)."""
    return ApiContext(
        pool,
        clock,
        alerts,
        broker_check,
        secure_cookies=settings.api_secure_cookies,
        ingest_unacked=ingest_unacked,
        trusted_proxies=settings.api_trusted_proxies or (),
        token_lifetime=timedelta(days=settings.api_token_days),
        metrics_token=settings.metrics_token,
        outbound=OutboundPolicy(settings.webhook_allowed_hosts or ()),
        retention=settings.retention,
        metrics_registry=None if telemetry is None else telemetry.registry,
    )


@asynccontextmanager
async def _local_metrics(settings: Settings, context: ApiContext) -> AsyncIterator[None]:
    """/metrics without a token on 127.0.0.1:ELDERCARE_METRICS_PORT, when set."""
    if settings.metrics_port is None:
        yield
        return
    app = create_metrics_app(context)
    async with serving(app, METRICS_HOST, settings.metrics_port) as url:
        log.info(kv("metrics", url=url + "/metrics"))
        yield


def _broker_check(mqtt: Broker, workers: _Workers) -> Callable[[], Awaitable[bool]]:
    """/readyz asks this: can we open a TCP connection to the broker, and is our ingest
    worker subscribed (a broker that refuses its subscription delivers it nothing)?"""

    async def reachable() -> bool:
        if workers.ingest is not None and not workers.ingest.subscribed:
            return False
        try:
            _, writer = await asyncio.wait_for(
                asyncio.open_connection(mqtt.target.host, mqtt.target.port), 2.0
            )
        except (OSError, TimeoutError):
            return False
        writer.close()
        return True

    return reachable
