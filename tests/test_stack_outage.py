"""`eldercare run` survives its database restarting, and its broker restarting.

A real `eldercare run` process on a PostgreSQL cluster of the test's own (the shared
servers are never touched) and a Mosquitto of the shipped config. Readings are published
before, during and after a database outage; the process must stay up, its API must keep
answering (not ready while the database is away), every reading must be stored exactly
once, and the outage must cost a line or so per stage, not tracebacks.
"""

from __future__ import annotations

import asyncio
import os
import re
import subprocess
import sys
import time
from collections import Counter
from collections.abc import AsyncIterator, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import aiohttp
import asyncpg
import pytest

from core.readings import DeviceType
from ingest.wire import format_ts, topic_for
from simulators.publisher import DevicePublisher
from storage.migrate import migrate
from tests.ingest_helpers import register_home, wait_until
from tests.private_postgres import PrivateCluster, create_private_cluster
from tests.processes import stop_process
from tests.services import SIMULATOR_USER, Mosquitto, free_port, unique_name

pytestmark = pytest.mark.slow

# The issue saw the process die in a 60 s outage; 20 s shows the same (every stage meets
# refused connections and restarts) in a third of the time. Override to try longer ones.
OUTAGE_S = float(os.environ.get("ELDERCARE_TEST_OUTAGE_S", "20"))
BROKER_OUTAGE_S = 10.0
METER = "meter-out"
PROBE = "probe-out"


@pytest.fixture
def cluster() -> Iterator[PrivateCluster]:
    """A started PostgreSQL cluster of this test's own."""
    cluster = create_private_cluster()
    cluster.start()
    try:
        yield cluster
    finally:
        cluster.remove()


@pytest.fixture
async def cluster_db(cluster: PrivateCluster) -> AsyncIterator[str]:
    """A migrated database in the private cluster, with one home and its devices."""
    admin = await asyncpg.connect(cluster.admin_url)
    await admin.execute("CREATE DATABASE eldercare")
    await admin.close()
    url = cluster.url("eldercare")
    conn = await asyncpg.connect(url)
    try:
        await migrate(conn)
        await register_home(conn, "home-out", {METER: (DeviceType.WATER_METER, None),
                                               PROBE: (DeviceType.PIR, None)})  # fmt: skip
    finally:
        await conn.close()
    yield url


def readings(first: int, count: int) -> list[tuple[str, dict[str, object]]]:
    """Meter readings with seq first..first+count-1, a second apart, in the past 2 hours."""
    start = datetime.now(UTC) - timedelta(hours=2)
    topic = topic_for(METER, "telemetry")
    return [
        (topic, {"ts": format_ts(start + timedelta(seconds=i)), "seq": i, "volume_l": i * 0.1})
        for i in range(first, first + count)
    ]


async def stored(url: str, device: str = METER, from_seq: int = 0) -> int:
    conn = await asyncpg.connect(url)
    try:
        count = await conn.fetchval(
            "SELECT count(*) FROM readings WHERE device_id = $1 AND seq >= $2", device, from_seq
        )
        return int(count)
    finally:
        await conn.close()


async def http_status(session: aiohttp.ClientSession, url: str) -> int | None:
    """The status of a GET, or None when nothing answers."""
    try:
        async with session.get(url, timeout=aiohttp.ClientTimeout(total=5)) as response:
            return response.status
    except (aiohttp.ClientError, TimeoutError):
        return None


async def publish(broker: Mosquitto, messages: list[tuple[str, dict[str, object]]]) -> None:
    """Publish and wait for the broker's acknowledgements, as a device would."""
    publisher = DevicePublisher(broker.target(SIMULATOR_USER), unique_name("pub"))
    await asyncio.to_thread(publisher.connect)
    try:
        assert await publisher.publish_all_async(messages) == len(messages)
    finally:
        await asyncio.to_thread(publisher.close)


async def probe_until_stored(broker: Mosquitto, url: str, first_seq: int) -> None:
    """Publish motion probes until one is stored: ingest is subscribed and writing."""
    seq = first_seq

    async def one_stored() -> bool:
        nonlocal seq
        message = {"ts": format_ts(datetime.now(UTC)), "seq": seq, "motion": True}
        seq += 1
        try:
            await publish(broker, [(topic_for(PROBE, "telemetry"), message)])
        except OSError:  # the broker is not listening yet
            return False
        await asyncio.sleep(0.5)
        return await stored(url, PROBE, first_seq) > 0

    await wait_until(one_stored, timeout_s=120, what="ingest storing again")


