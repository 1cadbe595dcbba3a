"""Hand-made scenarios: one home's readings, minute by minute, for tests and benchmarks.

`Scenario` builds wire-valid Readings for a standard home (five motion sensors, a water
meter, a smoke alarm); `ordinary_days` writes plain days a baseline can learn from; and
`replay` runs an engine over readings in event time, ticking every minute, the way the
backtest does.
"""

from __future__ import annotations

import dataclasses
import random
from collections.abc import Iterable
from datetime import UTC, datetime, timedelta

from core.pipeline import Heartbeat
from core.readings import Channel, DeviceType, Reading
from core.registry import RegistryRow
from detectors.engine import Engine
from detectors.findings import Finding

ROOMS = ("entrance", "living_room", "kitchen", "bathroom", "bedroom")


class Scenario:
    """Readings of one home; every instant is an aware datetime (any zone)."""

    def __init__(self, home_id: str = "H1", timezone: str = "Asia/Shanghai") -> None:
        self.home_id = home_id
        self.timezone = timezone
        self.meter_l = 1000.0
        self._seq: dict[str, int] = {}  # per device, as devices number their messages

    def device(self, role: str) -> str:
        """Device id of a role: a room name, `water` or `smoke`."""
        return f"{self.home_id}-{role}"

    def rows(
        self, rooms: Iterable[str] = ROOMS, meter: bool = True, smoke: bool = True
    ) -> list[RegistryRow]:
        """The home's registry rows."""
        rows = [
            RegistryRow(self.home_id, self.device(room), DeviceType.PIR, room, self.timezone)
            for room in rooms
        ]
        if meter:
            rows.append(
                RegistryRow(
                    self.home_id, self.device("water"), DeviceType.WATER_METER, None, self.timezone
                )
            )
        if smoke:
            rows.append(
                RegistryRow(
                    self.home_id, self.device("smoke"), DeviceType.SMOKE, "kitchen", self.timezone
                )
            )
        return rows

    def _reading(self, role: str, kind: DeviceType, at: datetime, **fields: object) -> Reading:
        device = self.device(role)
        seq = self._seq[device] = self._seq.get(device, 0) + 1
        channel = fields.pop("channel", Channel.TELEMETRY)
        ts = at.astimezone(UTC)
        return Reading(device, kind, channel, ts, seq, ts, **fields)  # type: ignore[arg-type]

    def motion(self, at: datetime, room: str) -> Reading:
        """A motion event in a room."""
        return self._reading(room, DeviceType.PIR, at, motion=True, room=room)

    def water(self, at: datetime, litres: float = 0.0, flow_lpm: float = 0.0) -> Reading:
        """One meter report after `litres` more water, with `flow_lpm` running now
        (build reports in time order, or use `meter` for a whole stretch)."""
        self.meter_l += litres
        return self._reading(
            "water", DeviceType.WATER_METER, at, volume_l=round(self.meter_l, 3), flow_lpm=flow_lpm
        )

    def meter(
        self,
        start: datetime,
        end: datetime,
        flows: Iterable[tuple[datetime, datetime, float]] = (),
        every: timedelta = timedelta(minutes=15),
        flow_field: bool = True,
    ) -> list[Reading]:
        """The meter's reports from `start` to `end` given the water drawn (on, off, L/min):
        every `every`, and at each flow start and stop, like a real meter."""
        flows = list(flows)
        times = set()
        t = start
        while t < end:
            times.add(t)
            t += every
        for on, off, _ in flows:
            times.update(moment for moment in (on, off) if start <= moment < end)
        base = self.meter_l
        out = []
        for moment in sorted(times):
            used = sum(
                lpm * max(0.0, (min(off, moment) - max(on, start)).total_seconds()) / 60
                for on, off, lpm in flows
            )
            running = sum(lpm for on, off, lpm in flows if on <= moment < off)
            self.meter_l = base + used
            fields: dict[str, object] = {"volume_l": round(self.meter_l, 3)}
            if flow_field:
                fields["flow_lpm"] = running
            out.append(self._reading("water", DeviceType.WATER_METER, moment, **fields))
        self.meter_l = base + sum(
            lpm * max(0.0, (min(off, end) - max(on, start)).total_seconds()) / 60
            for on, off, lpm in flows
        )
        return out

    def hourly_index(self, start: datetime, end: datetime, uses: Iterable[tuple[datetime, float]],
                     minute: int = 17) -> list[Reading]:  # fmt: skip
        """An index-only meter reporting once an hour (at `minute` past), as most real
        meters do: `uses` are (when, litres) drawn between reports."""
        uses = sorted(uses)
        out = []
        t = start.replace(minute=minute, second=0, microsecond=0)
        if t < start:
            t += timedelta(hours=1)
        i = 0
        while t < end:
            while i < len(uses) and uses[i][0] <= t:
                self.meter_l += uses[i][1]
                i += 1
            out.append(self._reading("water", DeviceType.WATER_METER, t,
                                     volume_l=round(self.meter_l, 3)))  # fmt: skip
            t += timedelta(hours=1)
        return out

    def meter_index(self, at: datetime, volume_l: float) -> Reading:
        """A meter report with an explicit index (e.g. a replaced meter)."""
        self.meter_l = volume_l
        return self._reading("water", DeviceType.WATER_METER, at, volume_l=volume_l, flow_lpm=0.0)

    def smoke(self, at: datetime, alarm: bool | None = None, test: bool | None = None) -> Reading:
        """A smoke-alarm report."""
        return self._reading("smoke", DeviceType.SMOKE, at, alarm=alarm, test=test)

    def status(
        self, at: datetime, role: str, online: bool = True, battery: float | None = None
    ) -> Reading:
        """A status message of a device (`role`: a room, `water` or `smoke`)."""
        kind = {"water": DeviceType.WATER_METER, "smoke": DeviceType.SMOKE}.get(
            role, DeviceType.PIR
        )
        return self._reading(
            role, kind, at, channel=Channel.STATUS, online=online, battery_pct=battery
        )

    def ordinary_days(self, start: datetime, days: int, seed: int = 1) -> list[Reading]:
        """Plain days from local midnight `start`: up about 07:00, about the home, water
        morning and evening, meter reports every 15 minutes, in bed about 22:00."""
        rng = random.Random(seed)
        out: list[Reading] = []
        for day in range(days):
            midnight = start + timedelta(days=day)
            wake = midnight + timedelta(hours=7, minutes=rng.uniform(-20, 20))
            bed = midnight + timedelta(hours=22, minutes=rng.uniform(-20, 20))
            if rng.random() < 0.8:  # a night toilet visit
                visit = midnight + timedelta(hours=rng.uniform(1.5, 4.5))
                out += [
                    self.motion(visit, "bedroom"),
                    self.motion(visit + timedelta(minutes=1), "bathroom"),
                ]
                out.append(self.motion(visit + timedelta(minutes=4), "bedroom"))
            t = wake
            while t < bed:
                out.append(self.motion(t, rng.choice(ROOMS[1:])))
                t += timedelta(minutes=rng.uniform(2, 25))
            out.append(self.motion(bed, "bedroom"))  # the day ends in the bedroom
            draws = []
            for hour in (7.5, 12.0, 18.5, 21.5):  # 8 L each: on for two minutes at 4 L/min
                on = midnight + timedelta(hours=hour, minutes=rng.uniform(0, 20))
                draws.append((on, on + timedelta(minutes=2), 4.0))
            out += self.meter(midnight, midnight + timedelta(days=1), draws)
        return sorted(out, key=lambda r: (r.ts, r.seq))


