"""The scheduled retention job: expire what is past its period, then wait the interval.

Runs as a stage of `eldercare run` (under a supervisor, so a failed run is retried with
backoff and never stops the other stages) and alone as `eldercare retention run --repeat`.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable

import asyncpg

from core.clock import Clock
from core.retention import RetentionPolicy
from core.supervise import Stage
from storage.retention import RetentionReport, expire


async def retention_loop(
    pool: asyncpg.Pool,
    policy: RetentionPolicy,
    clock: Clock,
    interval_s: float,
    on_run: Callable[[RetentionReport], None] | None = None,
) -> None:
    """Run retention now and then every `interval_s` seconds, until cancelled."""
    while True:
        report = await expire(pool, policy, clock.now())
        if on_run is not None:
            on_run(report)
        await asyncio.sleep(interval_s)


def retention_stage(
    pool: asyncpg.Pool,
    policy: RetentionPolicy,
    clock: Clock,
    interval_s: float,
    on_run: Callable[[RetentionReport], None] | None = None,
) -> Stage:
    """The job as a supervised stage."""
    return Stage.loop("retention", lambda: retention_loop(pool, policy, clock, interval_s, on_run))
