"""Running a real ingest worker and a real publisher inside a test."""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from datetime import UTC, datetime, timedelta
from typing import Any

import asyncpg

from core.clock import Clock, WallClock
from core.readings import DeviceType
from core.settings import MqttTarget
from ingest.nats_client import NatsTarget
from ingest.service import CommitListener, IngestConfig, IngestService, StatusListener
from ingest.wire import format_ts
from simulators.publisher import DevicePublisher
from storage.registry import add_device, add_home
from tests.services import SIMULATOR_USER, Mosquitto, unique_name

# A NATS cluster just started elects its JetStream leaders before the worker's consumer
# can be made: seconds, and more on a loaded machine (CI once took over 15 s).
CLUSTER_READY_TIMEOUT_S = 90.0


@asynccontextmanager
async def running_ingest(
    db_url: str,
    target: MqttTarget | NatsTarget,
    *,
    client_id: str | None = None,
    on_committed: CommitListener | None = None,
    on_status: StatusListener | None = None,
    clock: Clock | None = None,
    ready_timeout_s: float = 15,
    **config: Any,
) -> AsyncIterator[IngestService]:
    """An ingest worker subscribed and ready, stopped when the block ends."""
    service = IngestService(
        IngestConfig(**{"client_id": client_id or unique_name("ingest"),
                        "share_group": unique_name("grp"), **config}),
        db_url, target, clock=clock or WallClock(), on_committed=on_committed,
        on_status=on_status,
    )  # fmt: skip
    ready = asyncio.Event()
    task = asyncio.create_task(service.run(ready), name="test-ingest")
    try:
        await _until_ready(ready, task, ready_timeout_s)
        yield service
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task


async def _until_ready(ready: asyncio.Event, task: asyncio.Task[None], timeout_s: float) -> None:
    """Wait for the worker's ready; a worker that stops first fails the test with its own
    error, and one not ready in time raises TimeoutError saying where it waits."""
    readied = asyncio.create_task(ready.wait())
    try:
        await asyncio.wait({readied, task}, timeout=timeout_s, return_when=asyncio.FIRST_COMPLETED)
    finally:
        readied.cancel()
    if ready.is_set():
        return
    if task.done():
        task.result()  # its error, if it had one
        raise AssertionError("the ingest worker stopped before it was ready")
    where = "".join(f"\n  {frame}" for frame in task.get_stack())
    raise TimeoutError(f"the ingest worker not ready after {timeout_s} s; it waits in:{where}")


@asynccontextmanager
async def publisher(broker: Mosquitto) -> AsyncIterator[DevicePublisher]:
    """A connected publisher with the simulator's credentials."""
    pub = DevicePublisher(broker.target(SIMULATOR_USER), unique_name("pub"))
    await asyncio.to_thread(pub.connect)
    try:
        yield pub
    finally:
        await asyncio.to_thread(pub.close)


async def wait_until(
    condition: Callable[[], Awaitable[bool]], timeout_s: float = 30, what: str = "condition"
) -> None:
    """Poll `condition` until it holds; fail the test with `what` if it never does."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if await condition():
            return
        await asyncio.sleep(0.05)
    raise AssertionError(f"timed out after {timeout_s} s waiting for {what}")


# Devices the tests register count as installed long ago, so the suite's fixed message
# times are not refused as older than the device (stale_timestamp); the tests of that
# rule register their devices at a time of their choosing.
INSTALLED_LONG_AGO = datetime(2025, 1, 1, tzinfo=UTC)


async def register_home(
    conn: asyncpg.Connection,
    home_id: str,
    devices: dict[str, tuple[DeviceType, str | None]],
    *,
    installed_at: datetime = INSTALLED_LONG_AGO,
) -> None:
    """A home with the given devices: {device_id: (type, room)}."""
    await add_home(conn, home_id, "Asia/Shanghai")
    for device_id, (device_type, room) in devices.items():
        await add_device(conn, device_id, device_type, home_id, room, installed_at=installed_at)


def ts(minutes_ago: float = 0.0) -> str:
    """An RFC 3339 timestamp some minutes before now."""
    return format_ts(datetime.now(UTC) - timedelta(minutes=minutes_ago))
