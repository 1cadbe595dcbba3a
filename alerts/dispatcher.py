"""The dispatcher: delivers the outbox, with retries, leases and a record of every attempt.

A pass claims due deliveries in one transaction (each gets a lease and a `started`
attempt row), sends them concurrently, and records each result in its own transaction.
A crash between the two leaves the lease to run out; the next dispatcher sends again
with the same idempotency key (gateways drop the duplicate) and marks the lost attempt
`abandoned`. A delivery that exhausts its attempts is `failed` and raises a system
alert for its home, so a message nobody received is itself seen.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta

import asyncpg

from alerts.apply import DELIVERY_FAILED_KIND, raise_problem
from alerts.channels.base import Channel, DeliveryResult
from alerts.config import AlertConfig
from core.clock import Clock
from core.contacts import ChannelKind
from core.logs import kv
from core.settings import Settings
from core.supervise import OutageLog
from core.telemetry import AlertTelemetry
from storage.alerts_outbox import (
    ClaimedDelivery,
    Finish,
    cancel_stale_held,
    claim_due,
    fail_lost,
    finish_attempt,
)

log = logging.getLogger("eldercare.alerts")


@dataclass(frozen=True, slots=True)
class DispatchConfig:
    """Pacing of the dispatcher."""

    batch: int = 50  # deliveries claimed (and sent concurrently) per pass
    # A claimed delivery is this dispatcher's for this long; it must outlast the send
    # timeout, or a slow gateway would see the same message from two dispatchers.
    lease_s: float = 120.0
    send_timeout_s: float = 60.0
    # How often an idle dispatcher looks for work, in real seconds: a new alert's first
    # message waits at most this long.
    poll_interval_s: float = 0.5

    @classmethod
    def from_settings(cls, settings: Settings) -> DispatchConfig:
        """The operator's lease and send timeout (validated in core.settings)."""
        return cls(
            lease_s=float(settings.dispatch_lease_s),
            send_timeout_s=float(settings.dispatch_send_timeout_s),
        )

    def __post_init__(self) -> None:
        if self.lease_s <= self.send_timeout_s:
            raise ValueError("lease_s must exceed send_timeout_s")
        if self.batch < 1:
            raise ValueError("batch must be at least 1")


