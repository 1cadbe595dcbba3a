"""Ingest's writes: a batch decoded and committed, held through every database failure.

A batch is retried with backoff for as long as the database is away, restarting, read-only
or refusing ingest's role; nothing of it is acknowledged meanwhile. The operator gets one
line when an outage starts and one when it ends; the pipeline's health says commits are
failing. A row the database refuses is set aside as a dead letter, never the batch.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Sequence
from datetime import datetime

import asyncpg

from core.backoff import Backoff
from core.clock import Clock
from core.logs import kv
from core.pipeline import Heartbeat
from core.readings import Reading
from ingest.batch import DecodedBatch, decode_messages, topics_of
from ingest.config import IngestConfig, IngestStats
from ingest.health import PipelineHealth, WriteOutages
from ingest.mqtt_client import InboundMessage
from ingest.registry_cache import RegistryCache
from ingest.wire import Topic
from storage.dead_letters import DeadLetter
from storage.heartbeats import last_heartbeat_seq
from storage.ingest_writes import BatchResult, prepare_ingest_connection, write_batch
from storage.pool import create_pool
from storage.write_failures import FailureKind, classify_write_failure, is_row_refusal

log = logging.getLogger("eldercare.ingest")

# A held batch is retried at least this often: a database back from an outage is written
# to within seconds, and one retry every 10 s costs it nothing.
COMMIT_RETRY_CAP_SECONDS = 10.0
# A deadlock or serialization failure passes at once; retry quickly, a little spread.
CONFLICT_RETRY_BASE_SECONDS, CONFLICT_RETRY_CAP_SECONDS = 0.02, 1.0
POOL_CLOSE_TIMEOUT_SECONDS = 5.0


class BatchWriter:
    """Commits one worker's batches through its own pool (`writers` connections)."""

    def __init__(
        self,
        config: IngestConfig,
        database_url: str,
        clock: Clock,
        registry: RegistryCache,
        health: PipelineHealth,
        stats: IngestStats,
        on_recovered: Callable[[], None],
    ) -> None:
        self.config = config
        self.stats = stats
        self._database_url = database_url
        self._clock = clock
        self._registry = registry
        self._health = health
        self._on_recovered = on_recovered  # writes succeed again after an outage
        self._outages = WriteOutages()
        self._held = 0  # batches (or the pool) held by failing writes
        self._pool: asyncpg.Pool | None = None

    @property
    def failing(self) -> bool:
        """True from a failed write until no batch is held any more."""
        return self._outages.failing

    async def close(self) -> None:
        """Close the pool (at once if an outage broke its connections)."""
        if self._pool is None:
            return
        try:
            await asyncio.wait_for(self._pool.close(), POOL_CLOSE_TIMEOUT_SECONDS)
        except (TimeoutError, OSError, asyncpg.InterfaceError):
            self._pool.terminate()

    async def connect(self) -> int:
        """Open the writers' pool once the database takes connections (and our staging
        table); returns the heartbeat seq to go on from."""
        backoff = Backoff(cap_s=COMMIT_RETRY_CAP_SECONDS)
        held = False
        while True:
            try:
                pool = await create_pool(self._database_url, min_size=1,
                                         max_size=self.config.writers,
                                         init=prepare_ingest_connection)  # fmt: skip
                try:
                    async with pool.acquire() as conn:
                        last = await last_heartbeat_seq(conn, self.config.client_id)
                except BaseException:
                    pool.terminate()
                    raise
            except Exception as exc:
                delay_s, held = self._write_failed(exc, 0, backoff, held)
                await asyncio.sleep(delay_s)
                continue
            self._write_succeeded(held)
            self._pool = pool
            return last or 0

    def _write_failed(
        self, exc: Exception, holding: int, backoff: Backoff, held: bool
    ) -> tuple[float, bool]:
        """Account for a failed write of a batch (`held`: it failed before) and say how
        long to wait and whether it is held now; re-raise what is no database failure (a
        bug must not be retried forever in silence)."""
        failure = classify_write_failure(exc)
        if failure is None:
            raise exc
        self._outages.failed(failure, holding)
        if failure.kind is FailureKind.CONFLICT:
            self.stats.write_conflicts += 1
            delay_s = Backoff(
                CONFLICT_RETRY_BASE_SECONDS, CONFLICT_RETRY_CAP_SECONDS
            ).next_delay_s()
            return delay_s, held
        self.stats.write_failures += 1
        if not held:
            self._held += 1
        if not self._health.commits_failing:
            self._health.commits_failing = True
            self._health.evaluate()
        return backoff.next_delay_s(), True

    def _write_succeeded(self, held: bool) -> None:
        """A batch committed; the outage ends once no batch is held (a small batch going
        through while a big one is refused is no recovery)."""
        if held:
            self._held -= 1
        if self._held > 0:
            return
        self._outages.succeeded()
        if self._health.commits_failing:
            self._health.commits_failing = False
            self._on_recovered()
            self._health.evaluate()

    async def commit(
        self,
        messages: list[InboundMessage],
        beats: list[Heartbeat],
        offset_s: float,
    ) -> tuple[DecodedBatch, BatchResult, Sequence[Reading], datetime]:
        """Decode and store one batch, holding it and retrying with backoff for as long as
        the database is away or refuses it."""
        backoff = Backoff(cap_s=COMMIT_RETRY_CAP_SECONDS)
        topics = topics_of(messages)
        device_ids = {t.device_id for t in topics if isinstance(t, Topic)}
        held = False
        pool = self._pool
        assert pool is not None, "connect() first"
        while True:
            try:
                async with pool.acquire() as conn:
                    devices = await self._registry.resolve(conn, device_ids)
                    decoded = decode_messages(messages, topics, devices, self.config.max_future,
                                              self.config.max_age, offset_s)  # fmt: skip
                    committed_at = self._clock.now()
                    result, stored = await self._write(conn, decoded, beats, committed_at)
            except Exception as exc:
                delay_s, held = self._write_failed(exc, len(messages) + len(beats), backoff, held)
                if held:
                    # Fresh sessions for the retry: a connection broken by a restart is
                    # useless, and a session opened while the database was read-only
                    # stays read-only after it is made writable again.
                    await pool.expire_connections()
                await asyncio.sleep(delay_s)
                continue
            self._write_succeeded(held)
            return decoded, result, stored, committed_at

    async def _write(
        self,
        conn: asyncpg.Connection,
        decoded: DecodedBatch,
        beats: list[Heartbeat],
        committed_at: datetime,
    ) -> tuple[BatchResult, Sequence[Reading]]:
        """Write a decoded batch; a row the database refuses is isolated into dead letters.
        Returns what was written and the readings stored."""
        try:
            result = await write_batch(
                conn, decoded.rows, decoded.dead_letters, heartbeats=beats,
                committed_at=committed_at,
                dead_letters_per_device_hour=self.config.dead_letters_per_device_hour,
            )  # fmt: skip
            return result, decoded.readings
        except Exception as exc:
            if not is_row_refusal(exc):
                raise
            # Validation should make this impossible; if it happens, one bad row must not
            # block the stream forever. Each row alone, the refused ones kept as dead
            # letters with the database's reason.
            sqlstate = getattr(exc, "sqlstate", None) or "client"
            log.error(kv("batch_refused_by_database", sqlstate=sqlstate, rows=len(decoded.rows)))
            return await self._write_isolating(conn, decoded, beats, committed_at,
                                               f"storage: {sqlstate}")  # fmt: skip

    async def _write_isolating(
        self,
        conn: asyncpg.Connection,
        decoded: DecodedBatch,
        beats: list[Heartbeat],
        committed_at: datetime,
        reason: str,
    ) -> tuple[BatchResult, Sequence[Reading]]:
        inserted = duplicates = 0
        dead = list(decoded.dead_letters)
        stored: list[Reading] = []
        for reading, source, row in zip(decoded.readings, decoded.sources, decoded.rows,
                                        strict=True):  # fmt: skip
            try:
                part = await write_batch(conn, [row], [])
            except Exception as exc:
                if not is_row_refusal(exc):
                    raise
                dead.append(DeadLetter(source.topic, source.payload, reason,
                                       reading.received_at, reading.device_id))  # fmt: skip
                decoded.reasons["storage"] += 1
                decoded.rejected[reading.device_id] += 1
                continue
            inserted += part.inserted
            duplicates += part.duplicates
            stored.append(reading)
        letters = await write_batch(
            conn, [], dead, heartbeats=beats, committed_at=committed_at,
            dead_letters_per_device_hour=self.config.dead_letters_per_device_hour,
        )  # fmt: skip
        return BatchResult(inserted, duplicates, len(dead), letters.dead_letters_kept), stored
