"""`eldercare demo`: the system running on simulated homes, with nothing to install.

Homes are simulated from `backfill_days` ago. Their history up to a little before the
present (`head_start_hours`) is written straight into storage; the last stretch is
published live on a clock that runs `speed` times faster than real time until it reaches
the present (a couple of minutes), then in real time: what the console shows is true of
the wall clock, ages and "devices online" included. A second run resumes: what was missed
while it was stopped is written as history, and the simulation is deterministic and
writes are idempotent, so nothing is stored twice.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import logging
import secrets
import sys
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import asyncpg

from alerts.callbacks import SMS_CALLBACK_PATH
from alerts.config import ChannelSettings
from api.auth.passwords import hash_password
from api.server import check_port_free
from core.clock import CatchUpClock, Clock
from core.logs import kv
from core.pipeline import CommittedBatch
from core.registry import RegistryRow
from core.settings import Settings
from eldercare.backfill import backfill
from eldercare.demo_plan import (
    SIMULATED_DAYS_AHEAD,
    DemoPlan,
    check_same_demo,
    choose_plan,
    load_plan,
    save_plan,
)
from eldercare.people import HomePeople, demo_logins, people_for, register_people
from eldercare.runtime import Broker, broker, database, prepare_database
from eldercare.stack import Stack, running_stack
from simulators.gateways.sms import SmsGateway, sms_gateway
from simulators.gateways.voice import voice_gateway
from simulators.publisher import DevicePublisher
from simulators.record import MessageCursor, simulate_homes
from simulators.scheduled import ScheduledIncident, ScheduledKind
from storage.alerts import list_alerts
from storage.findings import list_findings
from storage.registry import import_registry
from storage.summary import home_summaries
from storage.users import add_user, get_user

log = logging.getLogger("eldercare.demo")

PUBLISH_INTERVAL_SECONDS = 0.5
PROGRESS_INTERVAL_SECONDS = 2.0  # on a terminal, where the line is rewritten in place
LOGGED_PROGRESS_INTERVAL_SECONDS = 30.0  # into a file or a pipe, one line each
PLAN_FILE = "demo-plan.json"
SUMMARY_HOMES = 10  # homes listed in the closing summary
VOICE_ANSWER_DELAY_S = 3.0  # a simulated call rings for a few seconds before the answer


@dataclass(frozen=True)
class DemoOptions:
    """How big and how fast the demo is."""

    homes: int = 50
    speed: float = 60.0  # simulated seconds per real second: an hour a minute
    # How far behind the present the live clock starts: the stretch replayed through the
    # broker (at `speed`, two minutes at x60) in which the scheduled incidents happen.
    head_start_hours: float = 2.0
    backfill_days: int = 14  # history written straight to storage before going live
    seed: int = 1
    duration_s: float | None = None  # None: until Ctrl-C
    timezone: str = "Asia/Shanghai"


# Incidents in the live stretch (simulated minutes after it starts), timed so that each
# alert fires shortly before the clock reaches the present: within the first couple of
# minutes, and each with its true age (a fall found after 75 min of bathroom silence, a
# tap running for 45 min, then a smoke alarm going off just now).
SCHEDULE = (
    (0, ScheduledKind.FALL, 15, 240),
    (2, ScheduledKind.TAP_LEFT_RUNNING, 50, 90),
    (1, ScheduledKind.SMOKE, 112, 8),
)
DEMO_PASSWORD = "eldercare-demo"  # the demo's logins; it listens on loopback only


def demo_schedule(live_from: datetime, homes: int) -> tuple[ScheduledIncident, ...]:
    """The demo's incidents, for the homes that exist."""
    return tuple(
        ScheduledIncident(home % homes, kind, live_from + timedelta(minutes=at), minutes)
        for home, kind, at, minutes in SCHEDULE
    )


