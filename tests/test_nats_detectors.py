"""Past one machine: detector workers each own a share of the committed-readings
partitions (by home) and together find what one process finds (real nats-server, real
PostgreSQL, real ingest workers between them)."""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path

import asyncpg

from core.committed import owned_partitions, partition_of
from core.kinds import Category
from core.readings import DeviceType
from core.registry import RegistryRow
from detectors.backtest import run_backtest
from eldercare.commands.detectors import run_detector_worker
from ingest.nats_client import NatsTarget
from ingest.wire import format_ts, topic_for
from storage.registry import add_device, add_home
from tests.ingest_helpers import (
    CLUSTER_READY_TIMEOUT_S,
    INSTALLED_LONG_AGO,
    running_ingest,
    wait_until,
)
from tests.nats_helpers import device_publisher, nats_cluster

HOMES = 120
PARTITIONS = 16
Key = tuple[str, str, datetime, bool]


@asynccontextmanager
async def detector_worker(db_url: str, target: NatsTarget, index: int) -> AsyncIterator[None]:
    """Detector worker `index` of 2, running until the block ends (a stop or a crash:
    nothing is saved on the way out that was not saved already)."""
    mine = set(owned_partitions(index, 2, target.partitions))
    ready = asyncio.Event()
    task = asyncio.create_task(
        run_detector_worker(db_url, target, index, 2, mine, ready), name=f"detector-{index}"
    )
    try:
        await asyncio.wait_for(ready.wait(), 60)
        yield
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task


def smoke_messages(
    homes: range, start: datetime, seq: int, alarm: bool
) -> list[tuple[str, dict[str, object]]]:
    """Each home's smoke sensor reporting alarm (or its end), a second apart."""
    return [
        (
            topic_for(f"smoke-{h:03d}", "telemetry"),
            {"ts": format_ts(start + timedelta(seconds=h)), "seq": seq, "alarm": alarm},
        )
        for h in homes
    ]


async def stored_findings(db: asyncpg.Connection) -> list[Key]:
    rows = await db.fetch(
        "SELECT home_id, kind, at, clears FROM findings WHERE category <> 'system'"
    )
    return sorted((r["home_id"], r["kind"], r["at"], r["clears"]) for r in rows)


async def test_two_detector_workers_over_partitions_find_what_one_backtest_finds(
    db: asyncpg.Connection, db_url: str, tmp_path: Path
) -> None:
    rows = []
    for h in range(HOMES):
        await add_home(db, f"home-{h:03d}", "Asia/Shanghai")
        await add_device(db, f"smoke-{h:03d}", DeviceType.SMOKE, f"home-{h:03d}", "kitchen",
                         installed_at=INSTALLED_LONG_AGO)  # fmt: skip
        rows.append(
            RegistryRow(
                f"home-{h:03d}", f"smoke-{h:03d}", DeviceType.SMOKE, "kitchen", "Asia/Shanghai"
            )
        )
    start = datetime.now(UTC).replace(microsecond=0) - timedelta(minutes=30)
    # Every home's alarm; then, while worker 1 is down, two homes in three clear theirs.
    first = smoke_messages(range(HOMES), start, 1, True)
    second = smoke_messages(range(0, HOMES, 3), start + timedelta(minutes=5), 2, False)
    second += smoke_messages(range(1, HOMES, 3), start + timedelta(minutes=5), 2, False)
    recording = tmp_path / "recording.jsonl"
    recording.write_text(
        "".join(
            json.dumps({"topic": t, "payload": p}, separators=(",", ":")) + "\n"
            for t, p in sorted(first + second, key=lambda m: str(m[1]["ts"]))
        )
    )
    expected = sorted(
        (f.home_id, f.kind, f.at, f.clears)
        for f in run_backtest(rows, recording).findings
        if f.category is not Category.SYSTEM
    )
    assert len(expected) == HOMES + len(second)
    # Every partition has homes, and both workers have some.
    assert {partition_of(f"home-{h:03d}", PARTITIONS) for h in range(HOMES)} == set(
        range(PARTITIONS)
    )

    async def found(n: int) -> bool:
        return len(await stored_findings(db)) >= n

    with nats_cluster(tmp_path / "nats", 1) as cluster:
        target = NatsTarget(cluster.urls, partitions=PARTITIONS, ack_wait_s=5.0)
        async with (
            running_ingest(
                db_url, target, client_id="ingest-a", ready_timeout_s=CLUSTER_READY_TIMEOUT_S
            ),
            running_ingest(
                db_url, target, client_id="ingest-b", ready_timeout_s=CLUSTER_READY_TIMEOUT_S
            ),
            detector_worker(db_url, target, 0),
            device_publisher(cluster.nodes[0]) as pub,
        ):
            async with detector_worker(db_url, target, 1):
                await pub.publish_all_async(first)
                await wait_until(lambda: found(HOMES), 60, "every home's smoke finding")
            # Worker 1 is gone; its partitions' batches wait in the stream meanwhile.
            await pub.publish_all_async(second)
            await asyncio.sleep(1.0)
            async with detector_worker(db_url, target, 1):
                await wait_until(lambda: found(len(expected)), 60, "the clearing findings")
                await asyncio.sleep(1.0)  # a duplicate would show now
    assert await stored_findings(db) == expected
