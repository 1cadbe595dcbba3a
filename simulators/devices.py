"""The home's devices: identity, battery, heartbeats, self-tests and connectivity losses.

Every device sends a status heartbeat (`online`, `battery_pct`, `rssi_dbm`) on its own
interval: PIRs hourly (they are otherwise silent while nobody moves, and a silent sensor
must be told from a quiet home), the water meter every 6 h (it reports its index every
15 min anyway), the smoke alarm every 4 h. Batteries drain slowly; a flat-battery fault
collapses the level over a day or three, then the device goes silent until replaced.
Short connectivity losses of a few minutes, a few per device a month, are bracketed by
`{"online": false}` (the MQTT last will) and `{"online": true}`; the messages in between
are lost. After a reboot (a repair or a new battery) sequence numbers restart at 0.

Profiles (`simulators.world`) change some of this: a PIR may send its heartbeat only
after an hour in which it sent nothing (`idle`), index-only meters send no status at all
(`none`), and a meter that falls silent for days says nothing about it (an outage that
is not announced).
"""

from __future__ import annotations

import random
from bisect import bisect_right
from collections.abc import Mapping
from dataclasses import dataclass, replace
from types import MappingProxyType

from core.readings import DeviceType
from simulators.events import HEARTBEAT, OFFLINE, ONLINE, ONLINE_REBOOT, SMOKE_TEST, RawEvent
from simulators.incidents import (
    DeviceFault,
    Incident,
    IncidentKind,
    ReportGap,
    resident_windows,
)
from simulators.layout import (
    DEVICE_COUNT,
    HALL,
    PIR_DEVICES,
    WATER_METER,
    device_firmware,
    device_id,
    device_room,
    device_type,
)
from simulators.localtime import MS_PER_DAY, MS_PER_HOUR, MS_PER_MINUTE, HomeCalendar
from simulators.randomness import poisson
from simulators.world import MeterKind, PirHeartbeat, WorldProfile

HEARTBEAT_MS: Mapping[DeviceType, int] = MappingProxyType(
    {
        DeviceType.PIR: MS_PER_HOUR,
        DeviceType.WATER_METER: 6 * MS_PER_HOUR,
        DeviceType.SMOKE: 4 * MS_PER_HOUR,
    }
)
# Drain in percent per day: PIR batteries (CR123A) last 1–3 years, meter and smoke-alarm
# lithium cells about ten.
_DRAIN_PCT_PER_DAY: Mapping[DeviceType, tuple[float, float]] = MappingProxyType(
    {
        DeviceType.PIR: (0.03, 0.12),
        DeviceType.WATER_METER: (0.005, 0.02),
        DeviceType.SMOKE: (0.01, 0.04),
    }
)
LINK_LOSSES_PER_DAY = 1 / 12  # short connectivity losses per device per day
_LINK_LOSS_MINUTES = (2.0, 10.0)
_CLEAR_OF_INCIDENTS_MS = MS_PER_HOUR  # link losses keep this far from any incident


@dataclass(frozen=True, slots=True)
class Outage:
    """A device silent in [start_ms, end_ms): offline at the start, online at the end."""

    start_ms: int
    end_ms: int
    reboot: bool  # back after a reboot (repair, new battery): seq restarts
    announce: bool = True  # "offline" (the MQTT last will) and "online" bracket it

    def __post_init__(self) -> None:
        if self.end_ms <= self.start_ms:
            raise ValueError("an outage must end after it starts")


@dataclass(frozen=True, slots=True)
class BatteryCurve:
    """Battery level over time: straight lines between (ms, percent) points."""

    times: tuple[int, ...]
    levels: tuple[float, ...]

    def __post_init__(self) -> None:
        if len(self.times) != len(self.levels) or not self.times:
            raise ValueError("a battery curve needs matching, non-empty times and levels")
        if list(self.times) != sorted(self.times):
            raise ValueError("battery curve times must be sorted")

    def pct(self, ms: int) -> int:
        """The level reported at `ms`: whole percent, 0–100."""
        i = bisect_right(self.times, ms)
        if i == 0:
            level = self.levels[0]
        elif i == len(self.times):
            level = self.levels[-1]
        else:
            t0, t1 = self.times[i - 1], self.times[i]
            l0, l1 = self.levels[i - 1], self.levels[i]
            level = l0 + (l1 - l0) * (ms - t0) / (t1 - t0)
        return min(100, max(0, int(level)))


