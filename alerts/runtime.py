"""Running the alert stage: the findings follower, the escalation sweeper and the
dispatcher, as named tasks of one TaskGroup, for as long as the caller's context lasts.
Each runs under its own supervisor: one that fails is restarted alone, with backoff."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Mapping
from contextlib import asynccontextmanager
from dataclasses import dataclass

import asyncpg

from alerts.channels.base import Channel
from alerts.config import AlertConfig
from alerts.dispatcher import DispatchConfig, Dispatcher
from alerts.follower import FindingsFollower
from alerts.sweeper import Sweeper
from core.clock import Clock
from core.contacts import ChannelKind
from core.supervise import Stage, Supervisor
from core.telemetry import AlertTelemetry
from storage.errors import is_transient


@dataclass(frozen=True, slots=True)
class AlertStage:
    """The running parts, for hooks (`follower.on_findings`) and nudges."""

    follower: FindingsFollower
    sweeper: Sweeper
    dispatcher: Dispatcher


@asynccontextmanager
async def running_alerts(
    pool: asyncpg.Pool,
    clock: Clock,
    channels: Mapping[ChannelKind, Channel],
    config: AlertConfig | None = None,
    dispatch: DispatchConfig | None = None,
    telemetry: AlertTelemetry | None = None,
) -> AsyncIterator[AlertStage]:
    """Follower, sweeper and dispatcher running in the background until the block exits."""
    sweeper = Sweeper(pool, clock, config)
    dispatcher = Dispatcher(pool, clock, channels, config, dispatch, telemetry=telemetry)
    follower = FindingsFollower(pool, clock, config, on_deliveries=dispatcher.nudge,
                                telemetry=telemetry)  # fmt: skip
    parts = {
        "alerts-follower": follower.run,
        "alerts-sweeper": sweeper.run,
        "alerts-dispatcher": dispatcher.run,
    }
    async with asyncio.TaskGroup() as group:
        tasks = [
            group.create_task(
                Supervisor(Stage.loop(name, run), is_outage=is_transient).run(), name=name
            )
            for name, run in parts.items()
        ]
        try:
            yield AlertStage(follower, sweeper, dispatcher)
        finally:
            for task in tasks:
                task.cancel()
