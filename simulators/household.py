"""The other people in a home: a partner living there too, and visitors.

Neither is an incident and neither is in the ground truth: they are what a real home has
and a detector must live with. A partner follows their own routine (their own habits,
drawn from the home's stream) and is away while the resident's incidents happen, so that
an incident stays what its ground truth says (a partner at home would have found the
fallen resident within minutes). A visitor comes for an afternoon, or stays one to three
nights on the sofa, moving about, using the kitchen and the toilet, night visits included.
"""

from __future__ import annotations

import random
from dataclasses import dataclass

from simulators.devices import DeviceSpec
from simulators.episodes import Track
from simulators.incidents import Incident, resident_windows
from simulators.layout import AWAY, BATHROOM, ENTRANCE, HALL, KITCHEN, LIVING_ROOM, PIR_DEVICES
from simulators.localtime import MS_PER_HOUR, MS_PER_MINUTE, MS_PER_SECOND, HomeCalendar
from simulators.motion import HallSensor, MotionSensors
from simulators.profile import ResidentProfile, draw_profile, draw_skeleton
from simulators.randomness import poisson, stream
from simulators.resident import DayContext, plan_day, plan_first_night
from simulators.timeline import (
    ACTIVE,
    ASLEEP,
    CALM,
    OUT,
    Flow,
    Segment,
    clip_flows,
    clip_segments,
    replace_window,
)

_FLUSH_ML, _SINK_ML, _TAP_ML = 9000, 5000, 4000
_AWAY_MARGIN_MS = MS_PER_HOUR  # the partner leaves this long before an incident window
_VISIT_CLEAR_MS = 2 * MS_PER_HOUR  # visits keep this far from the resident's incidents


@dataclass(frozen=True, slots=True)
class Visit:
    """Someone else in the home from `start_ms` to `end_ms` (nights: staying over)."""

    start_ms: int
    end_ms: int
    overnight: bool

    def __post_init__(self) -> None:
        if self.end_ms <= self.start_ms:
            raise ValueError("a visit must end after it starts")


def _minutes(rng: random.Random, low: float, high: float) -> int:
    return round(rng.uniform(low, high) * MS_PER_MINUTE)


def _toilet(track: Track, rng: random.Random) -> None:
    start = track.stay(BATHROOM, ACTIVE, _minutes(rng, 2, 5))
    track.flow(start + 45 * MS_PER_SECOND, 60 * MS_PER_SECOND, _FLUSH_ML)
    if rng.random() < 0.8:
        track.flow(start + 110 * MS_PER_SECOND, round(rng.uniform(10, 30) * 1000), _TAP_ML)


def _awake(track: Track, until: int, rng: random.Random) -> None:
    """Sitting and talking, making tea, the toilet now and then, until `until`."""
    while until - track.t > 2 * MS_PER_MINUTE:
        roll = rng.random()
        if roll < 0.15:
            _toilet(track, rng)
        elif roll < 0.4:
            start = track.stay(KITCHEN, ACTIVE, min(_minutes(rng, 4, 15), until - track.t))
            track.flow(start + 30 * MS_PER_SECOND, round(rng.uniform(15, 60) * 1000), _SINK_ML)
        else:
            track.stay(LIVING_ROOM, CALM, min(_minutes(rng, 15, 50), until - track.t))


