"""One simulated home: its plan drawn up front, then its messages produced day by day.

`plan_home` draws everything that spans days (the resident's habits, the incidents, the
devices' batteries and outages, and what the home's profile adds: which devices, a
partner, visitors, gaps). `run_home` then walks the timeline one chunk at a time, a
chunk being from one waking to the next (the first from midnight to the first waking),
and yields each chunk's messages in order, so a caller can stop or pause at any time
without the rest being computed. A classic home (`simulators.world.CLASSIC`) draws and
sends exactly what it always did.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

from simulators.devices import (
    DeviceSpec,
    build_devices,
    drop_during_outages,
    idle_heartbeats,
    profile_devices,
    status_events,
)
from simulators.episodes import Overlay, blocked_windows, build_overlays, incident_flows
from simulators.events import (
    METER_BATCH,
    MOTION,
    ONLINE,
    ONLINE_REBOOT,
    SMOKE_ALARM,
    Event,
    RawEvent,
)
from simulators.household import Others, Visit, draw_visits
from simulators.incidents import (
    DeviceFault,
    Illness,
    Incident,
    IncidentKind,
    IncidentRates,
    ReportGap,
    Smoke,
    resident_windows,
)
from simulators.layout import HALL, PIR_DEVICES, WATER_METER
from simulators.layout import SMOKE_ALARM as SMOKE_DEVICE
from simulators.localtime import SECONDS_PER_DAY, HomeCalendar
from simulators.meter import CLASSIC_MODE, MeterMode, WaterMeter, daily_mode, hourly_mode
from simulators.motion import HallSensor, MotionSensors, keep_rearmed
from simulators.pipeline import NO_PIPELINE, PipelinePlan, back_online
from simulators.placement import draw_incidents
from simulators.profile import DaySkeleton, ResidentProfile, draw_profile, draw_skeleton
from simulators.randomness import stream
from simulators.resident import DayContext, plan_day, plan_first_night
from simulators.timeline import Flow, Segment, clip_flows, clip_segments, replace_window
from simulators.world import (
    CLASSIC,
    CLASSIC_SETUP,
    HomeSetup,
    MeterKind,
    WorldProfile,
    draw_setup,
)

_SENDS = (MOTION, ONLINE, ONLINE_REBOOT)  # what an idle PIR sends besides its heartbeat
_METER_INDEX_L = (50_000, 3_000_000)  # an installed meter's reading: 50–3000 m³
_NEW_METER_L = (0, 2)  # a new meter has had a little water through it at the works


@dataclass(frozen=True, slots=True)
class HomePlan:
    """Everything about one home that is drawn before its first day."""

    index: int
    home_id: str
    seed: int
    calendar: HomeCalendar
    profile: ResidentProfile
    incidents: tuple[Incident, ...]
    overlays: tuple[Overlay, ...]
    blocked: tuple[tuple[int, int], ...]  # UTC-ms windows the resident stays home
    water_flows: tuple[Flow, ...]  # from incidents: taps left on, leaks
    devices: tuple[DeviceSpec, ...]  # every device a home can have, by number
    meter_index_dl: int
    meter_resets: tuple[tuple[int, int], ...]  # (ms, new index dL) at each replacement
    world: WorldProfile = CLASSIC
    setup: HomeSetup = CLASSIC_SETUP
    visits: tuple[Visit, ...] = ()
    meter_mode: MeterMode = CLASSIC_MODE
    pipeline: PipelinePlan = NO_PIPELINE
    back_online: tuple[tuple[int, int], ...] = ()  # (ms, device): after our outages

    @property
    def installed(self) -> tuple[DeviceSpec, ...]:
        """The devices this home has, in registry order."""
        return tuple(self.devices[n] for n in self.setup.installed)

    def skeleton(self, day: int) -> DaySkeleton:
        """Day `day`'s wake and bed times (its own random stream, so any day can be asked)."""
        return _skeleton(self.seed, self.index, self.profile, self.calendar, day)

    def wake_ms(self, day: int) -> int:
        """When the resident wakes on day `day`, UTC ms."""
        return self.calendar.to_utc_ms(day, self.skeleton(day).wake_s)


