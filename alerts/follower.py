"""The alert stage's intake: follows the findings the detectors stored and turns each into
an alert change, exactly once.

Each pass locks the oldest untaken findings, applies them with the pure intake and
escalation code, and marks them taken in the same transaction as the alerts, history and
outbox rows they caused: a crash anywhere leaves either all of it or none of it. The
detectors in the same process wake it at once (`on_findings`); a poll covers findings
stored by another process.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Callable, Sequence

import asyncpg

from alerts.apply import apply_finding
from alerts.config import AlertConfig
from core.clock import Clock
from core.findings import Finding
from core.supervise import OutageLog
from core.telemetry import AlertTelemetry
from storage.findings import mark_taken, take_untaken_findings

log = logging.getLogger("eldercare.alerts")

BATCH = 100
POLL_INTERVAL_S = 1.0


class FindingsFollower:
    """Stored findings in, alerts and outbox rows out."""

    def __init__(
        self,
        pool: asyncpg.Pool,
        clock: Clock,
        config: AlertConfig | None = None,
        *,
        on_deliveries: Callable[[], None] | None = None,
        batch: int = BATCH,
        poll_interval_s: float = POLL_INTERVAL_S,
        telemetry: AlertTelemetry | None = None,
    ) -> None:
        self._telemetry = telemetry or AlertTelemetry.unexported()
        self._pool = pool
        self._clock = clock
        self._config = config or AlertConfig()
        self._on_deliveries = on_deliveries
        self._batch = batch
        self._poll_interval_s = poll_interval_s
        self._wakeup = asyncio.Event()
        self.taken = 0

    def nudge(self) -> None:
        """Look for new findings now rather than at the next poll."""
        self._wakeup.set()

    async def on_findings(self, findings: Sequence[Finding]) -> None:
        """The detector stage's hook: its findings are committed; take them."""
        self.nudge()

    async def take_once(self, limit: int | None = None) -> int:
        """One pass over at most `limit` findings (default: the batch); returns how many."""
        deliveries = 0
        async with self._pool.acquire() as conn, conn.transaction():
            stored = await take_untaken_findings(conn, limit or self._batch)
            now = self._clock.now()
            for item in stored:
                result = await apply_finding(conn, item.finding, now, self._config)
                deliveries += len(result.delivery_ids)
            await mark_taken(conn, [item.id for item in stored], now)
        self.taken += len(stored)
        # Stored at the database's clock, so measured on the wall clock, not the alerts'.
        applied_s = time.time()
        for item in stored:
            if item.recorded_at is not None:
                waited_s = applied_s - item.recorded_at.timestamp()
                self._telemetry.finding_to_alert.observe(max(0.0, waited_s))
        if deliveries and self._on_deliveries is not None:
            self._on_deliveries()
        return len(stored)

    async def run(self) -> None:
        """Take findings until cancelled."""
        limit = self._batch
        outage = OutageLog(log, "alert_intake")
        while True:
            self._wakeup.clear()
            try:
                count = await self.take_once(limit)
                limit = self._batch
                outage.succeeded()
            except (OSError, asyncpg.PostgresError, asyncpg.InterfaceError) as exc:
                # Maybe one finding the database refuses: go one at a time until a pass
                # succeeds, so the rest are not held back longer than they must be.
                outage.failed(exc, retrying="the oldest findings, one at a time")
                count, limit = 0, 1
                await asyncio.sleep(self._poll_interval_s)
            if count < limit:
                with contextlib.suppress(TimeoutError):
                    # Not wait_for: on 3.11 it returns normally when cancelled just as the
                    # event is set, and the stop is lost (eldercare/stopping.py).
                    async with asyncio.timeout(self._poll_interval_s):
                        await self._wakeup.wait()
