"""`eldercare bench alerts`: from a smoke reading's commit to its notifications being
handed to the gateways, with 1,000 homes' normal traffic flowing.

The whole stack runs in this process as `eldercare run` runs it (API, alert stage,
detectors, ingest) against a Mosquitto of deploy/mosquitto and a fresh database that is
dropped at the end, on the wall clock; or, with `speed` above 1, on the devices' faster
clock (as `eldercare demo` runs), so that the detectors see punctual homes. Simulated
homes (no random incidents) get their people registered and their recent history written
straight to storage; then their devices publish live through the broker from a process
of their own (`eldercare simulate --live`: devices are other machines), picking up where
the history ends. Their clock may run `speed` times faster than real time, from far
enough behind the present to stay behind it for the whole run: heavier traffic of the
same shape. Then smoke alarms go off, one home after another, and the SMS and voice
gateway stand-ins (in this process) note when each message reaches them.

Per alarm: the wall time its batch committed (ingest's commit hook), and when the first
and the last of its notifications (every contact's SMS and the resident's check-in
call) were received by the gateways. The stored times say where the rest goes: the
finding's `recorded_at` (detectors), the delivery's `created_at` (findings follower),
the attempt's `started_at` (dispatcher). Event-loop stalls and full garbage collections
of this process are counted, since either delays every stage at once.
"""

from __future__ import annotations

import asyncio
import dataclasses
import gc
import logging
import os
import random
import sys
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import asyncpg
import numpy as np

from alerts.config import ChannelSettings
from benchmarks.figures import percentiles_ms
from benchmarks.scratch_db import scratch_database
from core.clock import CatchUpClock
from core.pipeline import CommittedBatch
from core.settings import Settings
from eldercare.backfill import backfill
from eldercare.mosquitto import INGEST_USER, SIMULATOR_USER, Mosquitto, make_mosquitto
from eldercare.people import people_for, register_people
from eldercare.runtime import Broker
from eldercare.stack import running_stack
from ingest.wire import encode_payload, topic_for
from simulators.events import Event
from simulators.gateways.sms import SmsGateway, sms_gateway
from simulators.gateways.voice import VoiceGateway, voice_gateway
from simulators.incidents import IncidentRates
from simulators.layout import SMOKE_ALARM, device_id
from simulators.localtime import epoch_ms
from simulators.publisher import DevicePublisher
from simulators.record import Simulation, simulate_homes
from storage.migrate import migrate
from storage.registry import import_registry

log = logging.getLogger("eldercare.bench")

TARGET_P99_S = 1.0
SECRET = b"bench-alerts-callback-secret"
SMOKE_SEQ_BASE = 1_000_000_000  # above anything the simulated smoke devices have sent
SETTLE_TIMEOUT_S = 60.0  # for the last alarm's notifications to arrive
DEVICES_START_TIMEOUT_S = 120.0
SIMULATED_DAYS = 2
TIMEZONE = "Asia/Shanghai"
LAG_PROBE_S = 0.01  # how often the event-loop lag probe wakes
LAG_REPORTED_S = 0.1  # stalls longer than this are counted


@dataclass(frozen=True)
class AlertBenchOptions:
    """How big, how fast, how many alarms."""

    homes: int = 1000
    alarms: int = 50
    min_gap_s: float = 1.0  # between two alarms: uniform in [min_gap_s, max_gap_s]
    max_gap_s: float = 2.0
    speed: float = 1.0  # simulated seconds per real second of the homes' traffic
    history_hours: float = 1.0  # written straight to storage before going live
    warmup_s: float = 10.0  # live traffic before the first alarm
    seed: int = 1


@dataclass
class Alarm:
    """One injected smoke alarm and what became of it (wall-clock epoch seconds)."""

    home_id: str
    device_id: str
    published_s: float
    received_s: float | None = None  # by ingest, from the broker
    committed_s: float | None = None


class LiveCursor:
    """The simulation's messages in time order: skips (without encoding) what is too old
    to matter, hands out a slice for the backfill, then follows the live clock."""

    def __init__(self, simulation: Simulation) -> None:
        self._encoder = simulation.encoder
        self._events: Iterator[Event] = simulation.events()
        self._next: Event | None = next(self._events, None)

    def skip(self, until: datetime) -> int:
        """Drop the messages before `until`; returns how many."""
        limit, count = epoch_ms(until), 0
        while self._next is not None and self._next[0] < limit:
            self._next = next(self._events, None)
            count += 1
        return count

    def take(self, until: datetime) -> list[tuple[str, bytes]]:
        """The messages before `until` not handed out yet, encoded for the wire."""
        limit, taken = epoch_ms(until), []
        topic, payload = self._encoder.topic, self._encoder.payload_bytes
        while self._next is not None and self._next[0] < limit:
            taken.append((topic(self._next), payload(self._next)))
            self._next = next(self._events, None)
        return taken