def start_stack(
    db_url: str, broker: Mosquitto, port: int, workdir: Path
) -> subprocess.Popen[bytes]:
    """`eldercare run` as its own process, logging to workdir/run.log."""
    env = {
        **os.environ,
        "ELDERCARE_DATABASE_URL": db_url,
        "ELDERCARE_MQTT_URL": broker.url(),
        "ELDERCARE_API_PORT": str(port),
        "ELDERCARE_DATA_DIR": str(workdir / "data"),
        "ELDERCARE_INGEST_CLIENT_ID": unique_name("ingest"),
        "ELDERCARE_INGEST_SHARE_GROUP": unique_name("grp"),
        "ELDERCARE_LOG_LEVEL": "INFO",
    }
    with (workdir / "run.log").open("ab") as log:  # the child keeps its own descriptor
        return subprocess.Popen(
            [sys.executable, "-m", "eldercare", "run"], env=env, stdout=log, stderr=log
        )


async def test_eldercare_run_survives_a_database_restart_and_a_broker_restart(
    cluster: PrivateCluster, cluster_db: str, mosquitto: Mosquitto, tmp_path: Path
) -> None:
    port = free_port()
    api = f"http://127.0.0.1:{port}"
    process = start_stack(cluster_db, mosquitto, port, tmp_path)
    before, during, after = 1000, 1500, 1000
    try:
        async with aiohttp.ClientSession() as session:

            async def ready() -> bool:
                assert process.poll() is None, _tail(tmp_path)
                return await http_status(session, api + "/readyz") == 200

            await wait_until(ready, timeout_s=120, what="eldercare run ready")
            await probe_until_stored(mosquitto, cluster_db, 0)
            await publish(mosquitto, readings(0, before))
            await wait_until(lambda: _count_is(cluster_db, before), timeout_s=60, what="before")

            # The database goes away; devices keep publishing through it.
            outage_log_start = _log_size(tmp_path)
            cluster.stop()
            stopped_at = time.monotonic()
            chunks = 5
            for i in range(chunks):
                part = during // chunks
                await publish(mosquitto, readings(before + i * part, part))
                await asyncio.sleep(OUTAGE_S / chunks)
            assert process.poll() is None, "eldercare run died during the outage\n" + _tail(
                tmp_path
            )
            assert await http_status(session, api + "/healthz") == 200, "the API went away"
            assert await http_status(session, api + "/readyz") == 503, "ready without a database"
            cluster.start()
            restarted_at = time.monotonic()
            await publish(mosquitto, readings(before + during, after))
            total = before + during + after
            await wait_until(lambda: _count_is(cluster_db, total), timeout_s=180, what="all stored")
            recovered_s = time.monotonic() - restarted_at
            await wait_until(ready, timeout_s=60, what="ready again")
            print(f"\ndatabase outage {restarted_at - stopped_at:.1f} s: {total:,} readings"
                  f" stored once each, all in {recovered_s:.1f} s after it came back")  # fmt: skip
            outage_lines = _log_lines(tmp_path, outage_log_start)

            # The broker restarts too; ingest resubscribes and carries on.
            mosquitto.stop()
            await asyncio.sleep(BROKER_OUTAGE_S)
            assert process.poll() is None, "eldercare run died with the broker\n" + _tail(tmp_path)
            assert await http_status(session, api + "/healthz") == 200
            mosquitto.start()
            await probe_until_stored(mosquitto, cluster_db, 1000)
            await publish(mosquitto, readings(total, 500))
            await wait_until(lambda: _count_is(cluster_db, total + 500), timeout_s=60,
                             what="stored after the broker restart")  # fmt: skip
            assert await http_status(session, api + "/readyz") == 200
            assert process.poll() is None
    finally:
        await stop_process(process)
    assert process.returncode in (0, 130), _tail(tmp_path)

    conn = await asyncpg.connect(cluster_db)
    try:
        seqs = await conn.fetch("SELECT seq FROM readings WHERE device_id = $1 ORDER BY seq", METER)
    finally:
        await conn.close()
    assert [r["seq"] for r in seqs] == list(range(total + 500)), "lost or duplicated readings"

    # An outage is a line or two per stage: no traceback, no line per retry.
    text = "\n".join(outage_lines)
    assert "Traceback" not in text and "never retrieved" not in text, text
    reports = Counter(
        (match[1], match[2])  # (logger, event) of each line reporting an error
        for line in outage_lines
        if (match := re.search(r" (?:WARNING|ERROR) (\S+) (\S+) .*error=", line))
    )
    assert reports, "the outage went unreported"
    # Twice at most: ingest commits two batches at once, and each may meet the outage.
    assert max(reports.values()) <= 2, reports
    assert "_recovered" in text


async def _count_is(url: str, n: int) -> bool:
    try:
        return await stored(url) >= n
    except (OSError, asyncpg.PostgresError):
        return False


def _log_size(workdir: Path) -> int:
    return (workdir / "run.log").stat().st_size


def _log_lines(workdir: Path, start: int) -> list[str]:
    with (workdir / "run.log").open("rb") as log:
        log.seek(start)
        return log.read().decode(errors="replace").splitlines()


def _tail(workdir: Path, lines: int = 60) -> str:
    text = (workdir / "run.log").read_text(errors="replace").splitlines()
    return "\n".join(text[-lines:])
