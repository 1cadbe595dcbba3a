"""How an incident shows in the resident's timeline: segments laid over the day's plan.

Each resident incident becomes an `Overlay`: a window of the timeline that replaces the
plan (a fall: the walk to the bathroom, then lying still until found or up again). The
day planner keeps the resident at home around overlays (`blocked_windows`), so an overlay
never cuts an outing in half and the resident never vanishes without passing the entrance.
"""

from __future__ import annotations

import random
from dataclasses import dataclass

from simulators.incidents import (
    Fall,
    Incident,
    IncidentKind,
    NightWandering,
    Smoke,
    StayAway,
    WaterRunning,
)
from simulators.layout import AWAY, BATHROOM, BEDROOM, ENTRANCE, KITCHEN, LIVING_ROOM
from simulators.localtime import MS_PER_MINUTE, MS_PER_SECOND, HomeCalendar
from simulators.timeline import ACTIVE, CALM, LYING, OUT, Flow, Segment

BLOCK_MARGIN_MS = 45 * MS_PER_MINUTE  # the resident stays home this long around an overlay
_SINK_ML = 5000
_FLUSH_ML = 9000


@dataclass(frozen=True, slots=True)
class Overlay:
    """A stretch of timeline that replaces the day plan in [start_ms, end_ms)."""

    start_ms: int
    end_ms: int
    segments: tuple[Segment, ...]
    flows: tuple[Flow, ...] = ()

    def __post_init__(self) -> None:
        if self.end_ms <= self.start_ms:
            raise ValueError("an overlay must end after it starts")


class Track:
    """Appends segments back to back from a start time, in UTC ms."""

    def __init__(self, start_ms: int) -> None:
        self.t = start_ms
        self.segments: list[Segment] = []
        self.flows: list[Flow] = []

    def stay(self, room: int, mode: int, ms: int) -> int:
        """Spend `ms` in `room` doing `mode`; returns the segment's start."""
        start = self.t
        if ms > 0:
            self.segments.append((start, start + ms, room, mode))
            self.t = start + ms
        return start

    def flow(self, start_ms: int, ms: int, rate_ml_per_min: int) -> None:
        """Water runs from `start_ms` for `ms`."""
        self.flows.append((start_ms, start_ms + ms, rate_ml_per_min))

    def overlay(self, start_ms: int) -> Overlay:
        """Everything appended so far, as an overlay from `start_ms`."""
        return Overlay(start_ms, self.t, tuple(self.segments), tuple(self.flows))


def _minutes(rng: random.Random, low: float, high: float) -> int:
    return round(rng.uniform(low, high) * MS_PER_MINUTE)


def _fall(inc: Fall, night: bool, rng: random.Random) -> Overlay:
    start = inc.start_ms - 3 * MS_PER_MINUTE
    track = Track(start)
    if night and inc.room != BEDROOM:  # got up from bed, then went to the bathroom
        track.stay(BEDROOM, ACTIVE, MS_PER_MINUTE)
    track.stay(inc.room, ACTIVE, inc.start_ms - track.t)
    track.stay(inc.room, LYING, inc.end_ms - inc.start_ms)
    if not inc.found:  # gets up alone, slowly, and sits down to recover
        track.stay(inc.room, ACTIVE, _minutes(rng, 4, 10))
        track.stay(LIVING_ROOM, CALM, _minutes(rng, 20, 40))
        return track.overlay(start)
    track.stay(ENTRANCE, ACTIVE, MS_PER_MINUTE)  # family, a neighbour or the advisor lets in
    track.stay(inc.room, ACTIVE, inc.help_ms - MS_PER_MINUTE)
    if inc.hospital_until_ms:
        track.stay(ENTRANCE, ACTIVE, 2 * MS_PER_MINUTE)
        track.stay(AWAY, OUT, inc.hospital_until_ms - track.t)
        track.stay(ENTRANCE, ACTIVE, 2 * MS_PER_MINUTE)
    else:
        track.stay(LIVING_ROOM, CALM, _minutes(rng, 10, 30))
        track.stay(ENTRANCE, ACTIVE, MS_PER_MINUTE)  # the helper leaves
    track.stay(LIVING_ROOM, CALM, _minutes(rng, 20, 40))
    return track.overlay(start)


def _tap(inc: WaterRunning, rng: random.Random) -> list[Overlay]:
    """Turns the tap on (and forgets it), later comes back and turns it off."""
    on = Track(inc.start_ms - 2 * MS_PER_MINUTE)
    on.stay(inc.room, ACTIVE, 3 * MS_PER_MINUTE)
    off = Track(inc.end_ms - 30 * MS_PER_SECOND)
    off.stay(inc.room, ACTIVE, _minutes(rng, 2, 4))
    return [
        on.overlay(inc.start_ms - 2 * MS_PER_MINUTE),
        off.overlay(inc.end_ms - 30 * MS_PER_SECOND),
    ]