@dataclass(frozen=True, slots=True)
class DeviceSpec:
    """One device of one home, everything about it drawn up front."""

    number: int  # within the home (simulators.layout)
    device_id: str
    type: DeviceType
    room: str
    fw: str
    cooldown_ms: int  # PIR re-arm time; 0 for other devices
    heartbeat_ms: int
    heartbeat_phase_ms: int
    rssi_dbm: int  # typical signal strength
    battery: BatteryCurve
    outages: tuple[Outage, ...]
    seq_start: int
    self_tests_ms: tuple[int, ...] = ()  # smoke alarm only
    heartbeat_mode: str = "fixed"  # "fixed" (on its phase), "idle" (after silence), "none"

    def __post_init__(self) -> None:
        if self.heartbeat_ms <= 0 or self.seq_start < 0:
            raise ValueError("heartbeat_ms must be positive and seq_start non-negative")
        if self.heartbeat_mode not in ("fixed", "idle", "none"):
            raise ValueError("heartbeat_mode must be fixed, idle or none")


def _battery(
    cal: HomeCalendar, drain_per_day: float, rng: random.Random, fault: DeviceFault | None
) -> BatteryCurve:
    start, end = cal.start_ms, cal.end_ms
    if fault is None:
        level = rng.uniform(45, 100)
        return BatteryCurve((start, end), (level, level - drain_per_day * cal.days))
    before = fault.fail_level_pct + drain_per_day * (fault.fail_ms - start) / MS_PER_DAY
    after = 100 - drain_per_day * (end - fault.end_ms) / MS_PER_DAY
    return BatteryCurve(
        (
            start,
            fault.fail_ms,
            fault.silent_ms,
            fault.end_ms - 1,
            fault.end_ms,
            max(end, fault.end_ms + 1),
        ),
        (min(before, 100.0), fault.fail_level_pct, 0.0, 0.0, 100.0, after),
    )


def _overlaps(start: int, end: int, spans: list[tuple[int, int]], gap: int) -> bool:
    return any(s - gap < end and start < e + gap for s, e in spans)


def _link_losses(
    cal: HomeCalendar, avoid: list[tuple[int, int]], rng: random.Random
) -> list[Outage]:
    losses: list[Outage] = []
    taken = list(avoid)
    for _ in range(poisson(rng, LINK_LOSSES_PER_DAY * cal.days)):
        start = rng.randrange(cal.start_ms, cal.end_ms - 15 * MS_PER_MINUTE)
        end = start + round(rng.uniform(*_LINK_LOSS_MINUTES) * MS_PER_MINUTE)
        if not _overlaps(start, end, taken, _CLEAR_OF_INCIDENTS_MS):
            losses.append(Outage(start, end, reboot=False))
            taken.append((start, end))
    return losses


def _self_tests(
    cal: HomeCalendar, avoid: list[tuple[int, int]], rng: random.Random
) -> tuple[int, ...]:
    """Smoke-alarm self-tests: every one to four weeks, in the daytime."""
    interval = rng.uniform(7, 30)
    tests = []
    day = rng.uniform(0, interval)
    while day < cal.days:
        at = cal.to_utc_ms(int(day), rng.uniform(10, 16) * 3600)
        if not _overlaps(at, at + 1, avoid, _CLEAR_OF_INCIDENTS_MS):
            tests.append(at)
        day += interval
    return tuple(tests)


def build_devices(
    home_id: str,
    cal: HomeCalendar,
    incidents: tuple[Incident, ...],
    rng: random.Random,
    hall_rng: random.Random,
) -> tuple[DeviceSpec, ...]:
    """Every device a home can have, by number, with batteries, outages and self-tests.

    The hall PIR's draws come from `hall_rng`, so the others are those of a home that
    never had one.
    """
    faults = [inc for inc in incidents if isinstance(inc, DeviceFault)]
    resident = resident_windows(incidents)
    specs = []
    for number in range(DEVICE_COUNT):
        if number == HALL:
            rng = hall_rng
        kind = device_type(number)
        mine = [f for f in faults if f.device == number]
        battery_fault = next((f for f in mine if f.kind is IncidentKind.BATTERY_FLAT), None)
        outages = [Outage(f.silent_ms, f.end_ms, reboot=True) for f in mine]
        avoid = resident + [(o.start_ms, o.end_ms) for o in outages]
        outages += _link_losses(cal, avoid, rng)
        outages.sort(key=lambda o: o.start_ms)
        heartbeat = HEARTBEAT_MS[kind]
        specs.append(
            DeviceSpec(
                number=number,
                device_id=device_id(home_id, number),
                type=kind,
                room=device_room(number),
                fw=device_firmware(number),
                cooldown_ms=rng.randrange(30, 61) * 1000 if kind is DeviceType.PIR else 0,
                heartbeat_ms=heartbeat,
                heartbeat_phase_ms=rng.randrange(heartbeat),
                rssi_dbm=rng.randrange(-95, -55),
                battery=_battery(cal, rng.uniform(*_DRAIN_PCT_PER_DAY[kind]), rng, battery_fault),
                outages=tuple(outages),
                seq_start=rng.randrange(100_000),
                self_tests_ms=_self_tests(cal, avoid, rng) if kind is DeviceType.SMOKE else (),
            )
        )
    return tuple(specs)