class StackClock:
    """The stack's clock. At speed 1 the wall clock; faster, it stays at `origin` (where
    the history ends) while the stack starts, then runs like the devices' process's
    CatchUpClock, started at the same moment, so detectors and devices agree on the time."""

    def __init__(self, origin: datetime, speed: float) -> None:
        self._origin = origin
        self._speed = speed
        self._running: CatchUpClock | None = None
        self._started_s = 0.0

    def start(self) -> None:
        """Let the simulated time run (the devices' process starts now)."""
        if self._speed > 1 and self._running is None:
            self._running = CatchUpClock(self._origin, self._speed)
            self._started_s = time.time()

    def now(self) -> datetime:
        """The stack's current time, aware UTC."""
        if self._speed == 1:
            return datetime.now(UTC)
        return self._origin if self._running is None else self._running.now()

    def to_wall_s(self, moment: datetime) -> float:
        """The wall time (epoch seconds) at which this clock showed `moment`."""
        if self._running is None:
            return moment.timestamp()
        return self._started_s + (moment - self._origin).total_seconds() / self._speed


class LoopLag:
    """Measures how late the event loop wakes a sleeping task (a stall there delays every
    stage of the path at once), and the pauses of the full garbage collection."""

    def __init__(self) -> None:
        self.stalls: list[tuple[float, float]] = []  # (wall time it ended, seconds late)
        self.gc_pauses: list[tuple[float, float]] = []  # (wall time it ended, seconds)
        self._gc_started = 0.0

    def on_gc(self, phase: str, info: dict[str, int]) -> None:
        """A gc.callbacks hook: times the oldest generation's collections."""
        if info.get("generation") != 2:
            return
        if phase == "start":
            self._gc_started = time.perf_counter()
        else:
            self.gc_pauses.append((time.time(), time.perf_counter() - self._gc_started))

    async def run(self) -> None:
        """Probe until cancelled."""
        loop = asyncio.get_running_loop()
        while True:
            before = loop.time()
            await asyncio.sleep(LAG_PROBE_S)
            late = loop.time() - before - LAG_PROBE_S
            if late > LAG_REPORTED_S:
                self.stalls.append((time.time(), late))


@dataclass
class Traffic:
    """What ingest committed of the homes' own traffic."""

    committed: int = 0


async def run_alert_bench(
    server_url: str, settings: Settings, options: AlertBenchOptions
) -> dict[str, Any]:
    """Set up, run and measure; returns the figures (also printed as a table)."""
    print(f"machine: {os.cpu_count()} cores; {options.homes:,} homes at x{options.speed:g}, "
          f"{options.alarms} smoke alarms {options.min_gap_s:g}-{options.max_gap_s:g} s apart",
          flush=True)  # fmt: skip
    async with scratch_database(server_url, "eldercare_bench_alerts") as url:
        with tempfile.TemporaryDirectory(prefix="eldercare-bench-alerts-") as tmp:
            broker = make_mosquitto(Path(tmp))
            await asyncio.to_thread(broker.start)
            try:
                figures = await _run(url, settings, broker, options)
            finally:
                broker.stop()
    _print_table(figures)
    return figures


