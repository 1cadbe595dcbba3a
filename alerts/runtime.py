"""Running the alert stage: the findings follower, the escalation sweeper and the
dispatcher, as named tasks of one TaskGroup, for as long as the caller's context lasts."""

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
from alerts.routing import ChannelKind
from alerts.sweeper import Sweeper
from core.clock import Clock


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
) -> AsyncIterator[AlertStage]:
    """Follower, sweeper and dispatcher running in the background until the block exits."""
    sweeper = Sweeper(pool, clock, config)
    dispatcher = Dispatcher(pool, clock, channels, config, dispatch)
    follower = FindingsFollower(pool, clock, config, on_deliveries=dispatcher.nudge)
    async with asyncio.TaskGroup() as group:
        tasks = [
            group.create_task(follower.run(), name="alerts-follower"),
            group.create_task(sweeper.run(), name="alerts-sweeper"),
            group.create_task(dispatcher.run(), name="alerts-dispatcher"),
        ]
        try:
            yield AlertStage(follower, sweeper, dispatcher)
        finally:
            for task in tasks:
                task.cancel()
