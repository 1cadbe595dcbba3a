"""The ingest service: MQTT in, batches committed to PostgreSQL, acks out.

A message is acknowledged to the broker only after the batch holding it has
committed, so a crash anywhere before that means redelivery, never loss; the write
is idempotent on (device_id, ts, seq), so redelivery never means duplicates.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

import asyncpg

from core.backoff import Backoff
from core.logs import kv
from core.readings import Reading
from core.settings import MqttTarget, Settings
from ingest.batch import DecodedBatch, decode_messages, topics_of
from ingest.mqtt_client import InboundMessage, ManualAckSubscriber
from ingest.registry_cache import RegistryCache
from ingest.wire import DEFAULT_MAX_FUTURE, TOPIC_FILTER, Topic
from storage.ingest_writes import BatchResult, DeadLetter, prepare_ingest_connection, write_batch
from storage.pool import create_pool

log = logging.getLogger("eldercare.ingest")

# Resume reading once unacknowledged messages fall to this share of the limit; the gap
# keeps us from flapping between paused and reading on every batch.
RESUME_FRACTION = 0.5
STATS_LOG_INTERVAL_SECONDS = 60.0


@dataclass(frozen=True, slots=True)
class IngestConfig:
    """How one ingest worker connects and batches."""

    client_id: str
    protocol: str = "3.1.1"
    share_group: str = "ingest"
    batch_size: int = 1000
    flush_interval_s: float = 0.05
    max_inflight: int = 4000
    max_future: timedelta = DEFAULT_MAX_FUTURE
    writers: int = 2  # batches committing at once (database connections)

    @classmethod
    def from_settings(cls, settings: Settings) -> IngestConfig:
        """The ingest part of the process settings."""
        return cls(
            client_id=settings.ingest_client_id,
            protocol=settings.mqtt_protocol,
            share_group=settings.ingest_share_group,
            batch_size=settings.ingest_batch_size,
            flush_interval_s=settings.ingest_flush_ms / 1000,
            max_inflight=settings.ingest_max_inflight,
        )

    share_supported: bool = True  # False for brokers without $share (the embedded amqtt)

    @property
    def topic_filter(self) -> str:
        """A shared subscription, so workers split the stream; plain when unsupported."""
        if self.share_group and self.share_supported:
            return f"$share/{self.share_group}/{TOPIC_FILTER}"
        return TOPIC_FILTER


@dataclass
class IngestStats:
    """Running totals of this worker, for logs and metrics."""

    received: int = 0
    stored: int = 0
    duplicates: int = 0
    dead_letters: Counter[str] = field(default_factory=Counter)
    batches: int = 0
    unacked: int = 0
    paused: bool = False
    last_commit_s: float | None = None


CommitListener = Callable[[Sequence[Reading], float], None]


class IngestService:
    """One ingest worker; run it with `await service.run()` until cancelled."""

    def __init__(
        self,
        config: IngestConfig,
        database_url: str,
        mqtt: MqttTarget,
        *,
        on_committed: CommitListener | None = None,
    ) -> None:
        self.config = config
        self.stats = IngestStats()
        self._database_url = database_url
        self._on_committed = on_committed
        self._registry = RegistryCache()
        self._pending: list[InboundMessage] = []
        self._has_pending = asyncio.Event()
        self._batch_full = asyncio.Event()
        self._subscriber = ManualAckSubscriber(
            mqtt,
            client_id=config.client_id,
            topic_filter=config.topic_filter,
            protocol=config.protocol,
            receive_maximum=config.max_inflight,
            on_message=self._accept,
            on_connection_lost=self._drop_unacked,
        )

    async def run(self, ready: asyncio.Event | None = None) -> None:
        """Subscribe and commit batches until cancelled."""
        pool = await self._connect_pool()
        try:
            async with asyncio.TaskGroup() as tasks:
                tasks.create_task(self._subscriber.run(ready), name="ingest-mqtt")
                tasks.create_task(self._flush_loop(pool), name="ingest-flush")
                tasks.create_task(self._registry.watch(self._database_url), name="ingest-registry")
                tasks.create_task(self._log_stats(), name="ingest-stats")
        finally:
            await pool.close()

    async def _connect_pool(self) -> asyncpg.Pool:
        backoff = Backoff()
        while True:
            try:
                return await create_pool(
                    self._database_url,
                    min_size=1,
                    max_size=self.config.writers,
                    init=prepare_ingest_connection,
                )
            except (OSError, asyncpg.PostgresError, asyncpg.InterfaceError) as exc:
                if backoff.failures == 0:
                    log.warning(kv("database_unavailable", error=type(exc).__name__))
                await asyncio.sleep(backoff.next_delay_s())

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

    def _drop_unacked(self) -> None:
        """The connection is gone: the broker will redeliver what we did not ack."""
        dropped = len(self._pending)
        self._pending.clear()
        self._has_pending.clear()
        self._batch_full.clear()
        self._release(dropped)

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
                await asyncio.wait_for(self._batch_full.wait(), remaining)
        batch = self._pending[: self.config.batch_size]
        del self._pending[: self.config.batch_size]
        if len(self._pending) < self.config.batch_size:
            self._batch_full.clear()
        return batch

    async def _flush_loop(self, pool: asyncpg.Pool) -> None:
        # Up to `writers` batches commit at once: while one waits on the database the
        # next is already being written, so neither the event loop nor PostgreSQL idles.
        slots = asyncio.Semaphore(self.config.writers)
        async with asyncio.TaskGroup() as commits:
            while True:
                batch = await self._next_batch()
                if not batch:  # everything was dropped by a lost connection meanwhile
                    continue
                await slots.acquire()
                commits.create_task(self._commit_and_ack(pool, batch, slots), name="ingest-commit")

    async def _commit_and_ack(
        self, pool: asyncpg.Pool, batch: list[InboundMessage], slots: asyncio.Semaphore
    ) -> None:
        try:
            decoded, result = await self._commit(pool, batch)
        finally:
            slots.release()
        committed_s = time.time()
        self.stats.batches += 1
        self.stats.stored += result.inserted
        self.stats.duplicates += result.duplicates
        self.stats.dead_letters.update(decoded.reasons)
        self.stats.last_commit_s = committed_s
        # Acks only what arrived on the current connection; the rest is redelivered.
        self._subscriber.ack(batch)
        self._release(len(batch))
        if self._on_committed is not None and decoded.readings:
            self._on_committed(decoded.readings, committed_s)

    async def _commit(
        self, pool: asyncpg.Pool, batch: list[InboundMessage]
    ) -> tuple[DecodedBatch, BatchResult]:
        """Decode and store one batch, retrying with backoff while the database is away."""
        backoff = Backoff()
        outage_started: float | None = None
        topics = topics_of(batch)
        device_ids = {t.device_id for t in topics if isinstance(t, Topic)}
        while True:
            try:
                async with pool.acquire() as conn:
                    devices = await self._registry.resolve(conn, device_ids)
                    decoded = decode_messages(batch, topics, devices, self.config.max_future)
                    result = await self._write(conn, decoded)
            except (OSError, asyncpg.PostgresConnectionError, asyncpg.InterfaceError,
                    asyncpg.OperatorInterventionError, asyncpg.InsufficientResourcesError,
                    TimeoutError) as exc:  # fmt: skip
                if outage_started is None:
                    outage_started = time.monotonic()
                    log.warning(kv("database_unavailable", error=type(exc).__name__,
                                   holding=len(batch)))  # fmt: skip
                await asyncio.sleep(backoff.next_delay_s())
                continue
            if outage_started is not None:
                outage_s = round(time.monotonic() - outage_started, 1)
                log.info(kv("database_recovered", outage_s=outage_s))
            return decoded, result

    async def _write(self, conn: asyncpg.Connection, decoded: DecodedBatch) -> BatchResult:
        """Write a decoded batch; a row the database refuses is isolated into dead letters."""
        try:
            return await write_batch(conn, decoded.rows, decoded.dead_letters)
        except (asyncpg.DataError, asyncpg.IntegrityConstraintViolationError) as exc:
            # Validation should make this impossible; if it happens, one bad row must not
            # block the stream forever. Split until the culprit is alone, then keep it as
            # a dead letter with the database's reason.
            log.error(
                kv("batch_refused_by_database", sqlstate=exc.sqlstate, rows=len(decoded.rows))
            )
            return await self._write_isolating(conn, decoded, f"storage: {exc.sqlstate}")

    async def _write_isolating(
        self, conn: asyncpg.Connection, decoded: DecodedBatch, reason: str
    ) -> BatchResult:
        inserted = duplicates = 0
        dead = list(decoded.dead_letters)
        for source, row in zip(decoded.sources, decoded.rows, strict=True):
            try:
                part = await write_batch(conn, [row], [])
            except (asyncpg.DataError, asyncpg.IntegrityConstraintViolationError):
                received_at = datetime.fromtimestamp(source.received_at_s, UTC)
                dead.append(DeadLetter(source.topic, source.payload, reason, received_at))
                decoded.reasons["storage"] += 1
                continue
            inserted += part.inserted
            duplicates += part.duplicates
        await write_batch(conn, [], dead)
        return BatchResult(inserted, duplicates, len(dead))

    async def _log_stats(self) -> None:
        previous = 0
        while True:
            await asyncio.sleep(STATS_LOG_INTERVAL_SECONDS)
            s = self.stats
            rate = (s.stored + s.duplicates - previous) / STATS_LOG_INTERVAL_SECONDS
            previous = s.stored + s.duplicates
            log.info(kv("ingest_stats", received=s.received, stored=s.stored,
                        duplicates=s.duplicates, dead_letters=sum(s.dead_letters.values()),
                        unacked=s.unacked, paused=s.paused, rate_per_s=round(rate)))  # fmt: skip