async def run_demo(settings: Settings, options: DemoOptions) -> None:
    """Serve the console at once, backfill history, then run the homes live."""
    check_port_free(settings.api_host, settings.api_port)
    # The demo serves plain http on this machine: a Secure cookie would never come back.
    settings = dataclasses.replace(settings, api_secure_cookies=False)
    async with database(settings) as url, broker(settings) as mqtt:
        _, backend = await prepare_database(url, wait=True)  # the embedded one may be starting
        now = datetime.now(UTC)
        plan_path = settings.data_dir / PLAN_FILE
        wanted = DemoPlan(options.homes, options.seed, options.backfill_days, options.timezone,
                          now - timedelta(hours=options.head_start_hours))  # fmt: skip
        saved = load_plan(plan_path)
        check_same_demo(saved, wanted, settings.data_dir)
        plan, resumed = choose_plan(saved, wanted, now)
        local_start = plan.first_live_from.astimezone(ZoneInfo(plan.timezone)).date()
        simulation = simulate_homes(
            plan.homes, days=plan.backfill_days + SIMULATED_DAYS_AHEAD, seed=plan.seed,
            start=local_start - timedelta(days=plan.backfill_days), timezone=plan.timezone,
            scheduled=demo_schedule(plan.first_live_from, plan.homes),
        )  # fmt: skip
        rows = simulation.registry()
        people = people_for(sorted({row.home_id for row in rows}))
        # The simulated devices are installed when their history starts.
        await _register(
            url, rows, people, plan.first_live_from - timedelta(days=plan.backfill_days + 1)
        )
        save_plan(plan_path, plan)
        # A resumed run goes on from the last reading stored, not over it; a long pause is
        # written as history rather than replayed through the broker.
        last = await _last_reading(url)
        head_start = now - timedelta(hours=options.head_start_hours)
        live_from = max(plan.first_live_from, last or plan.first_live_from, head_start)
        cursor = simulation.cursor()
        clock = HeldClock(live_from, options.speed)
        committed = 0
        serving = False  # a stack that never started serving has nothing to sum up

        def count(batch: CommittedBatch) -> None:
            nonlocal committed
            committed += len(batch.readings)

        async def backfill_history(api_url: str) -> None:
            nonlocal serving
            serving = True
            _print_welcome(api_url, options, backend.name, people)
            history = cursor.advance_encoded(live_from)
            if resumed:
                print(f"resuming the simulation from {last or live_from:%Y-%m-%d %H:%M} UTC",
                      flush=True)  # fmt: skip
            stored = await backfill(url, rows, history, after=last)
            if not resumed:
                print(f"history: {stored:,} readings of {plan.backfill_days} days written",
                      flush=True)  # fmt: skip
            elif stored:
                print(f"history: {stored:,} readings of the pause written", flush=True)
            behind = max(0.0, (datetime.now(UTC) - live_from).total_seconds())
            print(f"live: the last {behind / 60:.0f} min replayed at x{options.speed:g} "
                  f"(about {behind / options.speed:.0f} s), then in step with the clock",
                  flush=True)  # fmt: skip

        secret = secrets.token_urlsafe(24).encode()
        async with (
            sms_gateway(secret=secret) as sms,
            voice_gateway(secret, answer_delay_s=VOICE_ANSWER_DELAY_S) as voice,
        ):
            # The fallen resident cannot reach the phone; the others answer "fine".
            voice.set_answers({people[0].resident_phone: "no_answer"})
            channels = ChannelSettings(sms_base_url=sms.url, voice_base_url=voice.url,
                                       voice_callback_secret=secret)  # fmt: skip
            try:
                async with running_stack(
                    settings, url, mqtt, clock, channels=channels, on_committed=count,
                    before_pipeline=lambda api_url: _replies_then(sms, api_url, backfill_history),
                ) as stack, asyncio.TaskGroup() as tasks:  # fmt: skip
                    # The homes' clock starts when their devices start publishing: while the
                    # detectors were learning the history, no simulated time went by
                    # unheard (which their pipeline guard would rightly call an outage).
                    clock.release()
                    tasks.create_task(_publish_live(settings, mqtt, cursor, clock),
                                      name="demo-devices")  # fmt: skip
                    tasks.create_task(
                        _progress(clock, options, lambda: committed, stack),
                        name="demo-progress",
                    )
                    if options.duration_s is not None:
                        await asyncio.sleep(options.duration_s)
                        raise _DemoOver
            except* _DemoOver:
                pass
            finally:
                if serving:
                    await _print_summary(url, options)


async def _replies_then(
    sms: SmsGateway, api_url: str, then: Callable[[str], Awaitable[None]]
) -> None:
    """Advisors' replies to the demo's alert SMS go to the demo's API; then `then`."""
    sms.send_replies_to(api_url + SMS_CALLBACK_PATH)
    await then(api_url)


async def _last_reading(url: str) -> datetime | None:
    conn = await asyncpg.connect(url)
    try:
        last: datetime | None = await conn.fetchval("SELECT max(ts) FROM readings")
        return last
    finally:
        await conn.close()


class HeldClock:
    """The demo's clock: `origin` until released, then `speed` times faster than the wall
    clock until it reaches the present, then the wall clock. Never runs backwards."""

    def __init__(self, origin: datetime, speed: float) -> None:
        self._origin = origin
        self._speed = speed
        self._running: CatchUpClock | None = None

    def release(self) -> None:
        """Start running from the origin, as of now."""
        if self._running is None:
            self._running = CatchUpClock(self._origin, self._speed)

    def now(self) -> datetime:
        """The simulated time."""
        return self._origin if self._running is None else self._running.now()