def visit_timeline(
    visit: Visit, calendar: HomeCalendar, rng: random.Random
) -> tuple[list[Segment], list[Flow]]:
    """The visitor's segments and flows: in through the entrance, about the home (and
    asleep on the sofa with a toilet visit or two at night), out through the entrance."""
    track = Track(visit.start_ms)
    track.stay(ENTRANCE, ACTIVE, MS_PER_MINUTE)
    leave = visit.end_ms - MS_PER_MINUTE
    while track.t < leave:
        day, local_s = calendar.locate(track.t)
        if visit.overnight and (local_s >= 22.5 * 3600 or local_s < 6.5 * 3600):
            wake = calendar.to_utc_ms(day + (1 if local_s >= 12 * 3600 else 0), 6.75 * 3600)
            wake = min(wake, leave)
            for _ in range(poisson(rng, 0.8)):  # night toilet visits on the way to the sofa
                at = rng.randrange(track.t, max(wake, track.t + 1))
                if at > track.t + 20 * MS_PER_MINUTE and at < wake - 10 * MS_PER_MINUTE:
                    track.stay(LIVING_ROOM, ASLEEP, at - track.t)
                    track.stay(LIVING_ROOM, ACTIVE, 30 * MS_PER_SECOND)
                    _toilet(track, rng)
            track.stay(LIVING_ROOM, ASLEEP, wake - track.t)
            if track.t < leave:
                _toilet(track, rng)
            continue
        until = leave
        if visit.overnight:
            until = min(leave, calendar.to_utc_ms(day, 22.5 * 3600))
            if until <= track.t:
                until = leave
        _awake(track, until, rng)
        if track.t < until:
            track.stay(LIVING_ROOM, CALM, until - track.t)
    track.stay(ENTRANCE, ACTIVE, max(visit.end_ms - track.t, MS_PER_SECOND))
    return track.segments, track.flows


def draw_visits(
    calendar: HomeCalendar,
    per_30d: float,
    overnight_per_30d: float,
    avoid: list[tuple[int, int]],
    rng: random.Random,
) -> tuple[Visit, ...]:
    """A home's visits, kept clear of the resident's incidents and of each other."""
    taken = [(s - _VISIT_CLEAR_MS, e + _VISIT_CLEAR_MS) for s, e in avoid]
    visits = []
    months = calendar.days / 30
    wanted = [False] * poisson(rng, per_30d * months)
    wanted += [True] * poisson(rng, overnight_per_30d * months)
    for overnight in wanted:
        day = rng.randrange(calendar.days)
        if overnight:
            start = calendar.to_utc_ms(day, rng.uniform(16, 20) * 3600)
            end = calendar.to_utc_ms(day + rng.randint(1, 3), rng.uniform(9, 14) * 3600)
        else:
            start = calendar.to_utc_ms(day, rng.uniform(9, 17) * 3600)
            end = start + round(rng.uniform(1, 5) * MS_PER_HOUR)
        inside = calendar.start_ms + MS_PER_HOUR <= start and end <= calendar.end_ms - MS_PER_HOUR
        if inside and not any(s < end and start < e for s, e in taken):
            visits.append(Visit(start, end, overnight))
            taken.append((start - _VISIT_CLEAR_MS, end + _VISIT_CLEAR_MS))
    visits.sort(key=lambda v: v.start_ms)
    return tuple(visits)


class PartnerTrack:
    """A partner's own routine, handed out one stretch of time at a time, in order."""

    __slots__ = ("_away", "_cal", "_covered", "_day", "_flows", "_index", "_profile",
                 "_seed", "_segments")  # fmt: skip

    def __init__(
        self, seed: int, index: int, calendar: HomeCalendar, away: list[tuple[int, int]]
    ) -> None:
        self._seed, self._index, self._cal = seed, index, calendar
        self._profile: ResidentProfile = draw_profile(stream(seed, "home", index, "partner"))
        # Away (leaving and coming back through the entrance) around the resident's
        # incidents, so that nobody at home finds or hides them.
        self._away = sorted((s - _AWAY_MARGIN_MS, e + _AWAY_MARGIN_MS) for s, e in away)
        self._day = -1
        self._covered = calendar.start_ms
        self._segments: list[Segment] = []
        self._flows: list[Flow] = []

    def _wake_s(self, day: int) -> float:
        rng = stream(self._seed, "home", self._index, "partner-wake", day)
        return draw_skeleton(self._profile, day, self._cal.kind_of(day), rng).wake_s

    def _plan_next_day(self) -> None:
        cal, day = self._cal, self._day
        rng = stream(self._seed, "home", self._index, "partner-day", day)
        if day < 0:
            builder = plan_first_night(self._profile, 0.0, self._wake_s(0), rng)
            plan_day_index = 0
        else:
            skeleton_rng = stream(self._seed, "home", self._index, "partner-wake", day)
            skeleton = draw_skeleton(self._profile, day, cal.kind_of(day), skeleton_rng)
            ctx = DayContext(
                day=day,
                kind=cal.kind_of(day),
                month=cal.date_of(day).month,
                skeleton=skeleton,
                next_wake_s=86_400 + self._wake_s(day + 1),
            )
            builder = plan_day(self._profile, ctx, rng)
            plan_day_index = day
        segments, flows = builder.to_utc(lambda s: cal.to_utc_ms(plan_day_index, s))
        self._segments.extend(s for s in segments if s[1] > self._covered)
        self._flows.extend(flows)
        if segments:
            self._covered = max(self._covered, segments[-1][1])
        self._day += 1

    def take(self, start: int, end: int) -> tuple[list[Segment], list[Flow]]:
        """The partner's segments and flows in [start, end); calls must move forward."""
        while self._covered < end and self._day < self._cal.days + 1:
            self._plan_next_day()
        segments = clip_segments(self._segments, start, end)
        flows = clip_flows(self._flows, start, end)
        self._segments = [s for s in self._segments if s[1] > end]
        self._flows = [f for f in self._flows if f[1] > end]
        for lo, hi in self._away:
            if lo < end and start < hi:
                segments, flows = _away_window(segments, flows, lo, hi, start, end)
        return segments, flows


