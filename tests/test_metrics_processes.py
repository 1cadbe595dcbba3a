"""Processes that serve no API still show their figures: a lone `eldercare ingest` worker
and `eldercare alerts run` answer /metrics on 127.0.0.1:ELDERCARE_METRICS_PORT, each with
its own stage's metrics, run as real processes against the real database and broker."""

from __future__ import annotations

import asyncio
import os
import sys
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from datetime import UTC, datetime, timedelta

import aiohttp
import asyncpg
import pytest

from core.kinds import Category, Severity
from core.readings import DeviceType
from ingest.wire import format_ts, topic_for
from simulators.publisher import DevicePublisher
from storage.findings import insert_findings
from tests.ingest_helpers import register_home, wait_until
from tests.processes import stop_process
from tests.prometheus_text import parse_prometheus
from tests.services import INGEST_USER, SIMULATOR_USER, Mosquitto, free_port, unique_name
from tests.test_alert_support import Gateway, finding
from tests.test_alert_support import register_home as register_home_with_people

pytestmark = pytest.mark.slow

METER = "meter-lone"
READINGS = 12


@asynccontextmanager
async def eldercare(*args: str, env: dict[str, str]) -> AsyncIterator[None]:
    """`eldercare ARGS` as a process of its own, stopped (SIGTERM) when the block ends."""
    clean = {k: v for k, v in os.environ.items() if not k.startswith("ELDERCARE_")}
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "eldercare", *args, env=clean | env,
        stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.DEVNULL,
    )  # fmt: skip
    try:
        yield
    finally:
        await stop_process(process)


def scraper(
    http: aiohttp.ClientSession, port: int, holds: Callable[[dict[str, float]], bool]
) -> Callable[[], Awaitable[bool]]:
    """A wait_until condition: the process's /metrics answers and `holds`."""

    async def check() -> bool:
        try:
            async with http.get(f"http://127.0.0.1:{port}/metrics") as resp:
                return resp.status == 200 and holds(parse_prometheus(await resp.text()))
        except aiohttp.ClientConnectionError:
            return False  # not listening yet

    return check


async def test_a_lone_ingest_worker_counts_what_it_stored(
    db: asyncpg.Connection, db_url: str, mosquitto: Mosquitto
) -> None:
    await register_home(db, "home-lone", {METER: (DeviceType.WATER_METER, None)})
    port = free_port()
    env = {"ELDERCARE_DATABASE_URL": db_url, "ELDERCARE_MQTT_URL": mosquitto.url(INGEST_USER),
           "ELDERCARE_METRICS_PORT": str(port),
           "ELDERCARE_INGEST_CLIENT_ID": unique_name("lone")}  # fmt: skip
    start = datetime.now(UTC) - timedelta(minutes=READINGS)
    messages = [
        (topic_for(METER, "telemetry"),
         {"ts": format_ts(start + timedelta(minutes=i)), "seq": i, "volume_l": i * 2.0})
        for i in range(READINGS)
    ]  # fmt: skip
    async with eldercare("ingest", env=env), aiohttp.ClientSession() as http:
        # Its own heartbeat came back: subscribed, so nothing published now is missed.
        beat = "eldercare_heartbeat_round_trip_seconds_count"
        await wait_until(
            scraper(http, port, lambda s: s.get(beat, 0) >= 1), 60, "the worker's first heartbeat"
        )
        devices = DevicePublisher(mosquitto.target(SIMULATOR_USER), unique_name("devices"))
        await asyncio.to_thread(devices.connect)
        try:
            await devices.publish_all_async(messages)
        finally:
            await asyncio.to_thread(devices.close)
        stored = "eldercare_ingest_readings_stored_total"
        await wait_until(
            scraper(http, port, lambda s: s[stored] == READINGS), 60, "the readings to be counted"
        )
        async with http.get(f"http://127.0.0.1:{port}/metrics") as resp:
            samples = parse_prometheus(await resp.text())
    assert await db.fetchval("SELECT count(*) FROM readings") == READINGS
    assert samples["eldercare_ingest_commit_duration_seconds_count"] >= 1
    assert samples["eldercare_ingest_unacked_messages"] >= 0
    # A lone worker shows ingest's figures only: not the database's (it is no API), not
    # the alert stage's or the detectors' (it runs neither).
    assert not [n for n in samples if "alert" in n or "detector" in n or "devices" in n]


async def test_the_alert_process_counts_findings_taken_and_failed_sends(
    db: asyncpg.Connection, db_url: str
) -> None:
    await register_home_with_people(db)
    # A leak pages the primary advisor by SMS at once; the gateway refuses it for now.
    await insert_findings(db, [finding("leak_continuous_flow", Category.LEAK, Severity.MEDIUM)])
    gateway = Gateway()
    await gateway.start()
    gateway.fail_status = 503
    port = free_port()
    env = {"ELDERCARE_DATABASE_URL": db_url, "ELDERCARE_SMS_GATEWAY_URL": gateway.base_url,
           "ELDERCARE_METRICS_PORT": str(port)}  # fmt: skip
    try:
        async with eldercare("alerts", "run", env=env), aiohttp.ClientSession() as http:
            retried = 'eldercare_delivery_failures_total{channel="sms",outcome="retry"}'
            taken = "eldercare_finding_to_alert_seconds_count"

            def counted(s: dict[str, float]) -> bool:
                return s.get(retried, 0) >= 1 and s[taken] == 1

            await wait_until(scraper(http, port, counted), 60, "the refused text to be counted")
            async with http.get(f"http://127.0.0.1:{port}/metrics") as resp:
                samples = parse_prometheus(await resp.text())
    finally:
        await gateway.stop()
    status = await db.fetchval("SELECT status FROM alert_deliveries WHERE channel = 'sms'")
    assert status == "pending"  # waiting for its retry, as the counter says
    # The alert stage's figures only: no ingest heartbeat that would never come.
    assert not [n for n in samples if n.startswith(("eldercare_ingest", "eldercare_heartbeat"))]