def _skeleton(
    seed: int, index: int, profile: ResidentProfile, calendar: HomeCalendar, day: int
) -> DaySkeleton:
    rng = stream(seed, "home", index, "wake", day)
    return draw_skeleton(profile, day, calendar.kind_of(day), rng)


@dataclass(frozen=True, slots=True)
class Chunk:
    """One stretch of a home's timeline, waking to waking, with its messages."""

    day: int  # -1 for the first night
    start_ms: int
    end_ms: int
    segments: tuple[Segment, ...]
    flows: tuple[Flow, ...]
    events: tuple[Event, ...]


def home_id_for(index: int) -> str:
    """The id of home number `index` (0-based): H0001, H0002, …"""
    return f"H{index + 1:04d}"


def plan_home(
    seed: int,
    index: int,
    calendar: HomeCalendar,
    rates: IncidentRates,
    scheduled: tuple[Incident, ...] = (),
    world: WorldProfile = CLASSIC,
    pipeline: PipelinePlan = NO_PIPELINE,
) -> HomePlan:
    """Draw home `index`'s resident, incidents and devices from `seed`; `scheduled`
    incidents happen as given, and the drawn ones fit around them. `world` chooses the
    kind of home; `pipeline` our own outages, which every home lives through."""
    home_id = home_id_for(index)
    profile = draw_profile(stream(seed, "home", index, "profile"))
    setup = draw_setup(world, stream(seed, "home", index, "world"))

    def wake_ms(day: int) -> int:
        """Waking time of `day` (the same draw `HomePlan.skeleton` makes later)."""
        return calendar.to_utc_ms(day, _skeleton(seed, index, profile, calendar, day).wake_s)

    incidents = draw_incidents(
        rates,
        calendar,
        wake_ms,
        stream(seed, "home", index, "incidents"),
        scheduled,
        installed=setup.installed,
        holidays_per_30d=world.life.holidays_per_30d,
        gaps=world.gaps,
    )
    overlays = build_overlays(incidents, calendar, stream(seed, "home", index, "episodes"))
    device_rng = stream(seed, "home", index, "devices")
    devices = build_devices(
        home_id, calendar, incidents, device_rng, stream(seed, "home", index, "hall")
    )
    resets = tuple(
        (inc.end_ms, device_rng.randint(*_NEW_METER_L) * 10)
        for inc in incidents
        if isinstance(inc, DeviceFault) and inc.kind is IncidentKind.METER_REPLACED
    )
    meter_index_dl = device_rng.randint(*_METER_INDEX_L) * 10
    visits: tuple[Visit, ...] = ()
    meter_mode = CLASSIC_MODE
    if not world.classic:
        devices = profile_devices(devices, incidents, world)
        life = world.life
        visits = draw_visits(calendar, life.visits_per_30d, life.overnight_visits_per_30d,
                             resident_windows(incidents),
                             stream(seed, "home", index, "visits"))  # fmt: skip
        if world.meter is MeterKind.HOURLY:
            meter_mode = hourly_mode(setup.meter_phase_ms)
        elif world.meter is MeterKind.DAILY:
            meter_mode = daily_mode(setup.meter_phase_ms, setup.upload_phase_ms,
                                    world.gaps.missing_share)  # fmt: skip
    installed = tuple(devices[n] for n in setup.installed)
    return HomePlan(
        index=index,
        home_id=home_id,
        seed=seed,
        calendar=calendar,
        profile=profile,
        incidents=incidents,
        overlays=overlays,
        blocked=blocked_windows(incidents, overlays),
        water_flows=incident_flows(incidents),
        devices=devices,
        meter_index_dl=meter_index_dl,
        meter_resets=resets,
        world=world,
        setup=setup,
        visits=visits,
        meter_mode=meter_mode,
        pipeline=pipeline,
        back_online=tuple(
            (at, n)
            for at, n in back_online(
                pipeline, installed, WATER_METER, stream(seed, "home", index, "pipeline")
            )
            if not any(o.start_ms <= at < o.end_ms for o in devices[n].outages)
        ),
    )