def renumbered(readings: Iterable[Reading]) -> list[Reading]:
    """Readings in (ts) order with each device's seq counting up in that order, as a real
    device numbers what it sends (a scenario numbers them as they were written)."""
    out = []
    seq: dict[str, int] = {}
    for reading in sorted(readings, key=lambda r: r.ts):
        number = seq[reading.device_id] = seq.get(reading.device_id, 0) + 1
        out.append(dataclasses.replace(reading, seq=number))
    return out


def quiet(scenario: Scenario, start: datetime, end: datetime) -> list[Reading]:
    """Only the meter's quarter-hour reports from `start` to `end`: a home where nobody
    moves or draws water, but whose meter (and so our pipeline) is alive."""
    return scenario.meter(start, end)


def heartbeats(
    start: datetime,
    end: datetime,
    every: timedelta = timedelta(seconds=30),
    worker: str = "ingest-1",
    missing: Iterable[tuple[datetime, datetime]] = (),
) -> list[Heartbeat]:
    """Ingest's heartbeats from `start` to `end`, none inside the `missing` spans (a broker
    or ingest outage); each comes back a tenth of a second after it was sent."""
    gaps = list(missing)
    out = []
    t = start
    seq = 0
    while t < end:
        if not any(a <= t < b for a, b in gaps):
            out.append(Heartbeat(worker, seq, t, t + timedelta(milliseconds=100)))
        seq += 1
        t += every
    return out


def _moment(item: Reading | Heartbeat) -> datetime:
    return item.sent_at if isinstance(item, Heartbeat) else item.ts


def merged(*streams: Iterable[Reading | Heartbeat]) -> list[Reading | Heartbeat]:
    """Readings and heartbeats in one time order (as a replay takes them)."""
    return sorted((item for stream in streams for item in stream), key=_moment)


def replay(
    engine: Engine,
    readings: Iterable[Reading | Heartbeat],
    until: datetime | None = None,
    tick_s: int = 60,
) -> list[Finding]:
    """Feed readings (and ingest heartbeats) in order, ticking every `tick_s` of event
    time; return all findings. A reading whose `received_at` is later than its `ts` is
    late data: it is fed when it arrives."""
    out: list[Finding] = []
    next_tick: float | None = None
    last = 0.0
    items = sorted(
        readings,
        key=lambda r: (r.sent_at if isinstance(r, Heartbeat) else r.received_at).timestamp(),
    )
    for reading in items:
        if isinstance(reading, Heartbeat):
            ts = reading.sent_at.timestamp()
        else:
            ts = reading.received_at.timestamp()
        if next_tick is None:
            next_tick = (ts // tick_s + 1) * tick_s
        while next_tick <= ts:
            engine.tick_epoch(next_tick, out)
            next_tick += tick_s
        if isinstance(reading, Heartbeat):
            engine.heartbeat_into(reading, out)
        else:
            engine.feed_into(reading, out)
        last = max(last, ts)
    if until is not None and next_tick is not None:
        end = until.timestamp()
        while next_tick <= end:
            engine.tick_epoch(next_tick, out)
            next_tick += tick_s
    return out
