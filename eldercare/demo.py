"""`eldercare demo`: the system running on simulated homes, with nothing to install.

Homes are simulated from yesterday's midnight; their devices publish on a clock that
runs `speed` times faster than real time until it reaches the present (devices may not
report from the future), then in real time. A second run resumes: the simulation is
deterministic and writes are idempotent, so replayed messages are stored once.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import asyncpg

from core.clock import CatchUpClock
from core.logs import kv
from core.readings import Reading
from core.registry import RegistryRow
from core.settings import Settings
from detectors.service import DetectorService
from eldercare.backfill import backfill
from eldercare.runtime import Broker, broker, database, ingest_config, migrate_and_detect
from ingest.service import IngestService
from simulators.publisher import DevicePublisher
from simulators.record import MessageCursor, simulate_homes
from storage.findings import list_findings
from storage.registry import import_registry
from storage.summary import home_summaries

log = logging.getLogger("eldercare.demo")

PUBLISH_INTERVAL_SECONDS = 0.5
PROGRESS_INTERVAL_SECONDS = 2.0


@dataclass(frozen=True)
class DemoOptions:
    """How big and how fast the demo is."""

    homes: int = 5
    speed: float = 60.0  # simulated seconds per real second while catching up
    head_start_hours: float = 12.0  # how far behind the present the live clock starts
    backfill_days: int = 14  # history written straight to storage before going live
    seed: int = 1
    duration_s: float | None = None  # None: until Ctrl-C
    timezone: str = "Asia/Shanghai"


async def run_demo(settings: Settings, options: DemoOptions) -> None:
    """Backfill history, start the detectors on it, then run the homes live."""
    async with database(settings) as url, broker(settings) as mqtt:
        _, backend = await migrate_and_detect(url)
        live_from = datetime.now(UTC) - timedelta(hours=options.head_start_hours)
        local_start = live_from.astimezone(ZoneInfo(options.timezone)).date()
        simulation = simulate_homes(
            options.homes, days=options.backfill_days + 14, seed=options.seed,
            start=local_start - timedelta(days=options.backfill_days), timezone=options.timezone,
        )  # fmt: skip
        rows = simulation.registry()
        await _register(url, rows)
        cursor = simulation.cursor()
        backfilled = await backfill(url, rows, cursor.advance_encoded(live_from))
        print(
            f"eldercare demo: {options.homes} simulated homes, storage {backend.name}, "
            f"{backfilled:,} readings of history; live clock x{options.speed:g} until it "
            "reaches now; Ctrl-C stops",
            flush=True,
        )
        clock = CatchUpClock(live_from, options.speed)
        detectors = DetectorService(url, clock)
        committed = 0

        def on_committed(readings: Sequence[Reading], committed_s: float) -> None:
            nonlocal committed
            committed += len(readings)
            detectors.on_committed(readings, committed_s)

        service = IngestService(ingest_config(settings, mqtt), url, mqtt.target,
                                on_committed=on_committed)  # fmt: skip
        ready, detectors_ready = asyncio.Event(), asyncio.Event()
        try:
            async with asyncio.TaskGroup() as tasks:
                # The detectors first replay the history in (ts, seq) order; only then
                # do live batches reach them.
                tasks.create_task(detectors.run(detectors_ready), name="demo-detectors")
                await detectors_ready.wait()
                tasks.create_task(service.run(ready), name="demo-ingest")
                await ready.wait()
                tasks.create_task(_publish_live(settings, mqtt, cursor, clock),
                                  name="demo-devices")  # fmt: skip
                tasks.create_task(
                    _progress(clock, options, lambda: committed, service, detectors),
                    name="demo-progress",
                )
                if options.duration_s is not None:
                    await asyncio.sleep(options.duration_s)
                    raise _DemoOver
        except* _DemoOver:
            pass
        finally:
            await _print_summary(url, options)


class _DemoOver(Exception):
    """The demo's --duration has elapsed."""


async def _register(url: str, rows: list[RegistryRow]) -> None:
    conn = await asyncpg.connect(url)
    try:
        await import_registry(conn, rows)
    finally:
        await conn.close()


async def _publish_live(
    settings: Settings, mqtt: Broker, cursor: MessageCursor, clock: CatchUpClock
) -> None:
    """Every half second, publish what the simulated devices measured up to now."""
    target = settings.simulator_mqtt_url or mqtt.target
    publisher = DevicePublisher(target, client_id="eldercare-demo-devices")
    await asyncio.to_thread(publisher.connect)
    try:
        while True:
            batch = cursor.advance_encoded(clock.now())
            if batch:
                await publisher.publish_all_async(batch)
            await asyncio.sleep(PUBLISH_INTERVAL_SECONDS)
    finally:
        await asyncio.to_thread(publisher.close)


async def _progress(
    clock: CatchUpClock,
    options: DemoOptions,
    committed: Callable[[], int],
    service: IngestService,
    detectors: DetectorService,
) -> None:
    """One status line, rewritten in place on a terminal."""
    zone = ZoneInfo(options.timezone)
    previous, previous_t = 0, time.monotonic()
    while True:
        await asyncio.sleep(PROGRESS_INTERVAL_SECONDS)
        total = committed()
        now_t = time.monotonic()
        rate = (total - previous) / (now_t - previous_t)
        previous, previous_t = total, now_t
        dead = sum(service.stats.dead_letters.values())
        line = (f"simulated {clock.now().astimezone(zone):%a %H:%M} | homes {options.homes} | "
                f"stored {total:,} | {rate:,.0f} readings/s | dead letters {dead} | "
                f"findings {detectors.findings_stored}")  # fmt: skip
        end = "\r" if sys.stdout.isatty() else "\n"
        print(line, end=end, flush=True)


async def _print_summary(url: str, options: DemoOptions) -> None:
    with contextlib.suppress(OSError, asyncpg.PostgresError):
        conn = await asyncpg.connect(url)
        try:
            summaries = await home_summaries(conn)
            found = await list_findings(conn, limit=20)
        finally:
            await conn.close()
        zone = ZoneInfo(options.timezone)
        print("\nwhat is stored, per home:")
        for s in summaries:
            last = s.last_seen.astimezone(zone).strftime("%m-%d %H:%M") if s.last_seen else "-"
            print(f"  {s.home_id}: {s.readings:,} readings (water {s.water}, motion {s.motion}, "
                  f"smoke {s.smoke}, status {s.status}); last heard {last}; "
                  f"water meter index {s.meter_index_l or 0:,.1f} L")  # fmt: skip
        print(f"latest findings ({len(found)}):" if found else "no findings yet")
        for f in found:
            print(f"  {f.at.astimezone(zone):%m-%d %H:%M} {f.home_id} {f.severity.value} "
                  f"{f.kind}: {f.explanation}")  # fmt: skip
    log.info(kv("demo_stopped"))