def _timeline(plan: HomePlan, day: int, start: int, end: int) -> tuple[list[Segment], list[Flow]]:
    """The resident's segments and flows in [start, end): the day's plan, overlays applied."""
    cal, seed, index = plan.calendar, plan.seed, plan.index
    rng = stream(seed, "home", index, "day", day)
    if day < 0:
        builder = plan_first_night(plan.profile, 0.0, plan.skeleton(0).wake_s, rng)
        day = 0
    else:
        midnight = cal.midnight_ms(day)
        ill = any(
            isinstance(inc, Illness) and inc.first_day <= day <= inc.last_day
            for inc in plan.incidents
        )
        blocked = tuple(
            ((s - midnight) / 1000, (e - midnight) / 1000)
            for s, e in plan.blocked
            if s < end + 86_400_000 and e > start - 86_400_000
        )
        ctx = DayContext(
            day=day,
            kind=cal.kind_of(day),
            month=cal.date_of(day).month,
            skeleton=plan.skeleton(day),
            next_wake_s=SECONDS_PER_DAY + plan.skeleton(day + 1).wake_s,
            sick=ill,
            blocked=blocked,
        )
        builder = plan_day(plan.profile, ctx, rng)
    segments, flows = builder.to_utc(lambda s: cal.to_utc_ms(day, s))
    segments = clip_segments(segments, start, end)
    if segments and segments[-1][1] < end:  # rounding at the seam: stretch the last one
        s, _, room, mode = segments[-1]
        segments[-1] = (s, end, room, mode)
    flows = clip_flows(flows, start, end)
    for overlay in plan.overlays:
        if overlay.start_ms < end and start < overlay.end_ms:
            lo, hi = max(start, overlay.start_ms), min(end, overlay.end_ms)
            segments, flows = replace_window(
                segments,
                flows,
                lo,
                hi,
                clip_segments(list(overlay.segments), lo, hi),
                clip_flows(list(overlay.flows), lo, hi),
            )
    return segments, flows


def _smoke_alarms(plan: HomePlan, start: int, end: int, out: list[RawEvent]) -> None:
    battery = plan.devices[SMOKE_DEVICE].battery
    for inc in plan.incidents:
        if isinstance(inc, Smoke):
            for at, alarm in ((inc.start_ms, 1), (inc.end_ms, 0)):
                if start <= at < end:
                    out.append((at, SMOKE_DEVICE, SMOKE_ALARM, alarm, battery.pct(at)))


def _number_events(plan: HomePlan, raw: list[RawEvent], seqs: list[int]) -> list[Event]:
    """Give each event its device's next sequence number (reads in a batched upload first,
    then the upload itself)."""
    home = plan.index
    events: list[Event] = []
    for ts, device, kind, a, b in raw:
        if kind == ONLINE_REBOOT:
            seqs[device] = 0
        elif kind == METER_BATCH:
            first = seqs[device]
            b = tuple((at, first + i, index) for i, (at, index) in enumerate(b))
            seqs[device] = first + len(b)
        events.append((ts, home, device, seqs[device], kind, a, b))
        seqs[device] += 1
    return events


