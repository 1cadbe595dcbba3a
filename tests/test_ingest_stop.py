"""`docker stop` on a busy ingest worker: SIGTERM stops the real `eldercare ingest`
process, however busy, and nothing the broker took from the devices is lost.

A KeyboardInterrupt raised at whatever bytecode was running (how SIGTERM used to stop
it) was now and then swallowed, or left the event loop waiting forever, so one stop is
no proof: the worker is stopped several times at random moments with messages flowing,
each time with a generous bound (a hang, not speed, is what fails). That failure was a
race (about one SIGTERM in ten under heavy load): this test can pass without the fix.
"""

from __future__ import annotations

import asyncio
import os
import random
import sys
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

import asyncpg
import pytest

from core.readings import DeviceType
from ingest.wire import format_ts, topic_for
from simulators.publisher import DevicePublisher
from tests.ingest_helpers import register_home, wait_until
from tests.processes import stop_process
from tests.services import INGEST_USER, SIMULATOR_USER, Mosquitto, unique_name

pytestmark = pytest.mark.slow

METERS = [f"meter-stop-{i}" for i in range(20)]
STOPS = 5
STOP_BOUND_S = 60  # generous: the worker stops in a second or two; this catches a hang
CHUNK = 200  # messages per publish round trip (each acknowledged by the broker)


async def _readings(db: asyncpg.Connection) -> int:
    return int(await db.fetchval("SELECT count(*) FROM readings"))


async def test_sigterm_stops_a_busy_worker_and_loses_nothing(
    db: asyncpg.Connection, db_url: str, mosquitto: Mosquitto, tmp_path: Path
) -> None:
    await register_home(db, "home-stop", {m: (DeviceType.WATER_METER, None) for m in METERS})
    client_id = unique_name("stop")
    clean = {k: v for k, v in os.environ.items() if not k.startswith("ELDERCARE_")}
    env = clean | {"ELDERCARE_DATABASE_URL": db_url,
                   "ELDERCARE_MQTT_URL": mosquitto.url(INGEST_USER),
                   "ELDERCARE_MQTT_PROTOCOL": "5",  # as the bench that saw the hang
                   "ELDERCARE_INGEST_CLIENT_ID": client_id}  # fmt: skip

    async def start(n: int) -> asyncio.subprocess.Process:
        with (tmp_path / f"worker-{n}.log").open("wb") as log:
            return await asyncio.create_subprocess_exec(
                sys.executable, "-m", "eldercare", "ingest", env=env,
                stdout=asyncio.subprocess.DEVNULL, stderr=log,
            )  # fmt: skip

    # The first worker's heartbeat is back: its session and subscription exist, so the
    # broker keeps for it everything published from now on, worker running or not.
    worker = await start(0)
    await wait_until(lambda: _heartbeat_back(db, client_id), 60, "the worker's first heartbeat")

    published = 0  # acknowledged by the broker (QoS 1)
    publishing = True
    start_ts = datetime.now(UTC) - timedelta(hours=1)

    async def publish() -> None:
        nonlocal published
        devices = DevicePublisher(mosquitto.target(SIMULATOR_USER), unique_name("devices"))
        await asyncio.to_thread(devices.connect)
        try:
            while publishing:
                chunk = []
                for i in range(published, published + CHUNK):
                    at = format_ts(start_ts + timedelta(milliseconds=i))
                    chunk.append((topic_for(METERS[i % len(METERS)], "telemetry"),
                                  {"ts": at, "seq": i, "volume_l": i * 0.5}))  # fmt: skip
                published += await devices.publish_all_async(chunk)
        finally:
            await asyncio.to_thread(devices.close)

    publisher = asyncio.create_task(publish())
    try:
        for n in range(STOPS):
            if n > 0:
                worker = await start(n)
            # Taking messages (so the stop lands mid-batch, mid-commit or between).
            await wait_until(_more_than(db, await _readings(db)), 60, f"worker {n} committing")
            await asyncio.sleep(random.uniform(0, 1.5))
            await stop_process(worker, grace_s=STOP_BOUND_S)  # fails the test if it hangs
            log = (tmp_path / f"worker-{n}.log").read_text()
            assert worker.returncode == 130, f"worker {n} exited {worker.returncode}:\n{log}"
            assert "stop_timed_out" not in log, log
    finally:
        publishing = False
        await publisher
    # A fresh worker with the same client id takes what the broker kept for it meanwhile.
    worker = await start(STOPS)
    try:
        await wait_until(lambda: _reached(db, published), 120, f"all {published} readings")
    finally:
        await stop_process(worker, grace_s=STOP_BOUND_S)
    # All there, each once (a message redelivered after a stop is written idempotently).
    assert await _readings(db) == published
    assert await db.fetchval("SELECT count(*) FROM dead_letters") == 0


async def _heartbeat_back(db: asyncpg.Connection, worker: str) -> bool:
    sql = "SELECT count(*) FROM pipeline_heartbeats WHERE worker = $1"
    return int(await db.fetchval(sql, worker)) > 0


def _more_than(db: asyncpg.Connection, count: int) -> Callable[[], Awaitable[bool]]:
    async def check() -> bool:
        return await _readings(db) > count

    return check


async def _reached(db: asyncpg.Connection, count: int) -> bool:
    return await _readings(db) >= count


# A main that will not stop: it takes every cancellation for something else, as a
# library's wait_for on Python 3.11 now and then does.
STUBBORN = """
import asyncio, sys
from eldercare.stopping import run_until_stopped

async def main() -> None:
    print("up", flush=True)
    while True:
        try:
            await asyncio.sleep(3600)
        except asyncio.CancelledError:
            pass

run_until_stopped(main(), grace_s=float(sys.argv[1]))
"""


async def test_a_stop_that_does_not_finish_is_bounded_logged_and_exits() -> None:
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-c", STUBBORN, "1.0",
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
    )  # fmt: skip
    assert process.stdout is not None
    assert await asyncio.wait_for(process.stdout.readline(), 30) == b"up\n"
    process.terminate()
    try:
        _, err = await asyncio.wait_for(process.communicate(), STOP_BOUND_S)
    finally:
        if process.returncode is None:
            process.kill()
    assert process.returncode == 1
    assert b"stop_timed_out signal=SIGTERM" in err
    assert b"task Task-1 awaiting: guard" in err  # where it was stuck, for the operator
