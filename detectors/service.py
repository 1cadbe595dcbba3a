"""The detector stage, live: the I/O shell around the pure engine.

Each batch ingest commits is handed over by `on_committed` (same process, a
`CommittedBatch`: readings, dead-letter counts, ingest heartbeats) and fed to the engine
in (ts, seq) order, arriving at the injected clock's now; ingest's pipeline status
changes come through `on_pipeline_status`; absence rules run on a timer from the same
clock, so the pipeline's health and the homes' silences are judged on one clock.
Findings are stored together with the state of the homes that raised them, in one
transaction, so after a crash the engine restarts from that state, replays the readings
stored since, and raises nothing twice (a replayed finding has the same home, kind and
time, which the findings table's key turns into a no-op).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Awaitable, Callable, Sequence
from datetime import UTC, datetime, timedelta

import asyncpg

from core.clock import Clock
from core.logs import kv
from core.pipeline import CommittedBatch, PipelineStatus
from core.readings import Reading
from core.telemetry import DetectorTelemetry
from detectors.baseline import fit_baseline
from detectors.engine import Engine
from detectors.findings import Finding
from detectors.settings import EngineSettings
from storage.findings import (
    current_away_periods,
    insert_findings,
    load_detector_states,
    save_detector_states,
)
from storage.pool import create_pool
from storage.readings import registry_rows, replay_readings

log = logging.getLogger("eldercare.detectors")

TICK_INTERVAL_SECONDS = 5.0  # absence rules are judged in minutes; 5 s costs nothing
SAVE_INTERVAL_SECONDS = 60.0  # state of quiet homes is saved this often (replay length)
REGISTRY_REFRESH_SECONDS = 300.0
REFIT_INTERVAL_SECONDS = 3600.0  # each home's baseline is refitted at most daily anyway
# Batches held for the engine before we stop queueing and replay from the database
# instead: the queue stays bounded and nothing is lost, only re-read.
MAX_QUEUED_BATCHES = 10_000
# A home with no saved state learns from this much stored history first.
LEARN_DAYS = 28
PIPELINE_STATE_KEY = "_engine"
# Findings older than this, raised while a home learns from stored history, are the past.
HISTORY_HORIZON = timedelta(hours=1)

FindingsListener = Callable[[Sequence[Finding]], Awaitable[None]]


def _utc(epoch_s: float) -> datetime:
    return datetime.fromtimestamp(epoch_s, UTC)


class DetectorService:
    """Runs the detectors for every registered home until cancelled."""

    def __init__(
        self,
        database_url: str,
        clock: Clock,
        *,
        settings: EngineSettings | None = None,
        on_findings: FindingsListener | None = None,
        tick_interval_s: float = TICK_INTERVAL_SECONDS,
        telemetry: DetectorTelemetry | None = None,
        owns_home: Callable[[str], bool] | None = None,
        worker: str = "",
    ) -> None:
        """`owns_home` (past one machine): the homes this worker runs, a share of the
        partitions; the others are another worker's. `worker` names this share in the
        saved pipeline state, so workers do not overwrite each other's."""
        self._telemetry = telemetry or DetectorTelemetry.unexported()
        self._database_url = database_url
        self._owns_home = owns_home
        self._pipeline_key = f"{PIPELINE_STATE_KEY}-{worker}" if worker else PIPELINE_STATE_KEY
        self._clock = clock
        # Refits run in a worker thread here, never inline on the event loop.
        self._settings = settings or EngineSettings(auto_refit=False)
        self._on_findings = on_findings
        self._tick_interval_s = tick_interval_s
        # What ingest handed over, each with when (time.monotonic()), for the lag metric.
        self._inbox: list[tuple[CommittedBatch | PipelineStatus, float]] = []
        self._overflowed = False
        self._wakeup = asyncio.Event()
        self._engine: Engine | None = None
        self._through: dict[str, datetime] = {}  # per home: latest reading ts fed
        self._home_of: dict[str, str] = {}  # device id → home id
        self._dirty: set[str] = set()
        self._restored: set[str] = set()  # homes whose state came from storage or a replay
        self.findings_stored = 0

    def on_committed(
        self, batch: CommittedBatch | Sequence[Reading], committed_s: float | None = None
    ) -> None:
        """Ingest's hook: queue a committed batch (never blocks). A plain sequence of
        readings (ingest's older hook, with its commit time) is taken as a batch of them."""
        if not isinstance(batch, CommittedBatch):
            at = self._clock.now() if committed_s is None else _utc(committed_s)
            batch = CommittedBatch(tuple(batch), at)
        if len(self._inbox) >= MAX_QUEUED_BATCHES:
            self._overflowed = True
            return
        self._inbox.append((batch, time.monotonic()))
        self._wakeup.set()

    def on_pipeline_status(self, status: PipelineStatus) -> None:
        """Ingest's hook: its pipeline stopped delivering, or delivers again (never
        blocks; a status is never dropped: it is what keeps advisors from false pages)."""
        self._inbox.append((status, time.monotonic()))
        self._wakeup.set()

    @property
    def pipeline_paused(self) -> bool:
        """True while the absence rules are paused (the pipeline is known not to deliver)."""
        return self._engine is not None and self._engine.pipeline_suspended

    @property
    def missing_messages(self) -> int:
        """Messages devices numbered that never arrived (for the metrics)."""
        return 0 if self._engine is None else self._engine.missing_messages

    def nudge(self) -> None:
        """Run the absence rules now rather than at the next tick (the clock moved)."""
        self._wakeup.set()

    async def run(self, ready: asyncio.Event | None = None) -> None:
        """Restore, replay, then follow committed batches and the clock until cancelled."""
        pool = await create_pool(self._database_url, min_size=1, max_size=2)
        try:
            async with pool.acquire() as conn:
                await self._build_engine(conn)
                assert self._engine is not None
                # A restart is not an outage until the heartbeat fails to come back.
                self._engine.restarted(self._clock.now())
                await self._replay(conn, self._replay_start())
            if ready is not None:
                ready.set()
            async with asyncio.TaskGroup() as tasks:
                tasks.create_task(self._follow(pool), name="detectors-follow")
                tasks.create_task(self._refit_periodically(), name="detectors-refit")
        finally:
            await pool.close()

    # -- engine lifetime ----------------------------------------------------------------
    async def _build_engine(self, conn: asyncpg.Connection) -> None:
        """(Re)build the engine from the registry, keeping the state of known homes."""
        rows = await registry_rows(conn)
        if self._owns_home is not None:
            rows = [row for row in rows if self._owns_home(row.home_id)]
        previous = self._engine
        engine = Engine(rows, self._settings)
        if previous is not None:
            engine.restore(previous.to_dict())
            # Homes registered while running are live from their first reading.
            self._restored.update(engine.home_ids)
        else:
            saved = await load_detector_states(conn)
            engine_part = saved.pop(self._pipeline_key, None)
            homes = {h: state for h, (state, _) in saved.items() if h in set(engine.home_ids)}
            if engine_part is not None:
                engine.restore({**engine_part[0], "homes": homes})
            self._through = {h: through for h, (_, through) in saved.items()}
            self._restored = set(homes)
        for away in await current_away_periods(conn, self._clock.now()):
            if away.home_id in set(engine.home_ids):
                engine.declare_away(away.home_id, away.starts_at, away.ends_at)
        self._home_of = {row.device_id: row.home_id for row in rows}
        self._engine = engine
        log.info(kv("detectors_ready", homes=len(engine.home_ids), devices=len(rows)))

    def _replay_start(self) -> datetime:
        learn_from = self._clock.now() - timedelta(days=LEARN_DAYS)
        assert self._engine is not None
        starts = [self._through.get(h, learn_from) for h in self._engine.home_ids]
        return min(starts, default=learn_from)

    async def _replay(self, conn: asyncpg.Connection, after: datetime) -> None:
        """Feed stored readings after `after` that the saved state has not seen."""
        assert self._engine is not None
        started, count = time.monotonic(), 0
        findings: list[Finding] = []
        async with conn.transaction():
            async for reading in replay_readings(conn, after):
                home_id = self._home_of.get(reading.device_id)
                if home_id is None or reading.ts <= self._through.get(home_id, after):
                    continue
                # Stored history: when it arrived on our clock is not kept; its own time
                # stands in (the wall clock of the day it was stored may not be the
                # clock the detectors run on, as in the demo's catch-up).
                self._engine.feed_into(reading, findings, reading.ts.timestamp())
                self._note(home_id, reading.ts)
                count += 1
        # A home with no saved state is learning from its stored history: what its old
        # readings show is recorded but not sent to the alert stage. The last hour, and
        # what is true now (the tick below), are sent, as for every home.
        learning = {h for h in self._engine.home_ids if h not in self._restored}
        recent = self._clock.now() - HISTORY_HORIZON
        past = [f for f in findings if f.home_id in learning and f.at < recent]
        live = [f for f in findings if f.home_id not in learning or f.at >= recent]
        live.extend(self._engine.tick(self._clock.now()))
        await self._store(conn, past, history=True)
        await self._store(conn, live)
        self._restored.update(self._engine.home_ids)
        log.info(kv("detectors_replayed", readings=count, since=after.isoformat(),
                    seconds=round(time.monotonic() - started, 1)))  # fmt: skip

    def _note(self, home_id: str, ts: datetime) -> None:
        if ts > self._through.get(home_id, ts - timedelta(seconds=1)):
            self._through[home_id] = ts
        self._dirty.add(home_id)

    # -- following ingest and the clock -------------------------------------------------
    async def _follow(self, pool: asyncpg.Pool) -> None:
        last_save = last_registry = time.monotonic()
        while True:
            with contextlib.suppress(TimeoutError):
                # Not wait_for: on 3.11 it can lose a stop (eldercare/stopping.py).
                async with asyncio.timeout(self._tick_interval_s):
                    await self._wakeup.wait()
            self._wakeup.clear()
            assert self._engine is not None
            async with pool.acquire() as conn:
                unknown_before = self._engine.unknown_devices
                if self._overflowed:
                    log.warning(kv("detectors_queue_overflow", action="replaying from storage"))
                    # Readings are re-read from storage; statuses are kept (never dropped).
                    self._inbox = [i for i in self._inbox if isinstance(i[0], PipelineStatus)]
                    self._overflowed = False
                    await self._replay(conn, min(self._through.values(), default=self._clock.now()))
                findings, handed_over = self._drain()
                findings.extend(self._engine.tick(self._clock.now()))
                await self._store(conn, findings)
                judged = time.monotonic()
                for at in handed_over:
                    self._telemetry.lag.observe(judged - at)
                now = time.monotonic()
                if self._engine.unknown_devices > unknown_before or (
                    now - last_registry > REGISTRY_REFRESH_SECONDS
                ):
                    await self._save(conn, self._dirty)
                    await self._build_engine(conn)
                    last_registry = now
                if now - last_save > SAVE_INTERVAL_SECONDS:
                    await self._save(conn, self._dirty)
                    last_save = now

    def _drain(self) -> tuple[list[Finding], list[float]]:
        """Feed every queued batch and status, in the order ingest handed them over;
        returns the findings, and when each batch fed was handed over."""
        engine = self._engine
        assert engine is not None
        items, self._inbox = self._inbox, []
        arrived = self._clock.now().timestamp()  # on the clock the engine is ticked with
        findings: list[Finding] = []
        handed_over: list[float] = []
        for item, queued_at in items:
            if isinstance(item, PipelineStatus):
                findings.extend(engine.pipeline_status(item))
                continue
            handed_over.append(queued_at)
            findings.extend(engine.committed(item, arrived))
            for reading in item.readings:
                home_id = self._home_of.get(reading.device_id)
                if home_id is not None:
                    self._note(home_id, reading.ts)
        return findings, handed_over

    async def _store(
        self, conn: asyncpg.Connection, findings: list[Finding], history: bool = False
    ) -> None:
        """Findings and the state of the homes that raised them, atomically. `history`:
        found while learning from the past, stored as already seen by the alert stage."""
        if not findings:
            return
        homes = {f.home_id for f in findings}
        async with conn.transaction():
            taken_at = self._clock.now() if history else None
            self.findings_stored += await insert_findings(conn, findings, taken_at=taken_at)
            await self._save(conn, homes)
        if self._on_findings is not None and not history:
            await self._on_findings(findings)

    async def _save(self, conn: asyncpg.Connection, homes: set[str]) -> None:
        assert self._engine is not None
        engine = self._engine
        known = set(engine.home_ids)
        now = self._clock.now()
        rows = [(h, engine.home_state(h), self._through.get(h, now)) for h in homes if h in known]
        rows.append((self._pipeline_key, engine.engine_state(), now))
        await save_detector_states(conn, rows)
        self._dirty -= homes

    # -- learning -----------------------------------------------------------------------
    async def _refit_periodically(self) -> None:
        while True:
            await asyncio.sleep(REFIT_INTERVAL_SECONDS)
            await self.refit()

    async def refit(self) -> int:
        """Refit every home's baseline in a worker thread; returns how many were fitted."""
        assert self._engine is not None
        engine = self._engine
        work = [
            (h, engine.history(h), engine.home_settings(h), engine.is_sparse(h))
            for h in engine.home_ids
        ]
        fitted = await asyncio.to_thread(
            lambda: [
                (h, fit_baseline(hist, settings, sparse)) for h, hist, settings, sparse in work
            ]
        )
        count = 0
        for home_id, baseline in fitted:
            if baseline is not None and home_id in set(engine.home_ids):
                engine.set_baseline(home_id, baseline)
                count += 1
        log.info(kv("baselines_refitted", homes=count))
        return count
