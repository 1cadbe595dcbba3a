"""The escalation sweeper: fires escalation steps whose time has come, and sends digests.

Timers are the alerts' stored `escalation_due_at`, so a restart loses none; time comes
from the injected clock. Several sweepers may run: each alert is taken with
FOR UPDATE SKIP LOCKED, so one alert is escalated by one of them at a time.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass
from datetime import timedelta

import asyncpg

from alerts import escalation
from alerts.apply import apply_escalation
from alerts.config import AlertConfig
from alerts.outbox import plan_digest
from core.clock import Clock
from core.contacts import ChannelKind
from core.logs import kv
from core.policy import policy_name_for
from core.supervise import OutageLog
from storage import alerts as alert_rows
from storage.alerts_outbox import (
    attach_to_digest,
    insert_delivery,
    lock_digest_batch,
    undigested_recipients,
)
from storage.alerts_routing import effective_policy

log = logging.getLogger("eldercare.alerts")

# How often the sweeper looks, in real seconds. Escalation steps are minutes apart, so
# a second of lateness is invisible, and an idle pass costs one indexed query.
SWEEP_INTERVAL_S = 1.0
# Alerts escalated per pass; the rest wait for the next pass, a second later.
SWEEP_BATCH = 100


@dataclass(frozen=True, slots=True)
class SweepReport:
    """What one pass did."""

    escalated: int
    digests: int


class Sweeper:
    """Escalation timers and digests, driven by the injected clock."""

    def __init__(
        self,
        pool: asyncpg.Pool,
        clock: Clock,
        config: AlertConfig | None = None,
        *,
        interval_s: float = SWEEP_INTERVAL_S,
        batch: int = SWEEP_BATCH,
    ) -> None:
        self._pool = pool
        self._clock = clock
        self._config = config or AlertConfig()
        self._interval_s = interval_s
        self._batch = batch

    async def sweep_once(self) -> SweepReport:
        """One pass: due escalations, then digests that have waited long enough."""
        escalated = await self.escalate_due()
        digests = await self.flush_digests()
        return SweepReport(escalated, digests)

    async def escalate_due(self) -> int:
        """Fire the next step (or the resumption) of every alert whose time has come."""
        now = self._clock.now()
        async with self._pool.acquire() as conn:
            ids = await alert_rows.due_alert_ids(conn, now, self._batch)
            done = 0
            for alert_id in ids:
                async with conn.transaction():
                    alert = await alert_rows.lock_due_alert(conn, alert_id, now)
                    if alert is None:  # another sweeper has it, or a command moved it on
                        continue
                    policy = await effective_policy(conn, policy_name_for(alert))
                    esc = escalation.on_due(alert, policy, now)
                    ids_sent = await apply_escalation(conn, esc, now, self._config)
                done += 1
                for fired in esc.fired:
                    log.info(kv("alert_escalated", alert_id=alert_id, step=fired.index,
                                resumed=fired.resumed, deliveries=len(ids_sent)))  # fmt: skip
        return done

    async def flush_digests(self) -> int:
        """Send each recipient the lines waiting for them longer than the digest interval."""
        now = self._clock.now()
        oldest_before = now - timedelta(seconds=self._config.digest_interval_s)
        sent = 0
        async with self._pool.acquire() as conn:
            for channel, address in await undigested_recipients(conn, oldest_before):
                async with conn.transaction():
                    batch = await lock_digest_batch(conn, channel, address)
                    if batch is None:
                        continue
                    message = plan_digest(
                        batch.lines,
                        ChannelKind(channel),
                        address,
                        batch.role,
                        batch.recipient_ref,
                        batch.language,
                        batch.timezone,
                        batch.quiet_hours,
                        now,
                        self._config.retry.max_attempts,
                    )
                    digest_id = await insert_delivery(conn, message)
                    line_ids = [line.delivery_id for line in batch.lines]
                    await attach_to_digest(conn, line_ids, digest_id)
                sent += 1
                log.info(kv("digest_queued", delivery_id=digest_id, lines=len(batch.lines)))
        return sent

    async def run(self) -> None:
        """Sweep until cancelled; a database error is logged and the next pass retries."""
        outage = OutageLog(log, "sweep")
        while True:
            try:
                await self.sweep_once()
                outage.succeeded()
            except (OSError, asyncpg.PostgresError, asyncpg.InterfaceError) as exc:
                outage.failed(exc, retrying="due escalations and digests")
            await asyncio.sleep(self._interval_s)
