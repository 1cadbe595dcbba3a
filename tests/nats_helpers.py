"""NATS clusters and MQTT devices publishing into them, for the tests past one machine."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager, contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path

import asyncpg

from core.readings import DeviceType
from eldercare.nats_cluster import NatsCluster, NatsNode, make_cluster
from ingest.wire import format_ts, topic_for
from simulators.publisher import DevicePublisher
from storage.registry import add_device, add_home
from tests.ingest_helpers import INSTALLED_LONG_AGO
from tests.services import unique_name

START = datetime(2026, 11, 29, 0, 0, tzinfo=UTC)


@contextmanager
def nats_cluster(workdir: Path, size: int = 3) -> Iterator[NatsCluster]:
    """A running loopback cluster, stopped after the block."""
    cluster = make_cluster(workdir, size)
    try:
        cluster.start()
        yield cluster
    finally:
        cluster.stop()


@asynccontextmanager
async def device_publisher(node: NatsNode) -> AsyncIterator[DevicePublisher]:
    """A device connection to one node's MQTT listener."""
    pub = DevicePublisher(node.mqtt_target(), unique_name("pub"))
    await asyncio.to_thread(pub.connect)
    try:
        yield pub
    finally:
        await asyncio.to_thread(pub.close)


async def register_pir_homes(db: asyncpg.Connection, homes: int) -> list[str]:
    """`homes` homes with one motion sensor each; returns the device ids."""
    devices = []
    for h in range(homes):
        await add_home(db, f"home-{h:03d}", "Asia/Shanghai")
        device = f"pir-{h:03d}"
        await add_device(db, device, DeviceType.PIR, f"home-{h:03d}", "hall",
                         installed_at=INSTALLED_LONG_AGO)  # fmt: skip
        devices.append(device)
    return devices


def motion_messages(
    devices: list[str], first_seq: int, count: int
) -> list[tuple[str, dict[str, object]]]:
    """`count` motion readings spread over the devices, seq numbers from `first_seq`."""
    out: list[tuple[str, dict[str, object]]] = []
    for n in range(first_seq, first_seq + count):
        device = devices[n % len(devices)]
        at = START + timedelta(seconds=n)
        out.append(
            (topic_for(device, "telemetry"), {"ts": format_ts(at), "seq": n, "motion": True})
        )
    return out


async def readings_count(db: asyncpg.Connection) -> tuple[int, int]:
    """Rows in readings, and distinct (device, ts, seq) among them."""
    row = await db.fetchrow(
        "SELECT count(*) AS n, count(DISTINCT (device_id, ts, seq)) AS d FROM readings"
    )
    assert row is not None
    return int(row["n"]), int(row["d"])
