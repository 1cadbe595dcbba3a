"""`eldercare simulate`: simulated homes to files (record), to a broker (live), or load.

Record mode writes DIR/homes.csv (registry), DIR/recording.jsonl (MQTT messages in
timestamp order), DIR/truth.jsonl (ground truth) and DIR/absences.jsonl; the same
arguments always give byte-identical files:

    eldercare simulate --homes 10 --days 60 --seed 1 --out DIR [--start 2026-01-05]
                       [--timezone Asia/Shanghai] [--incident-scale 1.0]
                       [--profile classic|real-15min|real-hourly|real-daily]
                       [--meter 15min|hourly|daily] [--pirs N|A-B] [--gaps none|real]
                       [--life alone|real] [--pir-heartbeat fixed|idle]
                       [--heartbeat-s 60 [--pipeline-outages N [--outage-minutes 10-240]]]

Profiles (simulators/world.py) give the homes the real world's variety: the meter
(every 15 min with flow events, hourly index only, or hourly reads uploaded once a day as
one batched message), how many PIRs (drawn per home from a range, placed as installers
do), report gaps (a few % of messages lost, network outages of hours, meters silent for
days), life (unlabelled holidays, visitors, couples), and PIRs heard only hourly when
nobody moves. `real-*` profiles turn all of it on; any dimension can be overridden. The
registry then carries `profile`, `pirs` and `household` columns, and DIR/context.jsonl
lists what is not an incident but explains findings (visits, holidays, gaps, outages).
--heartbeat-s writes the ingest worker's heartbeat every S seconds; --pipeline-outages
places N outages of our broker (no heartbeat, no device data; meters send their kept
reads afterwards as a batched upload), listed in the truth as category `system`.

Live mode publishes the homes to the broker at ELDERCARE_SIMULATOR_MQTT_URL (or
ELDERCARE_MQTT_URL) in real time (--speed 1), or faster until the simulated clock
reaches the present; it registers the devices only with --register (then in the
database at ELDERCARE_DATABASE_URL):

    eldercare simulate --live --homes 10 --seed 1 [--speed 60] [--head-start 12]
                       [--duration SECONDS] [--days 30] [--register]
                       [--per-device-clients [--device-password-template 'pw-{device_id}']]
                       [--connections 4]

With --per-device-clients each device is its own MQTT client (client id and user name =
device id) with a last will on its status topic. For brokers with per-device passwords,
give the password as a template where {device_id} is replaced, by option or in
ELDERCARE_SIMULATOR_DEVICE_PASSWORD_TEMPLATE; without one, every device logs in with the
broker URL's user.

Load mode is the benchmarks' generator: water-meter readings from D devices named
PREFIX-00000..., at R messages/s in total (0: as fast as possible), from P processes; it
prints one JSON summary line (--register registers the meters first, one home each):

    eldercare simulate --load --messages 1000000 [--rate 0] [--processes 2]
                       [--devices 1000] [--prefix load] [--seq-base 0] [--register]
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import math
import os
import sys
import time
from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import asyncpg

from core.clock import CatchUpClock, Clock, WallClock
from core.logs import kv
from core.readings import DeviceType
from core.registry import RegistryRow
from core.settings import MqttTarget, Settings
from eldercare.runtime import migrate_and_detect
from simulators.incidents import IncidentRates
from simulators.live import DEFAULT_SHARED_CONNECTIONS, LiveOptions, LivePublisher
from simulators.load import MAX_PROCESSES, LoadError, LoadPlan, meter_device_ids, run_load
from simulators.localtime import HomeCalendar, load_zone
from simulators.pipeline import (
    DEFAULT_OUTAGE_MINUTES,
    NO_PIPELINE,
    PipelinePlan,
    draw_outages,
)
from simulators.record import (
    DEFAULT_START,
    EARLIEST_START,
    MAX_DAYS,
    MAX_HOMES,
    simulate_homes,
    write_recording,
)
from simulators.world import PRESETS, MeterKind, PirHeartbeat, build_profile
from storage.registry import import_registry

log = logging.getLogger("eldercare.simulate")

PASSWORD_TEMPLATE_ENV = "ELDERCARE_SIMULATOR_DEVICE_PASSWORD_TEMPLATE"
DEFAULT_LIVE_DAYS = 30
DEFAULT_HEAD_START_HOURS = 12.0
MAX_SPEED = 1_000_000.0
# Options that belong to one mode only, so a mixed-up command fails instead of ignoring one.
_RECORD_ONLY = ("out", "start", "profile", "meter", "pirs", "gaps", "life", "pir_heartbeat",
                "heartbeat_s", "pipeline_outages", "outage_minutes")  # fmt: skip
_LIVE_ONLY = ("speed", "head_start", "duration", "per_device_clients", "connections",
              "device_password_template")  # fmt: skip
_LOAD_ONLY = ("rate", "messages", "processes", "devices", "prefix", "seq_base")
_SIMULATION = ("homes", "days", "seed", "timezone", "incident_scale")


def _positive_int(high: int) -> Callable[[str], int]:
    def parse(text: str) -> int:
        """The integer in `text`, or an argparse error naming the allowed range."""
        try:
            value = int(text)
        except ValueError:
            value = 0
        if not 1 <= value <= high:
            raise argparse.ArgumentTypeError(
                f"must be a positive integer (at most {high}), got {text!r}"
            )
        return value

    return parse


def _seed(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"must be a non-negative integer, got {text!r}") from None
    if value < 0:
        raise argparse.ArgumentTypeError(f"must be a non-negative integer, got {value}")
    return value


def _start(text: str) -> date:
    try:
        value = date.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"must be a date YYYY-MM-DD, got {text!r}") from None
    if value < EARLIEST_START:
        raise argparse.ArgumentTypeError(f"must be on or after {EARLIEST_START.isoformat()}")
    return value


def _timezone(text: str) -> str:
    try:
        load_zone(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None
    return text


def _number(low: float, high: float, *, low_inclusive: bool = True) -> Callable[[str], float]:
    def parse(text: str) -> float:
        """A finite number within the range, or an argparse error naming it."""
        try:
            value = float(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"must be a number, got {text!r}") from None
        above = value >= low if low_inclusive else value > low
        if not (math.isfinite(value) and above and value <= high):
            bound = ">=" if low_inclusive else ">"
            raise argparse.ArgumentTypeError(
                f"must be a finite number {bound} {low:g} and <= {high:g}, got {text!r}"
            )
        return value

    return parse


_scale = _number(0, math.inf)


def add_parser(subparsers: Any) -> None:
    """Add `simulate` to the command line."""
    parser = subparsers.add_parser(
        "simulate",
        help="simulated homes: to files (record), to a broker (--live), or load (--load)",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    mode = parser.add_mutually_exclusive_group()
    mode.add_argument("--live", action="store_true", help="publish to the broker on a clock")
    mode.add_argument("--load", action="store_true", help="the benchmarks' load generator")
    sim = parser.add_argument_group("record and live modes")
    sim.add_argument(
        "--homes",
        type=_positive_int(MAX_HOMES),
        metavar="N",
        help=f"number of homes (1–{MAX_HOMES})",
    )
    sim.add_argument(
        "--days",
        type=_positive_int(MAX_DAYS),
        metavar="D",
        help=f"number of days (1–{MAX_DAYS}; live default {DEFAULT_LIVE_DAYS})",
    )
    sim.add_argument("--seed", type=_seed, metavar="S", help="random seed (>= 0)")
    sim.add_argument(
        "--timezone",
        type=_timezone,
        default=None,
        metavar="TZ",
        help="IANA time zone of the homes (default: ELDERCARE_DEFAULT_TIMEZONE)",
    )
    sim.add_argument(
        "--incident-scale",
        type=_scale,
        metavar="X",
        help="multiply the default incident rates (0: no incidents; default 1)",
    )
    sim.add_argument(
        "--register",
        action="store_true",
        help="live and load: import the devices into ELDERCARE_DATABASE_URL first",
    )
    rec = parser.add_argument_group("record mode")
    rec.add_argument("--out", type=Path, metavar="DIR", help="output directory")
    rec.add_argument(
        "--start",
        type=_start,
        metavar="YYYY-MM-DD",
        help=f"first simulated day (default {DEFAULT_START.isoformat()})",
    )
    rec.add_argument("--profile", choices=tuple(PRESETS), help="kind of homes (default classic)")
    rec.add_argument("--meter", choices=tuple(k.value for k in MeterKind), help="meter kind")
    rec.add_argument(
        "--pirs", metavar="N|A-B", help="PIRs per home (1–6), or a range drawn per home"
    )
    rec.add_argument("--gaps", choices=("none", "real"), help="report gaps")
    rec.add_argument("--life", choices=("alone", "real"), help="holidays, visitors, couples")
    rec.add_argument(
        "--pir-heartbeat",
        choices=tuple(k.value for k in PirHeartbeat),
        help="PIR status: hourly always (fixed) or only after an hour of silence (idle)",
    )
    rec.add_argument(
        "--heartbeat-s",
        type=_positive_int(86_400),
        metavar="S",
        help="write the ingest worker's heartbeat every S seconds",
    )
    rec.add_argument(
        "--pipeline-outages",
        type=_seed,
        metavar="N",
        help="simulate N outages of our pipeline (needs --heartbeat-s)",
    )
    rec.add_argument(
        "--outage-minutes",
        metavar="A-B",
        help="pipeline outage lengths, minutes (default 10-240)",
    )
    live = parser.add_argument_group("live mode")
    live.add_argument(
        "--speed",
        type=_number(1, MAX_SPEED),
        metavar="X",
        help="simulated seconds per real second until the clock reaches now (default 1: real time)",
    )
    live.add_argument(
        "--head-start",
        type=_number(0, 24 * MAX_DAYS),
        metavar="HOURS",
        help="with --speed > 1: how far behind now the clock starts "
        f"(default {DEFAULT_HEAD_START_HOURS:g})",
    )
    live.add_argument(
        "--duration",
        type=_number(0, math.inf, low_inclusive=False),
        metavar="SECONDS",
        help="stop after this long (default: until Ctrl-C)",
    )
    live.add_argument(
        "--per-device-clients",
        action="store_true",
        help="one MQTT client per device, with a last will",
    )
    live.add_argument(
        "--device-password-template",
        metavar="TEMPLATE",
        help=f"per-device password, {{device_id}} replaced (or {PASSWORD_TEMPLATE_ENV})",
    )
    live.add_argument(
        "--connections",
        type=_positive_int(1000),
        metavar="N",
        help=f"shared connections (default {DEFAULT_SHARED_CONNECTIONS})",
    )
    load = parser.add_argument_group("load mode")
    load.add_argument("--rate", type=_scale, metavar="R", help="messages/s in total (0: flat out)")
    load.add_argument(
        "--messages", type=_positive_int(10**9), metavar="N", help="messages in total"
    )
    load.add_argument(
        "--processes",
        type=_positive_int(MAX_PROCESSES),
        metavar="P",
        help="publisher processes (default 2)",
    )
    load.add_argument(
        "--devices",
        type=_positive_int(10**9),
        metavar="D",
        help="water meters to publish for (default 1000)",
    )
    load.add_argument("--prefix", metavar="P", help="device id prefix (default 'load')")
    load.add_argument("--seq-base", type=_seed, metavar="N", help="first sequence number")
    parser.set_defaults(handler=run)


def _usage_error(message: str) -> int:
    print(f"eldercare simulate: error: {message}", file=sys.stderr)
    return 2


def _given(args: argparse.Namespace, names: tuple[str, ...]) -> list[str]:
    """The options among `names` set on the command line, as they are spelled there."""
    given = [n for n in names if getattr(args, n) not in (None, False)]
    return ["--" + n.replace("_", "-") for n in given]


def _mode_errors(args: argparse.Namespace) -> str | None:
    """What is wrong with the combination of options for the chosen mode, if anything."""
    mode = "record"
    foreign: tuple[str, ...] = _LIVE_ONLY + _LOAD_ONLY
    required: tuple[str, ...] = ("homes", "days", "seed", "out")
    if args.live:
        mode, foreign, required = "--live", _RECORD_ONLY + _LOAD_ONLY, ("homes", "seed")
    elif args.load:
        mode, foreign, required = "--load", _RECORD_ONLY + _LIVE_ONLY + _SIMULATION, ("messages",)
    if args.register and mode == "record":
        foreign += ("register",)
    if wrong := _given(args, foreign):
        return f"{', '.join(wrong)} cannot be used in {mode} mode"
    missing = ["--" + n for n in required if getattr(args, n) is None]
    if missing:
        return f"{mode} mode needs {', '.join(missing)}"
    return None


def run(args: argparse.Namespace, settings: Settings) -> int:
    """Run the chosen mode; 0 on success, 2 on bad arguments, 1 on I/O errors."""
    if problem := _mode_errors(args):
        return _usage_error(problem)
    if args.live:
        return _run_live(args, settings)
    if args.load:
        return _run_load(args, settings)
    return _run_record(args, settings)


def _rates(args: argparse.Namespace) -> IncidentRates:
    return IncidentRates().scaled(1.0 if args.incident_scale is None else args.incident_scale)


def _minutes_range(text: str | None) -> tuple[float, float]:
    if text is None:
        return DEFAULT_OUTAGE_MINUTES
    low, _, high = text.partition("-")
    try:
        values = (float(low), float(high or low))
    except ValueError:
        raise ValueError(f"--outage-minutes must be a range like 10-240, got {text!r}") from None
    if not (math.isfinite(values[1]) and 1 <= values[0] <= values[1] <= 7 * 24 * 60):
        raise ValueError(f"--outage-minutes must be within 1–10080, low <= high, got {text!r}")
    return values


def _pipeline(args: argparse.Namespace, start: date, timezone: str) -> PipelinePlan:
    """The heartbeats and pipeline outages asked for; ValueError names a bad option."""
    if args.pipeline_outages and not args.heartbeat_s:
        raise ValueError("--pipeline-outages needs --heartbeat-s (a recording without "
                         "heartbeats means a healthy pipeline)")  # fmt: skip
    if not args.heartbeat_s:
        return NO_PIPELINE
    minutes = _minutes_range(args.outage_minutes)
    calendar = HomeCalendar(start, args.days, timezone)
    outages = draw_outages(args.seed, calendar.start_ms, calendar.end_ms,
                           args.pipeline_outages or 0, minutes)  # fmt: skip
    return PipelinePlan(args.heartbeat_s * 1000, outages)


def _run_record(args: argparse.Namespace, settings: Settings) -> int:
    out: Path = args.out
    if out.exists() and not out.is_dir():
        print(f"eldercare simulate: --out {out} exists and is not a directory", file=sys.stderr)
        return 2
    start = args.start or DEFAULT_START
    timezone = args.timezone or settings.default_timezone
    try:
        world = build_profile(args.profile or "classic", args.meter, args.pirs, args.gaps,
                              args.life, args.pir_heartbeat)  # fmt: skip
        pipeline = _pipeline(args, start, timezone)
    except ValueError as exc:
        return _usage_error(str(exc))
    simulation = simulate_homes(
        n_homes=args.homes,
        days=args.days,
        seed=args.seed,
        start=start,
        timezone=timezone,
        rates=_rates(args),
        world=world,
        pipeline=pipeline,
    )
    began = time.monotonic()

    def progress(messages: int) -> None:
        print(f"recording: {messages:,} messages written, {time.monotonic() - began:.0f} s",
              file=sys.stderr, flush=True)  # fmt: skip

    try:
        stats = write_recording(simulation, out, progress)
    except OSError as exc:
        print(f"eldercare simulate: cannot write to {out}: {exc}", file=sys.stderr)
        return 1
    log.info(
        kv(
            "simulate_recorded",
            homes=stats.homes,
            days=stats.days,
            messages=stats.messages,
            incidents=stats.truth_records,
            seconds=round(stats.seconds, 2),
            per_minute=round(stats.messages_per_minute),
        )
    )
    print(
        f"wrote {stats.messages} messages from {stats.homes} homes ({world.label}) over "
        f"{stats.days} days and {stats.truth_records} ground-truth incidents to {out} in "
        f"{stats.seconds:.1f} s "
        f"({stats.messages_per_minute:,.0f} readings/min)"
    )
    return 0


def _broker(settings: Settings) -> MqttTarget | None:
    return settings.simulator_mqtt_url or settings.mqtt_url


_NO_BROKER = "needs a broker: set ELDERCARE_SIMULATOR_MQTT_URL or ELDERCARE_MQTT_URL"
_NO_DATABASE = "--register needs ELDERCARE_DATABASE_URL"


async def _register(
    database_url: str, rows: list[RegistryRow], installed_at: datetime | None = None
) -> None:
    await migrate_and_detect(database_url)
    conn = await asyncpg.connect(database_url)
    try:
        # Simulated devices are installed when their simulated time starts.
        result = await import_registry(conn, rows, installed_at=installed_at)
    finally:
        await conn.close()
    log.info(
        kv(
            "simulate_registered",
            homes_created=result.homes_created,
            devices_added=result.devices_added,
            devices_moved=result.devices_moved,
        )
    )


def live_clock(speed: float, head_start_hours: float) -> tuple[datetime, Clock]:
    """Where the simulated time starts and the clock that moves it: real time at speed 1,
    else `speed` times faster from `head_start_hours` ago until it reaches now."""
    now = datetime.now(UTC)
    if speed == 1:
        return now, WallClock()
    origin = now - timedelta(hours=head_start_hours)
    return origin, CatchUpClock(origin, speed)


def _run_live(args: argparse.Namespace, settings: Settings) -> int:
    target = _broker(settings)
    if target is None:
        return _usage_error(f"--live {_NO_BROKER}")
    if args.register and not settings.database_url:
        return _usage_error(_NO_DATABASE)
    timezone = args.timezone or settings.default_timezone
    speed = args.speed or 1.0
    origin, clock = live_clock(speed, DEFAULT_HEAD_START_HOURS if args.head_start is None
                               else args.head_start)  # fmt: skip
    simulation = simulate_homes(
        args.homes, args.days or DEFAULT_LIVE_DAYS, args.seed,
        start=origin.astimezone(ZoneInfo(timezone)).date(), timezone=timezone,
        rates=_rates(args),
    )  # fmt: skip
    options = LiveOptions(
        per_device_clients=args.per_device_clients,
        connections=args.connections or DEFAULT_SHARED_CONNECTIONS,
        password_template=args.device_password_template
        or settings.simulator_device_password_template,
        duration_s=args.duration,
    )

    async def go() -> Any:
        if args.register:
            await _register(settings.database_url or "", simulation.registry(), origin)
        print(f"eldercare simulate: {args.homes} homes live, clock x{speed:g} from "
              f"{origin:%Y-%m-%d %H:%M} UTC; Ctrl-C stops", flush=True)  # fmt: skip
        return await LivePublisher(simulation, target, clock, origin, options).run()

    try:
        stats = asyncio.run(go())
    except (OSError, ConnectionError, TimeoutError, asyncpg.PostgresError) as exc:
        print(f"eldercare simulate: {type(exc).__name__}: {exc}", file=sys.stderr)
        return 1
    until = f"{stats.simulated_until:%Y-%m-%d %H:%M:%S}" if stats.simulated_until else "-"
    print(f"published {stats.published} messages ({stats.connects} connects, "
          f"{stats.drops} link losses); simulated time reached {until} UTC")  # fmt: skip
    return 0


def _run_load(args: argparse.Namespace, settings: Settings) -> int:
    target = _broker(settings)
    if target is None:
        return _usage_error(f"--load {_NO_BROKER}")
    if target.tls:
        return _usage_error("--load speaks plain MQTT: give an mqtt:// URL, not mqtts://")
    if args.register and not settings.database_url:
        return _usage_error(_NO_DATABASE)
    prefix = args.prefix or "load"
    try:
        plan = LoadPlan(
            rate_per_s=args.rate or 0.0, messages=args.messages, processes=args.processes or 2,
            devices=args.devices or 1000, prefix=prefix, seq_base=args.seq_base or 0,
        )  # fmt: skip
    except ValueError as exc:
        return _usage_error(f"--load: {exc}")

    async def go() -> Any:
        if args.register:
            rows = [RegistryRow(d, d, DeviceType.WATER_METER, None, settings.default_timezone)
                    for d in meter_device_ids(prefix, plan.devices)]  # fmt: skip
            await _register(settings.database_url or "", rows)
        return await run_load(plan, target, client_id_prefix=f"{prefix}-load-{os.getpid()}")

    try:
        summary = asyncio.run(go())
    except (OSError, LoadError, asyncpg.PostgresError) as exc:
        print(f"eldercare simulate: {exc}", file=sys.stderr)
        return 1
    log.info(
        kv(
            "simulate_load",
            published=summary.published,
            processes=plan.processes,
            seconds=round(summary.seconds, 2),
            rate_per_s=round(summary.rate_per_s),
        )
    )
    print(summary.to_json())
    return 0
