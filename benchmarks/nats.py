"""`eldercare bench nats`: committed readings/s from devices through a NATS JetStream
cluster (three nodes on loopback, R3 streams, devices on the MQTT listener) with one and
with two `eldercare ingest` worker processes, beside the same worker on Mosquitto.

Every phase: a fresh broker, the worker processes started and subscribed, then the
publisher processes (simulators.load, the same as `bench ingest`) flat out; the figure is
readings / (first publish → last reading committed), read from the database. On NATS the
worker also publishes every committed batch to the partitioned stream for the detectors
before acking, which Mosquitto's path does not do (its detectors share the process).
"""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import asyncpg

from benchmarks.ingest import DEVICE_PREFIX, Figures, IngestBenchOptions
from benchmarks.ingest import _prepare_database as prepare_database
from benchmarks.ingest import _publish as publish_mqtt
from benchmarks.scratch_db import scratch_database
from eldercare.mosquitto import INGEST_USER, SIMULATOR_USER, make_mosquitto
from eldercare.nats_cluster import make_cluster

WORKER_START_TIMEOUT_S = 60.0
STOP_TIMEOUT_S = 30
COMMIT_TIMEOUT_S = 180.0


@dataclass(frozen=True)
class NatsBenchOptions:
    """What to measure and how much."""

    messages: int = 50_000
    devices: int = 1000
    publishers: int = 2
    nodes: int = 3


class _Broker:
    """What the publisher helper of `bench ingest` needs of a broker: its MQTT URL."""

    def __init__(self, url: str) -> None:
        self._url = url

    def url(self, user: tuple[str, str] = SIMULATOR_USER) -> str:
        return self._url


async def run_nats_bench(server_url: str, options: NatsBenchOptions) -> dict[str, Any]:
    """Every phase in one run; returns the figures (also printed as they come)."""
    figures = Figures()
    print(f"machine: {os.cpu_count()} cores; messages per phase {options.messages:,}; "
          f"publisher processes {options.publishers}; NATS nodes {options.nodes}",
          flush=True)  # fmt: skip
    async with scratch_database(server_url, "eldercare_bench_nats") as url:
        await prepare_database(url, options.devices)
        with tempfile.TemporaryDirectory(prefix="eldercare-bench-nats-") as tmp:
            work = Path(tmp)
            mosquitto = make_mosquitto(work / "mosquitto")
            await asyncio.to_thread(mosquitto.start)
            try:
                env = {"ELDERCARE_MQTT_URL": mosquitto.url(INGEST_USER)}
                rate = await _phase(
                    url, options, env, 1, _Broker(mosquitto.url(SIMULATOR_USER)), work, 0
                )
            finally:
                mosquitto.stop()
            figures.add("mosquitto_1_worker_committed_per_s", round(rate))
            for workers in (1, 2):
                cluster = make_cluster(work / f"nats-{workers}", options.nodes)
                await asyncio.to_thread(cluster.start)
                try:
                    env = {"ELDERCARE_NATS_URL": ",".join(cluster.urls)}
                    node = cluster.nodes[0]
                    broker = _Broker(f"mqtt://device:x@127.0.0.1:{node.mqtt_port}")
                    seq_base = workers * 10_000_000
                    rate = await _phase(url, options, env, workers, broker, work, seq_base)
                    # The stream holding a backlog, then the workers started: how fast
                    # ingest drains it (the MQTT listener's own pace taken out).
                    await publish_mqtt(broker, _load(options), options.messages, 0,  # type: ignore[arg-type]
                                       seq_base + 5_000_000)  # fmt: skip
                    drain = await _phase(url, options, env, workers, None, work, seq_base + 1)
                finally:
                    cluster.stop()
                r = min(3, options.nodes)
                figures.add(f"nats_r{r}_{workers}_workers_committed_per_s", round(rate))
                figures.add(f"nats_r{r}_{workers}_workers_backlog_drain_per_s", round(drain))
    return figures.values