async def _run(
    url: str, settings: Settings, broker: Mosquitto, options: AlertBenchOptions
) -> dict[str, Any]:
    started = time.monotonic()
    # Long enough behind that an accelerated clock is still behind the present at the end.
    planned_s = options.warmup_s + options.alarms * options.max_gap_s + SETTLE_TIMEOUT_S
    live_from = datetime.now(UTC) - timedelta(seconds=(options.speed - 1) * planned_s)
    home_ids, devices, stored = await _prepare(url, options, live_from)
    setup_s = time.monotonic() - started
    print(f"setup: {devices:,} devices, {stored:,} readings of history in {setup_s:.1f} s",
          flush=True)  # fmt: skip

    alarms: dict[str, Alarm] = {}
    traffic = Traffic()

    def on_committed(batch: CommittedBatch) -> None:
        committed_s = time.time()
        for reading in batch.readings:
            alarm = alarms.get(reading.device_id)
            if alarm is not None and reading.alarm and alarm.committed_s is None:
                alarm.committed_s = committed_s
                # Ingest stamps arrival on the stack's clock; the figures are wall time.
                alarm.received_s = clock.to_wall_s(reading.received_at)
            else:
                traffic.committed += 1

    settings = dataclasses.replace(
        settings, api_host="127.0.0.1", api_port=0,
        ingest_client_id=f"bench-alerts-ingest-{os.getpid()}",
    )  # fmt: skip
    mqtt = Broker(broker.target(INGEST_USER), embedded=False)
    async with (
        sms_gateway() as sms,
        voice_gateway(SECRET, answer_delay_s=1.0, default_answer="fine") as voice,
    ):
        channels = ChannelSettings(
            sms_base_url=sms.url, voice_base_url=voice.url, voice_callback_secret=SECRET
        )
        clock = StackClock(live_from, options.speed)
        async with running_stack(settings, url, mqtt, clock, channels=channels,
                                 on_committed=on_committed):  # fmt: skip
            clock.start()
            homes = await _start_devices(broker, options, live_from)
            lag = LoopLag()
            probe = asyncio.create_task(lag.run(), name="bench-loop-lag")
            gc.callbacks.append(lag.on_gc)
            try:
                await _until_flowing(traffic, homes)
                await asyncio.sleep(options.warmup_s)
                measured = await _inject(broker, options, home_ids, alarms, traffic, sms, voice,
                                         url, lag, clock)  # fmt: skip
            finally:
                gc.callbacks.remove(lag.on_gc)
                probe.cancel()
                await asyncio.gather(probe, return_exceptions=True)
                if homes.returncode is None:
                    homes.terminate()
                await homes.wait()
    measured["setup_s"] = round(setup_s, 1)
    measured["total_s"] = round(time.monotonic() - started, 1)
    return measured


async def _prepare(
    url: str, options: AlertBenchOptions, live_from: datetime
) -> tuple[list[str], int, int]:
    """A migrated database with the homes, their people and their recent history; returns
    the home ids, the number of devices and of readings stored.

    The homes' days start at a local midnight, so the history starts no earlier than the
    one before `live_from`: the devices' process simulates the same homes from there.
    """
    zone = ZoneInfo(TIMEZONE)
    first_day = live_from.astimezone(zone).date()
    midnight = datetime.combine(first_day, datetime.min.time(), zone)
    history_from = max(live_from - timedelta(hours=options.history_hours), midnight)
    simulation = simulate_homes(
        options.homes, days=SIMULATED_DAYS, seed=options.seed, start=first_day,
        timezone=TIMEZONE, rates=IncidentRates().scaled(0),
    )  # fmt: skip
    rows = simulation.registry()
    home_ids = [home.home_id for home in simulation.homes]
    conn = await asyncpg.connect(url)
    try:
        await migrate(conn)
        await import_registry(conn, rows, installed_at=history_from)
        await register_people(conn, people_for(home_ids))
    finally:
        await conn.close()
    cursor = LiveCursor(simulation)
    await asyncio.to_thread(cursor.skip, history_from)
    history = await asyncio.to_thread(cursor.take, live_from)
    stored = await backfill(url, rows, history)
    # The simulation stays with the devices' process: its buffers must not add to this
    # one's garbage-collection pauses, which are part of what is measured.
    del simulation, cursor, history
    gc.collect()
    return home_ids, len(rows), stored


async def _start_devices(
    broker: Mosquitto, options: AlertBenchOptions, live_from: datetime
) -> asyncio.subprocess.Process:
    """The homes' devices, as `eldercare simulate --live` in a process of their own
    (devices are other machines), picking up where the history ends."""
    command = [
        sys.executable, "-m", "eldercare", "simulate", "--live", "--homes", str(options.homes),
        "--seed", str(options.seed), "--days", str(SIMULATED_DAYS), "--incident-scale", "0",
        "--timezone", TIMEZONE, "--speed", f"{options.speed:g}",
    ]  # fmt: skip
    if options.speed > 1:
        behind_h = (datetime.now(UTC) - live_from).total_seconds() / 3600
        command += ["--head-start", f"{behind_h:.6f}"]
    env = {**os.environ, "ELDERCARE_MQTT_URL": broker.url(SIMULATOR_USER),
           "ELDERCARE_LOG_LEVEL": "WARNING"}  # fmt: skip
    env.pop("ELDERCARE_SIMULATOR_MQTT_URL", None)
    return await asyncio.create_subprocess_exec(
        *command, env=env, stdout=asyncio.subprocess.DEVNULL
    )


async def _until_flowing(traffic: Traffic, homes: asyncio.subprocess.Process) -> None:
    """Wait for the devices' process to get going (it simulates up to its start first)."""
    deadline = time.monotonic() + DEVICES_START_TIMEOUT_S
    while traffic.committed == 0:
        if homes.returncode is not None:
            raise RuntimeError(f"the devices' process exited ({homes.returncode})")
        if time.monotonic() > deadline:
            raise RuntimeError("no traffic from the devices' process")
        await asyncio.sleep(0.2)