class Dispatcher:
    """Sends due deliveries through their channels."""

    def __init__(
        self,
        pool: asyncpg.Pool,
        clock: Clock,
        channels: Mapping[ChannelKind, Channel],
        config: AlertConfig | None = None,
        dispatch: DispatchConfig | None = None,
        rng: random.Random | None = None,
        telemetry: AlertTelemetry | None = None,
    ) -> None:
        self._telemetry = telemetry or AlertTelemetry.unexported()
        self._pool = pool
        self._clock = clock
        self._channels = dict(channels)
        self._config = config or AlertConfig()
        self._dispatch = dispatch or DispatchConfig()
        self._rng = rng or random.Random()
        self._wakeup = asyncio.Event()

    def nudge(self) -> None:
        """New deliveries were committed: look now rather than at the next poll."""
        self._wakeup.set()

    async def dispatch_once(self) -> int:
        """One pass: claim what is due, send it, record the results; returns how many."""
        now = self._clock.now()
        lease_until = now + timedelta(seconds=self._dispatch.lease_s)
        async with self._pool.acquire() as conn, conn.transaction():
            await cancel_stale_held(conn, now)
            for lost in await fail_lost(conn, now):
                await raise_problem(
                    conn,
                    lost.home_id,
                    DELIVERY_FAILED_KIND,
                    f"delivery {lost.id} ({lost.channel} to {lost.recipient_role}) gave no"
                    f" result after {lost.attempts} attempts",
                    now,
                    self._config,
                    {
                        "channel": str(lost.channel),
                        "recipient_role": str(lost.recipient_role),
                        "attempts": lost.attempts,
                    },
                )
            claimed = await claim_due(conn, now, lease_until, self._dispatch.batch)
        if claimed:
            async with asyncio.TaskGroup() as group:
                for item in claimed:
                    group.create_task(self._deliver(item), name=f"deliver-{item.delivery.id}")
        return len(claimed)

    async def _deliver(self, item: ClaimedDelivery) -> None:
        result = await self._send(item)
        delivery = item.delivery
        now = self._clock.now()
        if result.ok:
            finish, next_at = Finish.SENT, None
        elif result.retryable and delivery.attempt < item.max_attempts:
            delay_s = self._config.retry.delay_s(delivery.attempt, self._rng)
            finish, next_at = Finish.RETRY, now + timedelta(seconds=delay_s)
        else:
            finish, next_at = Finish.FAILED, None
        try:
            await self._record(item, result, finish, next_at)
        except (OSError, asyncpg.PostgresError) as exc:
            # The attempt row stays `started`; when the lease runs out the delivery is
            # sent again under the same idempotency key, so nothing is lost.
            log.warning(kv("delivery_unrecorded", delivery_id=delivery.id,
                           error=type(exc).__name__))  # fmt: skip
            return
        self._measure(item, finish, now)
        log.info(kv("delivery_" + finish.value, delivery_id=delivery.id,
                    channel=delivery.channel.value, attempt=delivery.attempt,
                    status=result.status_code or "-"))  # fmt: skip

    def _measure(self, item: ClaimedDelivery, finish: Finish, answered: datetime) -> None:
        """An attempt's figures, for /metrics (on the alerts' clock, as `due_at` is)."""
        channel = item.delivery.channel.value
        if finish is Finish.SENT:
            if item.due_at is not None:
                waited_s = max(0.0, (answered - item.due_at).total_seconds())
                self._telemetry.alert_to_gateway.labels(channel=channel).observe(waited_s)
        else:
            self._telemetry.delivery_failures.labels(channel=channel, outcome=finish.value).inc()

    async def _record(
        self,
        item: ClaimedDelivery,
        result: DeliveryResult,
        finish: Finish,
        next_at: datetime | None,
    ) -> None:
        delivery = item.delivery
        now = self._clock.now()
        async with self._pool.acquire() as conn, conn.transaction():
            ours = await finish_attempt(
                conn,
                delivery.id,
                delivery.attempt,
                finish,
                now,
                status_code=result.status_code,
                detail=result.detail,
                provider_ref=result.provider_ref,
                next_attempt_at=next_at,
            )
            if ours and finish is Finish.FAILED:
                await raise_problem(
                    conn,
                    delivery.home_id,
                    DELIVERY_FAILED_KIND,
                    f"delivery {delivery.id} ({delivery.channel.value} to {item.recipient_role})"
                    f" failed after {delivery.attempt} attempt(s): {result.detail}",
                    now,
                    self._config,
                    {
                        "channel": delivery.channel.value,
                        "recipient_role": str(item.recipient_role),
                        "attempts": delivery.attempt,
                    },
                )

    async def _send(self, item: ClaimedDelivery) -> DeliveryResult:
        delivery = item.delivery
        channel = self._channels.get(delivery.channel)
        if channel is None:
            return DeliveryResult.permanent(f"no {delivery.channel.value} channel configured")
        try:
            async with asyncio.timeout(self._dispatch.send_timeout_s):
                return await channel.send(delivery)
        except TimeoutError:
            return DeliveryResult.retry(f"no answer within {self._dispatch.send_timeout_s} s")
        except Exception as exc:  # a channel bug costs one attempt, never the dispatcher
            log.exception(kv("channel_error", delivery_id=delivery.id))
            return DeliveryResult.retry(f"channel error: {type(exc).__name__}")

    async def run(self) -> None:
        """Dispatch until cancelled; idle passes wait `poll_interval_s` real seconds."""
        outage = OutageLog(log, "dispatch")
        while True:
            self._wakeup.clear()
            try:
                busy = await self.dispatch_once()
                outage.succeeded()
            except (OSError, asyncpg.PostgresError, asyncpg.InterfaceError) as exc:
                outage.failed(exc, retrying="due deliveries")
                busy = 0
            if not busy:
                # Not wait_for: on 3.11 it can lose a stop (eldercare/stopping.py).
                with contextlib.suppress(TimeoutError):
                    async with asyncio.timeout(self._dispatch.poll_interval_s):
                        await self._wakeup.wait()