async def _phase(
    url: str,
    options: NatsBenchOptions,
    env: dict[str, str],
    workers: int,
    broker: _Broker | None,
    work: Path,
    seq_base: int,
) -> float:
    """Start the workers, publish flat out, wait until all is committed: readings/s.
    Without a broker the messages are already in the stream: readings/s from the first
    one committed to the last."""
    conn = await asyncpg.connect(url)
    base = await _count(conn)
    procs = [_start_worker(url, env, f"bench-ingest-{seq_base}-{n}", work) for n in range(workers)]
    try:
        if broker is None:
            first = base
            while first == base:  # the workers connecting and taking the first batch
                await asyncio.sleep(0.01)
                first = await _count(conn)
        else:
            await _wait_subscribed(conn, procs, work, seq_base, workers)
            first = base
        started = time.perf_counter()
        if broker is not None:
            await publish_mqtt(broker, _load(options), options.messages, 0,  # type: ignore[arg-type]
                               seq_base + 1000)  # fmt: skip
        published = time.perf_counter() - started
        deadline = time.monotonic() + COMMIT_TIMEOUT_S
        while (done := await _count(conn) - base) < options.messages:
            if time.monotonic() > deadline:
                raise RuntimeError(f"{done} of {options.messages} readings committed in time")
            await asyncio.sleep(0.02)
        elapsed = time.perf_counter() - started
        what = "published" if broker is not None else "backlog"
        print(f"    ({workers} worker(s): {what} in {published:.1f} s, committed in "
              f"{elapsed:.1f} s)", flush=True)  # fmt: skip
        return (options.messages - (first - base)) / elapsed
    finally:
        for proc in procs:
            proc.terminate()
        for proc in procs:
            try:
                await asyncio.to_thread(proc.wait, STOP_TIMEOUT_S)
            except subprocess.TimeoutExpired:
                # Said, not hidden: a worker that ignores SIGTERM is a finding of its own
                # (nothing is lost: it acks only after commit), but not this bench's figure.
                print(f"    (a worker did not stop within {STOP_TIMEOUT_S} s of SIGTERM;"
                      " killed)", flush=True)  # fmt: skip
                proc.kill()
                await asyncio.to_thread(proc.wait)
        await conn.close()


def _load(options: NatsBenchOptions) -> IngestBenchOptions:
    return IngestBenchOptions(messages=options.messages, devices=options.devices,
                              publishers=options.publishers)  # fmt: skip


def _start_worker(url: str, env: dict[str, str], name: str, work: Path) -> subprocess.Popen[bytes]:
    with (work / f"{name}.log").open("wb") as log:
        return subprocess.Popen(
            [sys.executable, "-m", "eldercare", "ingest"],
            env={**os.environ, **env, "ELDERCARE_DATABASE_URL": url,
                 "ELDERCARE_INGEST_CLIENT_ID": name, "ELDERCARE_MQTT_PROTOCOL": "5"},
            stdout=subprocess.DEVNULL, stderr=log,
        )  # fmt: skip


async def _wait_subscribed(
    conn: asyncpg.Connection,
    procs: list[subprocess.Popen[bytes]],
    work: Path,
    seq_base: int,
    workers: int,
) -> None:
    """Each worker's first heartbeat committed: it is subscribed and writing."""
    deadline = time.monotonic() + WORKER_START_TIMEOUT_S
    names = [f"bench-ingest-{seq_base}-{n}" for n in range(workers)]
    while time.monotonic() < deadline:
        if any(p.poll() is not None for p in procs):
            logs = "\n".join((work / f"{n}.log").read_text()[-2000:] for n in names)
            raise RuntimeError(f"an ingest worker exited:\n{logs}")
        beats = await conn.fetchval(
            "SELECT count(DISTINCT worker) FROM pipeline_heartbeats WHERE worker = ANY($1)", names
        )
        if beats == workers:
            return
        await asyncio.sleep(0.2)
    raise RuntimeError("the ingest workers did not start in time")


async def _count(conn: asyncpg.Connection) -> int:
    value = await conn.fetchval(
        "SELECT count(*) FROM readings WHERE device_id LIKE $1", f"{DEVICE_PREFIX}%"
    )
    return int(value)
