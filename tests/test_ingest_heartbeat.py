"""Ingest's heartbeat through a real broker: the pipeline's health from positive evidence
(issue 10), on the one clock the pipeline is given (issue 11, point 15)."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

import asyncpg

from core.clock import AcceleratedClock
from core.pipeline import CommittedBatch, Heartbeat, PipelineProblem, PipelineStatus
from tests.ingest_helpers import running_ingest, wait_until
from tests.services import Mosquitto

# The pipeline's clock in these tests: a simulated time far from the wall clock, running
# 60 times faster, as in the demo. Nothing ingest stamps may come from the wall clock.
ORIGIN = datetime(2026, 3, 1, 8, 0, tzinfo=UTC)
HEARTBEAT_S = 0.2


async def _committed(db: asyncpg.Connection) -> int:
    return int(await db.fetchval("SELECT count(*) FROM pipeline_heartbeats"))


async def test_heartbeats_come_back_through_the_broker_and_are_committed_on_the_pipeline_clock(
    db: asyncpg.Connection, db_url: str, mosquitto: Mosquitto
) -> None:
    clock = AcceleratedClock(ORIGIN, 60)
    batches: list[CommittedBatch] = []
    statuses: list[PipelineStatus] = []
    async with running_ingest(db_url, mosquitto.target(), clock=clock, heartbeat_s=HEARTBEAT_S,
                              on_committed=batches.append,
                              on_status=statuses.append) as ingest:  # fmt: skip

        async def three() -> bool:
            return await _committed(db) >= 3

        await wait_until(three, what="three heartbeats committed")
        worker = ingest.config.client_id
    rows = await db.fetch("SELECT * FROM pipeline_heartbeats ORDER BY sent_at")
    assert {r["worker"] for r in rows} == {worker}
    seqs = [r["seq"] for r in rows]
    assert seqs == sorted(seqs) and len(set(seqs)) == len(seqs)
    for row in rows:
        assert row["sent_at"] < row["received_at"] <= row["committed_at"]
        # Simulated time, not the wall clock's.
        assert ORIGIN <= row["sent_at"] < ORIGIN + timedelta(days=1)
    handed_on = [beat for batch in batches for beat in batch.heartbeats]
    stored = [Heartbeat(r["worker"], r["seq"], r["sent_at"], r["received_at"]) for r in rows]
    assert sorted(handed_on, key=lambda b: b.seq) == stored[: len(handed_on)]
    assert all(ORIGIN <= b.committed_at < ORIGIN + timedelta(days=1) for b in batches)
    assert ingest.stats.heartbeat_round_trip_s is not None
    assert ingest.stats.heartbeat_round_trips >= 3
    assert statuses == []  # nothing ever went wrong: no transition to report


async def test_a_stopped_broker_is_reported_and_no_heartbeat_is_committed_until_it_is_back(
    db: asyncpg.Connection, db_url: str, mosquitto: Mosquitto
) -> None:
    statuses: list[PipelineStatus] = []

    def problems() -> list[PipelineProblem | None]:
        return [s.problem for s in statuses]

    async def reported(problem: PipelineProblem | None) -> bool:
        return bool(statuses) and statuses[-1].problem == problem

    async with running_ingest(db_url, mosquitto.target(), heartbeat_s=HEARTBEAT_S,
                              on_status=statuses.append) as ingest:  # fmt: skip

        async def flowing() -> bool:
            return await _committed(db) >= 2

        await wait_until(flowing, what="heartbeats flowing")
        await asyncio.to_thread(mosquitto.stop)
        await wait_until(lambda: reported(PipelineProblem.BROKER_DISCONNECTED),
                         what="broker_disconnected reported")  # fmt: skip
        assert not ingest.ready
        await asyncio.sleep(0.3)  # a heartbeat that came back just before may still commit
        before = await _committed(db)
        await asyncio.sleep(10 * HEARTBEAT_S)
        assert await _committed(db) == before, "a heartbeat was committed with no broker"
        await asyncio.to_thread(mosquitto.start)
        await wait_until(lambda: reported(None), what="delivering again")

        async def flowing_again() -> bool:
            return await _committed(db) > before

        await wait_until(flowing_again, what="heartbeats after the restart")
        assert ingest.ready
    assert problems() == [PipelineProblem.BROKER_DISCONNECTED, None]
    assert all(s.worker == ingest.config.client_id for s in statuses)