def run_home(plan: HomePlan) -> Iterator[Chunk]:
    """The home's chunks in time order, computed one at a time as they are asked for."""
    cal = plan.calendar
    world = plan.world
    sensors = MotionSensors(
        tuple(plan.devices[n].cooldown_ms for n in PIR_DEVICES), plan.profile.calm_wait_s
    )
    silences = tuple(
        (inc.start_ms, inc.end_ms)
        for inc in plan.incidents
        if isinstance(inc, ReportGap) and WATER_METER in inc.devices
    )
    meter = WaterMeter(
        WATER_METER,
        plan.meter_index_dl,
        cal.start_ms,
        plan.meter_resets,
        plan.meter_mode,
        pipeline_down=plan.pipeline.outages,
        silent=silences,
        rng=stream(plan.seed, "home", plan.index, "meter"),
    )
    seqs = [spec.seq_start for spec in plan.devices]
    home = plan.index
    installed = plan.installed
    classic = world.classic
    hall = (
        HallSensor(HALL, plan.devices[HALL].cooldown_ms) if HALL in plan.setup.installed else None
    )
    others = (
        None
        if classic
        else Others(
            plan.seed,
            plan.index,
            plan.calendar,
            plan.profile.calm_wait_s,
            plan.devices,
            plan.incidents,
            plan.visits,
            plan.setup.couple,
        )
    )
    wanted = set(plan.setup.installed)
    idle = [spec for spec in installed if spec.heartbeat_mode == "idle"]
    last_sent = {spec.number: cal.start_ms - spec.heartbeat_phase_ms for spec in idle}
    loss = world.gaps.missing_share
    cooldowns = {spec.number: spec.cooldown_ms for spec in installed}
    start = cal.start_ms
    for day in range(-1, cal.days):
        end = min(plan.wake_ms(day + 1), cal.end_ms)
        if end <= start:
            continue
        segments, flows = _timeline(plan, day, start, end)
        rng = stream(plan.seed, "home", home, "devices", day)
        raw: list[RawEvent] = []
        sensors.events(segments, rng, raw)
        if hall is not None:
            hall.events(segments, rng, raw)
        water = flows + [f for f in plan.water_flows if start <= f[0] < end]
        if others is not None:
            people = others.take(start, end)
            for person, their_segments, their_flows in people:
                room_sensors, hall_sensor = others.sensors(person)
                room_sensors.events(their_segments, rng, raw)
                if hall is not None:
                    hall_sensor.events(their_segments, rng, raw)
                water.extend(their_flows)
            water.sort()
        meter.advance(water, end, raw)
        _smoke_alarms(plan, start, end, raw)
        for spec in installed:
            status_events(spec, start, end, rng, raw)
        if not classic:
            raw = [ev for ev in raw if ev[1] in wanted]
            raw.sort()
            if plan.setup.couple or plan.visits:
                raw = keep_rearmed(raw, cooldowns)
        if plan.back_online:
            raw.extend((at, n, ONLINE, plan.devices[n].battery.pct(at), plan.devices[n].rssi_dbm)
                       for at, n in plan.back_online if start <= at < end)  # fmt: skip
            raw.sort()
        for spec in idle:
            sent = [ev[0] for ev in raw if ev[1] == spec.number and ev[2] in _SENDS]
            last_sent[spec.number] = idle_heartbeats(
                spec, sent, last_sent[spec.number], end, rng, raw
            )
        raw = drop_during_outages(raw, plan.devices, start, end)
        if plan.pipeline.outages:
            raw = _cut_by_pipeline(raw, plan.pipeline, start, end)
        if loss:
            lose = stream(plan.seed, "home", home, "loss", day).random
            raw = [ev for ev in raw if ev[2] == METER_BATCH or lose() >= loss]
        raw.sort()
        events = _number_events(plan, raw, seqs)
        yield Chunk(day, start, end, tuple(segments), tuple(flows), tuple(events))
        start = end
        if start >= cal.end_ms:
            return


def _cut_by_pipeline(
    raw: list[RawEvent], pipeline: PipelinePlan, start: int, end: int
) -> list[RawEvent]:
    """What reaches the recording while our pipeline is down: nothing (the meter keeps
    its reads itself and sends them afterwards)."""
    outages = [(s, e) for s, e in pipeline.outages if s < end and start < e]
    if not outages:
        return raw
    return [ev for ev in raw if not any(s <= ev[0] < e for s, e in outages)]
