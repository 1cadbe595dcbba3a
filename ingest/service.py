"""The ingest service: MQTT in, batches committed to PostgreSQL, acks out.

A message is acknowledged to the broker only after the batch holding it has committed,
so a crash anywhere before that means redelivery, never loss; the write is idempotent on
(device_id, ts, seq), so redelivery never means duplicates. Whatever the database does
(restarts, refuses writes, deadlocks), the batch is held and retried, never dropped and
never the end of the process.

The worker also proves its own pipeline: on a schedule it publishes a heartbeat through
the broker on its own topic, takes it back like a device message and commits it with the
batch it arrived in (core/pipeline.py). Each committed batch goes to `on_committed`, and
every change in what the worker knows of its pipeline to `on_status`.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import math
import time
from collections.abc import Callable, Mapping, Sequence
from datetime import datetime

from core.clock import Clock
from core.logs import kv
from core.pipeline import CommittedBatch, PipelineProblem, heartbeat_topic
from core.readings import Reading
from core.settings import MqttTarget
from core.telemetry import IngestTelemetry
from ingest.batch import split_heartbeats
from ingest.config import IngestConfig, IngestStats
from ingest.health import PipelineHealth, StatusListener
from ingest.mqtt_client import InboundMessage, ManualAckSubscriber, end_session
from ingest.nats_client import JetStreamSubscriber, NatsTarget
from ingest.registry_cache import RegistryCache
from ingest.transport import Transport
from ingest.wire import heartbeat_payload
from ingest.writer import BatchWriter

__all__ = ["CommitListener", "IngestConfig", "IngestService", "IngestStats", "StatusListener"]

log = logging.getLogger("eldercare.ingest")

CommitListener = Callable[[CommittedBatch], None]

# Resume reading once unacknowledged messages fall to this share of the limit; the gap
# keeps us from flapping between paused and reading on every batch.
RESUME_FRACTION = 0.5
STATS_LOG_INTERVAL_SECONDS = 60.0
STATUS_INTERVAL_SECONDS = 1.0
# Before the first connection, a broker not yet connected is no news: no status is sent.
CONNECT_GRACE_SECONDS = 10.0
# How often the heartbeat loop looks at the pipeline's clock. Heartbeats go out every
# `heartbeat_s` of real time or of the pipeline's clock, whichever comes first: on a
# clock that runs faster than the wall (the demo's catch-up) the detectors, which judge
# on that clock, still see one every `heartbeat_s` of theirs, up to this many a second.
HEARTBEAT_POLL_SECONDS = 0.25
# asyncio.timeout, never wait_for, around waits a stop may cancel: Python 3.11's wait_for
# returns normally when cancelled just as what it waits for completes, so the stop is lost
# and the task waits on forever (seen: a SIGTERMed worker never exiting).

# A drained session is empty once nothing has arrived for this long and all is committed.
DRAIN_QUIET_SECONDS = 2.0


class IngestService:
    """One ingest worker; run it with `await service.run()` until cancelled.

    `clock` is the pipeline's clock, the one the detectors are given: heartbeats, arrival
    and commit times are on it, so nothing downstream compares two clocks.
    """

    def __init__(
        self,
        config: IngestConfig,
        database_url: str,
        mqtt: MqttTarget | NatsTarget,
        *,
        clock: Clock,
        on_committed: CommitListener | None = None,
        on_status: StatusListener | None = None,
        telemetry: IngestTelemetry | None = None,
    ) -> None:
        self.config = config
        self.stats = IngestStats()
        self._telemetry = telemetry or IngestTelemetry.unexported()
        self._database_url = database_url
        self._mqtt = mqtt
        self._clock = clock
        self._on_committed = on_committed
        self._registry = RegistryCache()
        self._pending: list[InboundMessage] = []
        self._has_pending = asyncio.Event()
        self._batch_full = asyncio.Event()
        self._link_up = asyncio.Event()  # set by the subscriber on each (re)connection
        self._link_lost = asyncio.Event()
        self._pool_ready = asyncio.Event()
        self._beat_now = asyncio.Event()  # look at once (a recovered link, a request)
        self._beat_asked = False  # send one now, whatever the schedule says
        self._heartbeat_topic = heartbeat_topic(config.client_id)
        self._heartbeat_seq = 0
        self._health = PipelineHealth(config.client_id, clock, config.heartbeat_s, on_status)
        self._writer = BatchWriter(config, database_url, clock, self._registry, self._health,
                                   self.stats, on_recovered=self.heartbeat_now)  # fmt: skip
        self._batch_number = 0
        self._uncommitted: set[int] = set()  # numbers of the batches being committed
        self._batch_committed = asyncio.Condition()
        self._subscriber: Transport
        if isinstance(mqtt, NatsTarget):
            self._subscriber = JetStreamSubscriber(
                mqtt,
                client_id=config.client_id,
                batch_size=config.batch_size,
                max_inflight=config.max_inflight,
                on_message=self._accept,
                on_connection_lost=self._connection_lost,
                also_subscribe=(self._heartbeat_topic,),
            )
            return
        self._subscriber = ManualAckSubscriber(
            mqtt,
            client_id=config.client_id,
            topic_filter=config.topic_filter,
            protocol=config.protocol,
            receive_maximum=config.max_inflight,
            on_message=self._accept,
            on_connection_lost=self._connection_lost,
            also_subscribe=(self._heartbeat_topic,),
        )

    @property
    def problem(self) -> PipelineProblem | None:
        """What is known wrong with this worker's pipeline, as last reported."""
        return self._health.reported

    @property
    def ready(self) -> bool:
        """For /readyz: connected to the broker and committing (no database outage)."""
        return self._link_up.is_set() and self._pool_ready.is_set() and not self._writer.failing

    @property
    def subscribed(self) -> bool:
        """Connected to the broker with every subscription granted (its SUBACK read)."""
        return self._link_up.is_set()

    @property
    def refused_subscriptions(self) -> tuple[str, ...]:
        """Filters the broker refused on the last attempt (its ACL); () when none."""
        return self._subscriber.refused_filters

    async def run(self, ready: asyncio.Event | None = None) -> None:
        """Subscribe and commit batches until cancelled; `ready` is set once subscribed."""
        async with asyncio.TaskGroup() as tasks:
            tasks.create_task(self._subscriber.run(self._link_up), name="ingest-mqtt")
            tasks.create_task(self._watch_link(ready), name="ingest-link")
            tasks.create_task(self._commit_loop(), name="ingest-flush")
            tasks.create_task(self._registry.watch(self._database_url), name="ingest-registry")
            tasks.create_task(self._heartbeats(), name="ingest-heartbeat")
            tasks.create_task(self._watch_health(), name="ingest-health")
            tasks.create_task(self._log_stats(), name="ingest-stats")

    async def drain(self, quiet_s: float = DRAIN_QUIET_SECONDS) -> IngestStats:
        """Take over a retired worker's session (this config's client id), commit what the
        broker queued for it, then end the session so the broker stops queueing for it:
        a stopped worker cannot strand its share of the stream."""
        up = asyncio.Event()
        runner = asyncio.create_task(self.run(up), name="ingest-drain")
        waiting = asyncio.create_task(up.wait())
        try:
            await asyncio.wait({runner, waiting}, return_when=asyncio.FIRST_COMPLETED)
            if runner.done():
                runner.result()  # its error, if it failed before connecting
            seen = -1
            while not (seen == self.stats.received and self.stats.unacked == 0):
                seen = self.stats.received
                await asyncio.sleep(quiet_s)
                if runner.done():
                    runner.result()
        finally:
            for task in (runner, waiting):
                task.cancel()
            await asyncio.gather(runner, waiting, return_exceptions=True)
        if isinstance(self._mqtt, MqttTarget):  # NATS has no per-worker session to end
            await end_session(self._mqtt, self.config.client_id, self.config.protocol)
        log.info(kv("ingest_drained", client_id=self.config.client_id,
                    received=self.stats.received, stored=self.stats.stored,
                    duplicates=self.stats.duplicates,
                    dead_letters=sum(self.stats.dead_letters.values()),
                    session="ended"))  # fmt: skip
        return self.stats

    # -- the broker link and the pipeline's health ----------------------------------------
    async def _watch_link(self, ready: asyncio.Event | None) -> None:
        while True:
            await self._link_up.wait()
            self._health.broker_connected = True
            self.heartbeat_now()  # prove the recovered link at once
            self._health.evaluate()
            if ready is not None:
                ready.set()
            await self._link_lost.wait()
            self._link_lost.clear()

    def _connection_lost(self) -> None:
        """The connection is gone: the broker will redeliver what we did not ack."""
        dropped = len(self._pending)
        self._pending.clear()
        self._has_pending.clear()
        self._batch_full.clear()
        self._release(dropped)
        self._link_up.clear()
        self._link_lost.set()
        self._health.broker_connected = False
        self._health.evaluate()

    async def _watch_health(self) -> None:
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(CONNECT_GRACE_SECONDS):
                await self._link_up.wait()
        self._health.armed = True
        while True:
            self._health.evaluate()
            await asyncio.sleep(STATUS_INTERVAL_SECONDS)

    async def _heartbeats(self) -> None:
        await self._pool_ready.wait()  # the seq goes on from the last committed one
        every_s = self.config.heartbeat_s
        poll_s = min(every_s, HEARTBEAT_POLL_SECONDS)
        sent_real = sent_clock = -math.inf
        while True:
            self._beat_now.clear()
            now_real, now_clock = time.monotonic(), self._clock.now().timestamp()
            due = now_real - sent_real >= every_s or now_clock - sent_clock >= every_s
            if self._link_up.is_set() and (due or self._beat_asked):
                self._beat_asked = False
                self._send_heartbeat()
                sent_real, sent_clock = now_real, now_clock
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(poll_s):
                    await self._beat_now.wait()

    def heartbeat_now(self) -> None:
        """Send a heartbeat without waiting for the next one: a driver of a stepped clock
        (a test, a replay) proves the pipeline at each step it takes."""
        self._beat_asked = True
        self._beat_now.set()

    def _send_heartbeat(self) -> None:
        seq = self._heartbeat_seq + 1
        now = self._clock.now()
        sent_at = now.replace(microsecond=now.microsecond // 1000 * 1000)  # as written
        if self._subscriber.publish(self._heartbeat_topic, heartbeat_payload(seq, sent_at)):
            self._heartbeat_seq = seq
            self._health.heartbeat_sent(seq, sent_at)
            self.stats.heartbeats_sent += 1

    # -- receiving (synchronous, on the loop, from the MQTT client) ---------------------
    def _accept(self, message: InboundMessage) -> None:
        self._pending.append(message)
        self.stats.received += 1
        self.stats.unacked += 1
        self._has_pending.set()
        if len(self._pending) >= self.config.batch_size:
            self._batch_full.set()
        if self.stats.unacked >= self.config.max_inflight and not self.stats.paused:
            # The database is behind: stop reading, let the broker hold the rest.
            self.stats.paused = True
            self._subscriber.pause_reading()

    def _release(self, count: int) -> None:
        self.stats.unacked -= count
        resume_below = self.config.max_inflight * RESUME_FRACTION
        if self.stats.paused and self.stats.unacked <= resume_below:
            self.stats.paused = False
            self._subscriber.resume_reading()

    # -- committing ---------------------------------------------------------------------
    async def _next_batch(self) -> list[InboundMessage]:
        """Wait until a batch is full or its oldest message has waited flush_interval_s."""
        while not self._pending:
            self._has_pending.clear()
            await self._has_pending.wait()
        waited = time.time() - self._pending[0].received_at_s
        remaining = self.config.flush_interval_s - waited
        if remaining > 0 and len(self._pending) < self.config.batch_size:
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(remaining):  # (not wait_for: see the top)
                    await self._batch_full.wait()
        batch = self._pending[: self.config.batch_size]
        del self._pending[: self.config.batch_size]
        if len(self._pending) < self.config.batch_size:
            self._batch_full.clear()
        return batch

    async def _commit_loop(self) -> None:
        try:
            self._heartbeat_seq = await self._writer.connect()
            self._pool_ready.set()
            # Up to `writers` batches commit at once: while one waits on the database the
            # next is already being written, so neither the event loop nor PostgreSQL idles.
            slots = asyncio.Semaphore(self.config.writers)
            async with asyncio.TaskGroup() as commits:
                while True:
                    batch = await self._next_batch()
                    if not batch:  # everything was dropped by a lost connection meanwhile
                        continue
                    await slots.acquire()
                    self._batch_number += 1
                    self._uncommitted.add(self._batch_number)
                    commits.create_task(
                        self._commit_and_ack(batch, self._batch_number, slots),
                        name="ingest-commit",
                    )
        finally:
            await self._writer.close()

    async def _commit_and_ack(
        self, batch: list[InboundMessage], number: int, slots: asyncio.Semaphore
    ) -> None:
        # Arrival times on the pipeline's clock, fixed once for the batch's every attempt.
        offset_s = self._clock.now().timestamp() - time.time()
        devices, returned = split_heartbeats(batch, self._heartbeat_topic, offset_s)
        beats = [beat for _, beat in returned]
        try:
            if beats:
                # A committed heartbeat proves that everything received before it is
                # committed too: it waits for every earlier batch.
                async with self._batch_committed:
                    await self._batch_committed.wait_for(lambda: min(self._uncommitted) == number)
            started_s = time.monotonic()
            decoded, result, stored, committed_at = await self._writer.commit(
                devices, beats, offset_s
            )
            self._telemetry.commit_duration.observe(time.monotonic() - started_s)
        finally:
            slots.release()
            self._uncommitted.discard(number)
            async with self._batch_committed:
                self._batch_committed.notify_all()
        self.stats.batches += 1
        self.stats.stored += result.inserted
        self.stats.duplicates += result.duplicates
        self.stats.dead_letters.update(decoded.reasons)
        self.stats.dead_letters_kept += result.dead_letters_kept
        self.stats.last_commit_s = time.time()
        self._measure(batch, decoded.reasons, result.inserted, result.duplicates, stored,
                      committed_at)  # fmt: skip
        committed = CommittedBatch(stored, committed_at, dict(decoded.rejected), beats)
        if stored or beats or decoded.rejected:
            # Past one machine the detectors are elsewhere: the batch goes to their log
            # first, so a crash before the ack means redelivery, never a gap for them.
            await self._subscriber.forward(committed, {str(r[0]): str(r[1]) for r in decoded.rows})
        # Acks only what arrived on the current connection; the rest is redelivered.
        self._subscriber.ack(batch)
        self._release(len(batch))
        for message, beat in returned:
            self.stats.heartbeats_committed += 1
            sent_wall = self._health.heartbeat_committed(beat)
            if sent_wall is not None:
                round_trip_s = max(0.0, message.received_at_s - sent_wall)
                self.stats.heartbeat_round_trip_s = round_trip_s
                self.stats.heartbeat_round_trip_sum_s += round_trip_s
                self.stats.heartbeat_round_trips += 1
                self._telemetry.heartbeat_round_trip.observe(round_trip_s)
        if returned:
            self._telemetry.heartbeat_committed.set(time.time())
            self._health.evaluate()
        if self._on_committed is not None and (stored or beats or decoded.rejected):
            self._on_committed(committed)

    def _measure(
        self,
        batch: list[InboundMessage],
        reasons: Mapping[str, int],
        inserted: int,
        duplicates: int,
        stored: Sequence[Reading],
        committed_at: datetime,
    ) -> None:
        """A committed batch's figures, for /metrics."""
        m = self._telemetry
        committed_s = time.time()
        m.receive_to_commit.observe_many(committed_s - message.received_at_s for message in batch)
        # Readings' own times are on the pipeline's clock, as `committed_at` is.
        m.device_to_commit.observe_many((committed_at - r.ts).total_seconds() for r in stored)
        m.readings_stored.inc(inserted)
        m.duplicates.inc(duplicates)
        for reason, count in reasons.items():
            m.dead_letters.labels(reason=reason).inc(count)

    async def _log_stats(self) -> None:
        previous = 0
        while True:
            await asyncio.sleep(STATS_LOG_INTERVAL_SECONDS)
            s = self.stats
            rate = (s.stored + s.duplicates - previous) / STATS_LOG_INTERVAL_SECONDS
            previous = s.stored + s.duplicates
            round_trip = "-" if s.heartbeat_round_trip_s is None else round(
                s.heartbeat_round_trip_s, 3)  # fmt: skip
            log.info(kv("ingest_stats", received=s.received, stored=s.stored,
                        duplicates=s.duplicates, dead_letters=sum(s.dead_letters.values()),
                        unacked=s.unacked, paused=s.paused, rate_per_s=round(rate),
                        heartbeat_round_trip_s=round_trip,
                        problem=self.problem or "none"))  # fmt: skip