class _DemoOver(Exception):
    """The demo's --duration has elapsed."""


async def _register(
    url: str, rows: list[RegistryRow], people: list[HomePeople], installed_at: datetime
) -> None:
    """Homes, devices, residents, contacts and the logins (each only once)."""
    conn = await asyncpg.connect(url)
    try:
        await import_registry(conn, rows, installed_at=installed_at)
        await register_people(conn, people)
        password_hash = await hash_password(DEMO_PASSWORD)
        for login in demo_logins(people):
            if await get_user(conn, login.username) is None:
                await add_user(conn, username=login.username, display_name=login.display_name,
                               role=login.role, password_hash=password_hash,
                               language=login.language, street=login.street,
                               now=datetime.now(UTC))  # fmt: skip
    finally:
        await conn.close()


def _print_welcome(
    api_url: str, options: DemoOptions, backend: str, people: list[HomePeople]
) -> None:
    logins = ", ".join(login.username for login in demo_logins(people))
    print(
        f"eldercare demo: {options.homes} simulated homes, storage {backend}\n"
        f"console: {api_url}/\n"
        f"logins (password {DEMO_PASSWORD}): {logins}\n"
        "writing history; Ctrl-C stops",
        flush=True,
    )


async def _publish_live(
    settings: Settings, mqtt: Broker, cursor: MessageCursor, clock: Clock
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
    clock: Clock, options: DemoOptions, committed: Callable[[], int], stack: Stack
) -> None:
    """One status line, rewritten in place on a terminal."""
    zone = ZoneInfo(options.timezone)
    previous, previous_t = 0, time.monotonic()
    while True:
        tty = sys.stdout.isatty()
        await asyncio.sleep(PROGRESS_INTERVAL_SECONDS if tty else LOGGED_PROGRESS_INTERVAL_SECONDS)
        total = committed()
        now_t = time.monotonic()
        rate = (total - previous) / (now_t - previous_t)
        previous, previous_t = total, now_t
        async with stack.pool.acquire() as conn:
            open_alerts = await conn.fetchval(
                "SELECT count(*) FROM alerts WHERE state <> 'resolved'"
            )
        dead = sum(stack.ingest.stats.dead_letters.values())
        found = stack.detectors.findings_stored
        line = (f"simulated {clock.now().astimezone(zone):%a %H:%M} | homes {options.homes} | "
                f"{rate:,.0f} readings/s | stored live {total:,} | dead letters {dead} | "
                f"findings {found} | open alerts {open_alerts}")  # fmt: skip
        end = "\r" if tty else "\n"
        print(line, end=end, flush=True)


async def _print_summary(url: str, options: DemoOptions) -> None:
    with contextlib.suppress(OSError, asyncpg.PostgresError):
        conn = await asyncpg.connect(url)
        try:
            summaries = await home_summaries(conn)
            found = await list_findings(conn, limit=20)
            alerts = await list_alerts(conn)
        finally:
            await conn.close()
        zone = ZoneInfo(options.timezone)
        print("\nwhat is stored, per home:")
        for s in summaries[:SUMMARY_HOMES]:
            last = s.last_seen.astimezone(zone).strftime("%m-%d %H:%M") if s.last_seen else "-"
            print(f"  {s.home_id}: {s.readings:,} readings (water {s.water}, motion {s.motion}, "
                  f"smoke {s.smoke}, status {s.status}); last heard {last}; "
                  f"water meter index {s.meter_index_l or 0:,.1f} L")  # fmt: skip
        if len(summaries) > SUMMARY_HOMES:
            print(f"  ... and {len(summaries) - SUMMARY_HOMES} more homes")
        print(f"latest findings ({len(found)}):" if found else "no findings yet")
        for f in found:
            print(f"  {f.at.astimezone(zone):%m-%d %H:%M} {f.home_id} {f.severity.value} "
                  f"{f.kind}: {f.explanation}")  # fmt: skip
        print(f"alerts ({len(alerts)}):" if alerts else "no alerts yet")
        for a in alerts[:20]:
            print(f"  #{a.id} {a.opened_at.astimezone(zone):%m-%d %H:%M} {a.home_id} "
                  f"{a.severity.value} {a.category.value}/{a.kind} [{a.state.value}]: "
                  f"{a.explanation}")  # fmt: skip
    log.info(kv("demo_stopped"))