def _away_window(
    segments: list[Segment], flows: list[Flow], lo: int, hi: int, start: int, end: int
) -> tuple[list[Segment], list[Flow]]:
    out = Track(lo)
    out.stay(ENTRANCE, ACTIVE, 2 * MS_PER_MINUTE)
    out.stay(AWAY, OUT, hi - lo - 4 * MS_PER_MINUTE)
    out.stay(ENTRANCE, ACTIVE, 2 * MS_PER_MINUTE)
    a, b = max(lo, start), min(hi, end)
    return replace_window(segments, flows, a, b, clip_segments(out.segments, a, b), [])


class Others:
    """Everyone in the home but the resident: a partner, visitors (profiles only)."""

    def __init__(
        self,
        seed: int,
        index: int,
        calendar: HomeCalendar,
        calm_wait_s: float,
        devices: tuple[DeviceSpec, ...],
        incidents: tuple[Incident, ...],
        visits: tuple[Visit, ...],
        couple: bool,
    ) -> None:
        self.seed, self.index, self.calendar = seed, index, calendar
        self.partner = (
            PartnerTrack(seed, index, calendar, resident_windows(incidents)) if couple else None
        )
        self.visits = list(visits)
        self.timelines: list[tuple[int, list[Segment], list[Flow]]] = []  # (end, ...)
        self._cooldowns = tuple(devices[n].cooldown_ms for n in PIR_DEVICES)
        self._hall_cooldown = devices[HALL].cooldown_ms
        self._calm_wait_s = calm_wait_s
        self._sensors: dict[int, tuple[MotionSensors, HallSensor]] = {}

    def sensors(self, person: int) -> tuple[MotionSensors, HallSensor]:
        """A person's own view of the PIRs (their re-arm state is merged afterwards)."""
        if person not in self._sensors:
            self._sensors[person] = (
                MotionSensors(self._cooldowns, self._calm_wait_s),
                HallSensor(HALL, self._hall_cooldown),
            )
        return self._sensors[person]

    def take(self, start: int, end: int) -> list[tuple[int, list[Segment], list[Flow]]]:
        """(person, segments, flows) of the others in [start, end)."""
        out = []
        if self.partner is not None:
            segments, flows = self.partner.take(start, end)
            out.append((1, segments, flows))
        while self.visits and self.visits[0].start_ms < end:
            visit = self.visits.pop(0)
            rng = stream(self.seed, "home", self.index, "visit", visit.start_ms)
            segments, flows = visit_timeline(visit, self.calendar, rng)
            self.timelines.append((visit.end_ms, segments, flows))
        for number, (_, segments, flows) in enumerate(self.timelines):
            out.append((2 + number % 2, clip_segments(segments, start, end),
                        clip_flows(flows, start, end)))  # fmt: skip
        self.timelines = [t for t in self.timelines if t[0] > end]
        return out