async def _inject(
    broker: Mosquitto,
    options: AlertBenchOptions,
    home_ids: list[str],
    alarms: dict[str, Alarm],
    traffic: Traffic,
    sms: SmsGateway,
    voice: VoiceGateway,
    url: str,
    lag: LoopLag,
    clock: StackClock,
) -> dict[str, Any]:
    """Set off the alarms, wait for every notification, and measure."""
    rng = random.Random(options.seed)
    step = max(1, len(home_ids) // options.alarms)
    chosen = [home_ids[(i * step) % len(home_ids)] for i in range(options.alarms)]
    smoke = DevicePublisher(broker.target(SIMULATOR_USER), f"bench-smoke-{os.getpid()}")
    await asyncio.to_thread(smoke.connect)
    window_start = time.monotonic()
    committed_before = traffic.committed
    cpu_before = time.process_time()
    wall_start = time.time()
    load_before = os.getloadavg()[0]
    try:
        for number, home_id in enumerate(chosen):
            if number:
                await asyncio.sleep(rng.uniform(options.min_gap_s, options.max_gap_s))
            device = device_id(home_id, SMOKE_ALARM)
            now_s = time.time()
            device_now = clock.now()  # the home's time: its devices' clock is the stack's
            payload = {"ts": epoch_ms(device_now), "seq": SMOKE_SEQ_BASE + number,
                       "alarm": True, "battery_pct": 90}  # fmt: skip
            alarms[device] = Alarm(home_id, device, now_s)
            await asyncio.to_thread(
                smoke.publish_all, [(topic_for(device, "telemetry"), encode_payload(payload))]
            )
    finally:
        await asyncio.to_thread(smoke.close)
    deliveries, seen = await _wait_for_notifications(url, alarms, sms, voice)
    window_s = time.monotonic() - window_start
    cpu_s = time.process_time() - cpu_before
    load_after = os.getloadavg()[0]
    stalls = [late for at, late in lag.stalls if at >= wall_start]
    gc_pauses = [took for at, took in lag.gc_pauses if at >= wall_start]
    longest_gc_ms = round(max(gc_pauses, default=0) * 1000)
    received: dict[str, list[float]] = {}
    for row in deliveries:
        if row["key"] in seen:
            received.setdefault(row["home_id"], []).append(seen[row["key"]])

    firsts, lasts, ingest_s, arrive_s = [], [], [], []
    detail = []
    missing = 0
    for alarm in alarms.values():
        times = received.get(alarm.home_id)
        if alarm.committed_s is None or not times:
            missing += 1
            continue
        firsts.append(min(times) - alarm.committed_s)
        lasts.append(max(times) - alarm.committed_s)
        ingest_s.append(alarm.committed_s - alarm.published_s)
        arrive_s.append((alarm.received_s or alarm.committed_s) - alarm.published_s)
        detail.append({"home_id": alarm.home_id, "committed_s": round(alarm.committed_s, 3),
                       "first_ms": round(firsts[-1] * 1000, 1),
                       "last_ms": round(lasts[-1] * 1000, 1)})  # fmt: skip
    notifications = sum(len(t) for t in received.values())
    figures: dict[str, Any] = {
        "homes": options.homes,
        "speed": options.speed,
        "alarms": len(alarms),
        "alarms_measured": len(lasts),
        "alarms_missing": missing,
        "notifications_per_alarm": round(notifications / max(1, len(received)), 2),
        "background_committed_per_s": round((traffic.committed - committed_before) / window_s, 1),
        "bench_process_cpu_pct": round(100 * cpu_s / window_s),
        "machine_load_avg_1min_before_after": (round(load_before, 1), round(load_after, 1)),
        "event_loop_stalls_over_100ms": len(stalls),
        "event_loop_longest_stall_ms": round(max(stalls, default=0) * 1000),
        "full_gc_pauses_count_longest_ms": (len(gc_pauses), longest_gc_ms),
        "publish_to_commit_ms": percentiles_ms(ingest_s) if ingest_s else None,
        "publish_to_ingest_received_ms": percentiles_ms(arrive_s) if arrive_s else None,
        "commit_to_first_ms": percentiles_ms(firsts) if firsts else None,
        "commit_to_last_ms": percentiles_ms(lasts) if lasts else None,
    }
    if lasts:
        figures["target_p99_le_1s_met"] = bool(
            not missing and np.percentile(lasts, 99) <= TARGET_P99_S
        )
    figures.update(_breakdown(alarms, deliveries, seen, clock))
    # In the JSON only: to tell a slow alarm caused by a stall from a slow stage.
    figures["per_alarm"] = detail
    figures["stalls"] = [[round(at, 3), round(late * 1000)] for at, late in lag.stalls
                         if at >= wall_start]  # fmt: skip
    figures["full_gc_pauses"] = [[round(at, 3), round(took * 1000)] for at, took in lag.gc_pauses
                                 if at >= wall_start]  # fmt: skip
    return figures


async def _smoke_deliveries(url: str) -> list[asyncpg.Record]:
    conn = await asyncpg.connect(url)
    try:
        return list(await conn.fetch(
            "SELECT d.idempotency_key::text AS key, d.home_id, d.created_at, f.recorded_at,"
            " (SELECT min(t.started_at) FROM alert_delivery_attempts t"
            "   WHERE t.delivery_id = d.id) AS started_at"
            " FROM alert_deliveries d JOIN alerts a ON a.id = d.alert_id"
            " LEFT JOIN LATERAL (SELECT min(recorded_at) AS recorded_at FROM findings"
            "   WHERE home_id = d.home_id AND category = 'smoke') f ON true"
            " WHERE a.category = 'smoke' AND d.purpose IN ('alert', 'checkin')"
            # what the alert's opening decided (an accelerated clock may reach a repeat)
            " AND d.created_at = (SELECT min(created_at) FROM alert_deliveries"
            "   WHERE alert_id = d.alert_id)"
        ))  # fmt: skip
    finally:
        await conn.close()


def _received_at(sms: SmsGateway, voice: VoiceGateway) -> dict[str, float]:
    """Idempotency key → wall time the gateway accepted it."""
    records = [(m.idempotency_key, m.received_at) for m in sms.messages]
    records += [(c.idempotency_key, c.received_at) for c in voice.calls]
    return {key: datetime.fromisoformat(at).timestamp() for key, at in records}


async def _wait_for_notifications(
    url: str, alarms: dict[str, Alarm], sms: SmsGateway, voice: VoiceGateway
) -> tuple[list[asyncpg.Record], dict[str, float]]:
    """The smoke alarms' deliveries and the gateways' receipts, once every alarm's
    deliveries have all been received (or the time is up)."""
    homes = {alarm.home_id for alarm in alarms.values()}
    deadline = time.monotonic() + SETTLE_TIMEOUT_S
    while True:
        deliveries = await _smoke_deliveries(url)
        seen = _received_at(sms, voice)
        pending = set(homes)
        keys: dict[str, list[str]] = {}
        for row in deliveries:
            keys.setdefault(row["home_id"], []).append(row["key"])
        for home_id, home_keys in keys.items():
            if all(key in seen for key in home_keys):
                pending.discard(home_id)
        if not pending or time.monotonic() > deadline:
            return deliveries, seen
        await asyncio.sleep(0.5)


def _breakdown(
    alarms: dict[str, Alarm],
    deliveries: list[asyncpg.Record],
    seen: dict[str, float],
    clock: StackClock,
) -> dict[str, Any]:
    """Where the time goes, from the stored times: commit → finding stored (detectors,
    the database's own clock) → delivery created (follower) → attempt started
    (dispatcher) → gateway (HTTP); the alert stage's times are on the stack's clock."""
    committed = {a.home_id: a.committed_s for a in alarms.values() if a.committed_s}
    detect, follow, claim, send = [], [], [], []
    for row in deliveries:
        at = committed.get(row["home_id"])
        received = seen.get(row["key"])
        if at is None or received is None or row["recorded_at"] is None:
            continue
        recorded = row["recorded_at"].timestamp()
        created = clock.to_wall_s(row["created_at"])
        started = clock.to_wall_s(row["started_at"])
        detect.append(recorded - at)
        follow.append(created - recorded)
        claim.append(started - created)
        send.append(received - started)
    if not detect:
        return {}
    return {
        "stage_commit_to_finding_stored_ms": percentiles_ms(detect),
        "stage_finding_to_delivery_created_ms": percentiles_ms(follow),
        "stage_created_to_dispatch_started_ms": percentiles_ms(claim),
        "stage_dispatch_started_to_gateway_ms": percentiles_ms(send),
    }


def _print_table(figures: dict[str, Any]) -> None:
    print("\n| figure | value |\n| --- | --- |")
    for key, value in figures.items():
        if isinstance(value, list):
            continue
        if isinstance(value, dict):
            value = " / ".join(f"{k} {v}" for k, v in value.items())
        print(f"| {key} | {value} |")
