"""`eldercare bench ingest`: how fast readings get from devices into the database.

All phases run in one invocation, so their ratios compare like with like on a
noisy machine. Publishers are separate processes (devices are other machines);
each phase gets a fresh broker so no earlier session's queue costs it CPU.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import asyncpg
import numpy as np

from benchmarks.scratch_db import scratch_database
from core.clock import WallClock
from core.pipeline import CommittedBatch
from eldercare.mosquitto import SIMULATOR_USER, Mosquitto, make_mosquitto
from ingest.mqtt_client import InboundMessage, ManualAckSubscriber
from ingest.service import IngestConfig, IngestService
from ingest.wire import TOPIC_FILTER
from simulators.load import LoadResult, meter_device_ids
from storage.ingest_writes import prepare_ingest_connection, write_batch
from storage.migrate import migrate
from storage.pool import create_pool

DEVICE_PREFIX = "bench"


@dataclass(frozen=True)
class IngestBenchOptions:
    """What to measure and how much."""

    messages: int = 200_000
    devices: int = 1000
    publishers: int = 2
    live_rate_per_s: float = 5000.0
    live_seconds: float = 20.0
    rss_messages: int = 1_000_000


@dataclass
class Figures:
    """The results, printed as a table and kept as JSON."""

    values: dict[str, Any] = field(default_factory=dict)

    def add(self, key: str, value: Any) -> None:
        """Record one figure and show it at once."""
        self.values[key] = value
        print(f"  {key:<42} {value}", flush=True)


def _percentiles_ms(latencies_s: Sequence[float]) -> tuple[float, float]:
    values = np.asarray(latencies_s) * 1000
    return round(float(np.percentile(values, 50)), 1), round(float(np.percentile(values, 99)), 1)


async def _publish(broker: Mosquitto, options: IngestBenchOptions, count: int, rate: float,
                   seq_base: int) -> list[LoadResult]:  # fmt: skip
    """Run the publisher processes to completion and collect their summaries."""
    per_process = count // options.publishers
    devices_each = options.devices // options.publishers
    procs = [
        await asyncio.create_subprocess_exec(
            sys.executable, "-m", "simulators.load", "--url", broker.url(SIMULATOR_USER),
            "--client-id", f"bench-pub-{i}-{seq_base}", "--prefix", DEVICE_PREFIX,
            "--devices", str(options.devices), "--first-device", str(i * devices_each),
            "--device-count", str(devices_each), "--count", str(per_process),
            "--rate", str(rate / options.publishers), "--seq-base", str(seq_base),
            stdout=subprocess.PIPE,
        )
        for i in range(options.publishers)
    ]  # fmt: skip
    results = []
    for proc in procs:
        out, _ = await proc.communicate()
        if proc.returncode != 0:
            raise RuntimeError("a publisher process failed")
        results.append(LoadResult(**json.loads(out)))
    return results


async def _prepare_database(url: str, device_count: int) -> None:
    """Migrate the bench database and register one water meter per bench home."""
    conn = await asyncpg.connect(url)
    try:
        await migrate(conn)
        devices = meter_device_ids(DEVICE_PREFIX, device_count)
        homes = [f"bench-home-{i:05d}" for i in range(len(devices))]
        await conn.copy_records_to_table(
            "homes", records=[(h, "Asia/Shanghai") for h in homes], columns=["id", "timezone"]
        )
        await conn.copy_records_to_table(
            "devices", records=[(d, "water_meter", h) for d, h in zip(devices, homes, strict=True)],
            columns=["id", "type", "home_id"],
        )  # fmt: skip
    finally:
        await conn.close()


async def _copy_limit(url: str, count: int, device_count: int) -> float:
    """Rows/s through the exact storage write ingest uses, with no broker."""
    pool = await create_pool(url, min_size=1, max_size=1, init=prepare_ingest_connection)
    devices = meter_device_ids(DEVICE_PREFIX, device_count)
    base = datetime.now(UTC) - timedelta(days=1)
    n = device_count
    rows = [
        (devices[i % n], f"bench-home-{i % n:05d}", base + timedelta(milliseconds=i),
         i, base, "telemetry", i * 0.5, None, None, None, None, None, None, None, None, None)
        for i in range(count)
    ]  # fmt: skip
    started = time.perf_counter()
    async with pool.acquire() as conn:
        for start in range(0, count, 1000):
            await write_batch(conn, rows[start : start + 1000], [])
    seconds = time.perf_counter() - started
    await pool.close()
    return count / seconds


async def _bare_subscriber_limit(broker: Mosquitto, options: IngestBenchOptions) -> float:
    """Messages/s broker → our MQTT client acking at once, no database."""
    received = 0
    first = last = 0.0
    done = asyncio.Event()
    subscriber: ManualAckSubscriber

    def on_message(message: InboundMessage) -> None:
        nonlocal received, first, last
        received += 1
        last = time.perf_counter()
        if received == 1:
            first = last
        subscriber.ack([message])
        if received >= options.messages:
            done.set()

    subscriber = ManualAckSubscriber(
        broker.target(), client_id="bench-bare", topic_filter=TOPIC_FILTER, protocol="3.1.1",
        receive_maximum=5000, on_message=on_message,
    )  # fmt: skip
    ready = asyncio.Event()
    task = asyncio.create_task(subscriber.run(ready), name="bench-bare-subscriber")
    try:
        await ready.wait()
        await _publish(broker, options, options.messages, 0, seq_base=0)
        await asyncio.wait_for(done.wait(), 120)
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
    return received / (last - first)


async def _end_to_end(
    url: str, broker: Mosquitto, options: IngestBenchOptions, count: int, rate: float,
    seq_base: int,
) -> tuple[float, list[float]]:  # fmt: skip
    """Committed readings/s and publish→commit latencies through the real ingest."""
    latencies: list[float] = []
    done = asyncio.Event()

    def on_committed(batch: CommittedBatch) -> None:
        committed_s = time.time()
        latencies.extend(committed_s - r.ts.timestamp() for r in batch.readings)
        if len(latencies) >= count:
            done.set()

    config = IngestConfig(client_id=f"bench-ingest-{seq_base}", share_group="bench")
    service = IngestService(config, url, broker.target(), clock=WallClock(),
                            on_committed=on_committed)  # fmt: skip
    ready = asyncio.Event()
    task = asyncio.create_task(service.run(ready), name="bench-ingest")
    try:
        await ready.wait()
        started = time.perf_counter()
        await _publish(broker, options, count, rate, seq_base=seq_base)
        await asyncio.wait_for(done.wait(), 300)
        elapsed = time.perf_counter() - started
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
    return count / elapsed, latencies


def _rss_kib(pid: int) -> tuple[int, int]:
    """(current, peak) resident set size of a process, in KiB."""
    fields = dict(
        line.split(":", 1) for line in Path(f"/proc/{pid}/status").read_text().splitlines()
    )
    return int(fields["VmRSS"].split()[0]), int(fields["VmHWM"].split()[0])


async def _memory_over(url: str, broker: Mosquitto, options: IngestBenchOptions) -> dict[str, Any]:
    """RSS of a separate `eldercare ingest` process while it takes rss_messages."""
    env = {**os.environ, "ELDERCARE_DATABASE_URL": url, "ELDERCARE_MQTT_URL": broker.url(),
           "ELDERCARE_INGEST_CLIENT_ID": "bench-rss", "ELDERCARE_LOG_LEVEL": "WARNING"}  # fmt: skip
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "eldercare", "ingest", env=env
    )
    conn = await asyncpg.connect(url)
    samples: list[tuple[int, int]] = []
    seq_base = 10_000_000
    # Each device's last stored seq tells how many of its readings are in: a cheap query,
    # where count(*) over a growing table would load the database we are measuring.
    progress_sql = (
        "SELECT coalesce(sum(last_seq - $1 + 1), 0) FROM device_state WHERE last_seq >= $1"
    )
    try:
        await asyncio.sleep(3)  # let it connect and subscribe before anything is published
        publishing = asyncio.create_task(
            _publish(broker, options, options.rss_messages, 0, seq_base=seq_base)
        )
        deadline = time.monotonic() + 900
        while time.monotonic() < deadline:
            await asyncio.sleep(1)
            stored = int(await conn.fetchval(progress_sql, seq_base))
            samples.append((stored, _rss_kib(proc.pid)[0]))
            if stored >= options.rss_messages:
                break
        await publishing
        peak = _rss_kib(proc.pid)[1]
    finally:
        proc.terminate()
        await proc.wait()
        await conn.close()
    tenth = [rss for n, rss in samples if n >= options.rss_messages * 0.1]
    return {
        "rss_after_10pct_mib": round(tenth[0] / 1024, 1) if tenth else None,
        "rss_at_end_mib": round(samples[-1][1] / 1024, 1),
        "rss_peak_mib": round(peak / 1024, 1),
        "messages_stored": samples[-1][0],
    }


async def run_ingest_bench(server_url: str, options: IngestBenchOptions) -> dict[str, Any]:
    """Every phase in one run; returns the figures (also printed as they come)."""
    figures = Figures()
    print(f"machine: {os.cpu_count()} cores; messages per phase {options.messages:,}; "
          f"publisher processes {options.publishers}", flush=True)  # fmt: skip
    async with scratch_database(server_url, "eldercare_bench") as url:
        await _prepare_database(url, options.devices)
        await _run_phases(url, options, figures)
    return figures.values


async def _run_phases(url: str, options: IngestBenchOptions, figures: Figures) -> None:
    """The phases of run_ingest_bench, on a prepared database."""
    with tempfile.TemporaryDirectory(prefix="eldercare-bench-") as tmp:
        broker = make_mosquitto(Path(tmp))

        async def fresh_broker() -> None:
            broker.stop(forget_sessions=True)
            await asyncio.to_thread(broker.start)

        copy_rate = await _copy_limit(url, options.messages, options.devices)
        figures.add("copy_limit_rows_per_s", round(copy_rate))
        await fresh_broker()
        bare_rate = await _bare_subscriber_limit(broker, options)
        figures.add("bare_subscriber_msgs_per_s", round(bare_rate))
        await fresh_broker()
        e2e_rate, latencies = await _end_to_end(
            url, broker, options, options.messages, 0, 1_000_000
        )
        figures.add("end_to_end_committed_per_s", round(e2e_rate))
        figures.add("end_to_end_over_bare_subscriber", round(e2e_rate / bare_rate, 2))
        figures.add("end_to_end_over_copy_limit", round(e2e_rate / copy_rate, 2))
        p50, p99 = _percentiles_ms(latencies)
        figures.add("flat_out_latency_p50_p99_ms", (p50, p99))
        await fresh_broker()
        live_count = int(options.live_rate_per_s * options.live_seconds)
        _, live = await _end_to_end(url, broker, options, live_count, options.live_rate_per_s,
                                    2_000_000)  # fmt: skip
        p50, p99 = _percentiles_ms(live)
        figures.add(f"live_{int(options.live_rate_per_s)}_per_s_latency_p50_p99_ms", (p50, p99))
        if options.rss_messages:
            await fresh_broker()
            for key, value in (await _memory_over(url, broker, options)).items():
                figures.add(key, value)
        broker.stop()