def status_events(
    spec: DeviceSpec, start_ms: int, end_ms: int, rng: random.Random, out: list[RawEvent]
) -> None:
    """Heartbeats, outage boundaries and self-tests of one device in [start_ms, end_ms)."""
    number, battery, rssi = spec.number, spec.battery, spec.rssi_dbm
    if spec.heartbeat_mode == "fixed":
        interval, phase = spec.heartbeat_ms, spec.heartbeat_phase_ms
        t = start_ms + (phase - start_ms) % interval
        while t < end_ms:
            out.append((t, number, HEARTBEAT, battery.pct(t), rssi + rng.randint(-6, 6)))
            t += interval
    for at in spec.self_tests_ms:
        if start_ms <= at < end_ms:
            out.append((at, number, SMOKE_TEST, battery.pct(at), 0))
    for outage in spec.outages:
        if not outage.announce:
            continue
        if start_ms <= outage.start_ms < end_ms:
            out.append((outage.start_ms, number, OFFLINE, 0, 0))
        if start_ms <= outage.end_ms < end_ms:
            back = ONLINE_REBOOT if outage.reboot else ONLINE
            out.append((outage.end_ms, number, back, battery.pct(outage.end_ms), rssi))


def drop_during_outages(
    events: list[RawEvent], specs: tuple[DeviceSpec, ...], start_ms: int, end_ms: int
) -> list[RawEvent]:
    """Remove what devices would have sent while offline in [start_ms, end_ms)."""
    windows: dict[int, list[Outage]] = {}
    for spec in specs:
        hits = [o for o in spec.outages if o.start_ms < end_ms and start_ms < o.end_ms]
        if hits:
            windows[spec.number] = hits
    if not windows:
        return events
    kept = []
    for event in events:
        ts, number, kind = event[0], event[1], event[2]
        hits = windows.get(number, [])
        if (
            hits
            and kind not in (OFFLINE, ONLINE, ONLINE_REBOOT)
            and any(o.start_ms <= ts < o.end_ms for o in hits)
        ):
            continue
        kept.append(event)
    return kept


def idle_heartbeats(
    spec: DeviceSpec,
    sent: list[int],
    last_sent_ms: int,
    end_ms: int,
    rng: random.Random,
    out: list[RawEvent],
) -> int:
    """An `idle` device's heartbeats up to `end_ms`: one whenever it has sent nothing for
    its interval. `sent` are its other messages' times (sorted); returns its last send."""
    interval, battery, rssi, number = spec.heartbeat_ms, spec.battery, spec.rssi_dbm, spec.number
    last = last_sent_ms
    for at in (*sent, end_ms):
        while last + interval < at:
            last += interval
            out.append((last, number, HEARTBEAT, battery.pct(last), rssi + rng.randint(-6, 6)))
        if at < end_ms:
            last = max(last, at)
    return last


def profile_devices(
    devices: tuple[DeviceSpec, ...], incidents: tuple[Incident, ...], world: WorldProfile
) -> tuple[DeviceSpec, ...]:
    """The devices as a profile has them: heartbeats, and the report gaps' silences."""
    out = []
    for spec in devices:
        gaps = [
            (inc.start_ms, inc.end_ms, inc.kind)
            for inc in incidents
            if isinstance(inc, ReportGap) and spec.number in inc.devices
        ]
        # A short link loss inside a longer gap would be heard: the gap stands for both.
        outages = [
            o
            for o in spec.outages
            if o.reboot or not any(s <= o.end_ms and o.start_ms <= e for s, e, _ in gaps)
        ]
        for start, end, kind in gaps:  # a silent meter says nothing; a cut network, offline
            announce = kind is not IncidentKind.METER_SILENT
            outages.append(Outage(start, end, reboot=False, announce=announce))
        mode = spec.heartbeat_mode
        if spec.number == WATER_METER and world.meter is not MeterKind.FLOW15:
            # Index-only meters send their reads and nothing else, not even when they are
            # out of service (a replaced one carries on counting its sequence numbers).
            mode = "none"
            outages = [replace(o, announce=False) for o in outages]
        elif spec.number in (*PIR_DEVICES, HALL) and world.pir_heartbeat is PirHeartbeat.IDLE:
            mode = "idle"
        outages.sort(key=lambda o: o.start_ms)
        out.append(replace(spec, outages=tuple(outages), heartbeat_mode=mode))
    return tuple(out)