def _wandering(inc: NightWandering, rng: random.Random) -> Overlay:
    """Room to room at night, opening the door, sitting a while, back to bed."""
    track = Track(inc.start_ms)
    track.stay(BEDROOM, ACTIVE, _minutes(rng, 1, 2))
    room = BEDROOM
    choices = (
        LIVING_ROOM,
        LIVING_ROOM,
        LIVING_ROOM,
        KITCHEN,
        KITCHEN,
        ENTRANCE,
        ENTRANCE,
        BATHROOM,
    )
    last_start = inc.end_ms - 2 * MS_PER_MINUTE
    while track.t < last_start:
        room = rng.choice([r for r in choices if r != room])
        sitting = room == LIVING_ROOM and rng.random() < 0.35
        length = _minutes(rng, 5, 15) if sitting else _minutes(rng, 1, 8)
        start = track.stay(room, CALM if sitting else ACTIVE, min(length, last_start - track.t))
        if room == KITCHEN and rng.random() < 0.3:
            track.flow(start + 20 * MS_PER_SECOND, 20 * MS_PER_SECOND, _SINK_ML)
        elif room == BATHROOM and rng.random() < 0.4:
            track.flow(start + 30 * MS_PER_SECOND, 40 * MS_PER_SECOND, _FLUSH_ML)
    track.stay(BEDROOM, ACTIVE, inc.end_ms - track.t)
    return track.overlay(inc.start_ms)


def _smoke(inc: Smoke, rng: random.Random) -> Overlay:
    """Cooking; the pan smokes; the door is opened to clear it; dinner is rescued."""
    start = inc.start_ms - _minutes(rng, 10, 25)
    track = Track(start)
    track.stay(KITCHEN, ACTIVE, inc.start_ms - start + MS_PER_MINUTE)
    track.flow(start + MS_PER_MINUTE, 60 * MS_PER_SECOND, _SINK_ML)
    track.flow(inc.start_ms + 20 * MS_PER_SECOND, 30 * MS_PER_SECOND, _SINK_ML)
    if inc.end_ms - inc.start_ms > 5 * MS_PER_MINUTE:
        track.stay(ENTRANCE, ACTIVE, MS_PER_MINUTE)  # opens the door to let the smoke out
    track.stay(KITCHEN, ACTIVE, inc.end_ms - track.t + _minutes(rng, 3, 8))
    track.stay(LIVING_ROOM, CALM, _minutes(rng, 10, 20))
    return track.overlay(start)


def _stay_away(inc: StayAway) -> Overlay:
    """Leaves through the entrance, comes back days later through it."""
    start = inc.start_ms - 3 * MS_PER_MINUTE
    track = Track(start)
    track.stay(ENTRANCE, ACTIVE, 3 * MS_PER_MINUTE)
    track.stay(AWAY, OUT, inc.end_ms - inc.start_ms)
    track.stay(ENTRANCE, ACTIVE, 2 * MS_PER_MINUTE)
    track.stay(BEDROOM, ACTIVE, 5 * MS_PER_MINUTE)  # unpacking
    track.stay(LIVING_ROOM, CALM, 20 * MS_PER_MINUTE)
    return track.overlay(start)


def build_overlays(
    incidents: tuple[Incident, ...], calendar: HomeCalendar, rng: random.Random
) -> tuple[Overlay, ...]:
    """The timeline overlays of a home's incidents, sorted by start."""
    overlays: list[Overlay] = []
    for inc in incidents:
        if isinstance(inc, Fall):
            overlays.append(_fall(inc, calendar.local_hour(inc.start_ms) < 6, rng))
        elif isinstance(inc, WaterRunning) and inc.kind is IncidentKind.TAP_LEFT_RUNNING:
            overlays.extend(_tap(inc, rng))
        elif isinstance(inc, NightWandering):
            overlays.append(_wandering(inc, rng))
        elif isinstance(inc, Smoke):
            overlays.append(_smoke(inc, rng))
        elif isinstance(inc, StayAway):
            overlays.append(_stay_away(inc))
    overlays.sort(key=lambda o: (o.start_ms, o.end_ms))
    return tuple(overlays)


def incident_flows(incidents: tuple[Incident, ...]) -> tuple[Flow, ...]:
    """Water that runs because of an incident (a tap left on, a leak), sorted by start."""
    flows = [
        (inc.start_ms, inc.end_ms, inc.rate_ml_per_min)
        for inc in incidents
        if isinstance(inc, WaterRunning)
    ]
    return tuple(sorted(flows))


def blocked_windows(
    incidents: tuple[Incident, ...], overlays: tuple[Overlay, ...]
) -> tuple[tuple[int, int], ...]:
    """UTC-ms windows in which the day plan must keep the resident at home."""
    windows = [(o.start_ms - BLOCK_MARGIN_MS, o.end_ms + BLOCK_MARGIN_MS) for o in overlays]
    for inc in incidents:  # a forgetful resident stays in while the tap runs
        if isinstance(inc, WaterRunning) and inc.kind is IncidentKind.TAP_LEFT_RUNNING:
            windows.append((inc.start_ms - BLOCK_MARGIN_MS, inc.end_ms + BLOCK_MARGIN_MS))
    return tuple(sorted(windows))
