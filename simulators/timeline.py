"""Where the resident is and what water is running: the timeline the devices observe.

A plan is two lists of plain tuples, kept as tuples (not objects) because a home makes
tens of thousands of them and the record mode must be fast:

- a segment `(start_ms, end_ms, room, mode)`: the resident is in `room` doing `mode`;
- a flow `(start_ms, end_ms, rate_ml_per_min)`: water running at a constant rate.

Rates are integers (millilitres per minute) so the meter's index sums exactly and is
identical on every machine.
"""

from __future__ import annotations

from collections.abc import Callable

from simulators.layout import BEDROOM

# Modes: how much the resident moves, which sets how often a PIR fires.
ACTIVE = 0  # walking about, cooking, washing: a motion event every re-arm
CALM = 1  # sitting: eating, watching TV; a motion now and then
RESTING = 2  # lying in bed awake (ill): rarely a motion
ASLEEP = 3  # no motion
LYING = 4  # on the floor after a fall: no motion
OUT = 5  # away from home
MODE_NAMES: tuple[str, ...] = ("active", "calm", "resting", "asleep", "lying", "out")

Segment = tuple[int, int, int, int]
Flow = tuple[int, int, int]


class PlanBuilder:
    """Builds a day's plan in local seconds, then converts it to UTC milliseconds.

    The cursor `t` is the local time (seconds after the day's midnight) at which the
    next segment starts; each `stay` appends a segment and moves the cursor.
    """

    __slots__ = ("_flows", "_segments", "t")

    def __init__(self, start_s: float) -> None:
        self.t = start_s
        self._segments: list[tuple[float, float, int, int]] = []
        self._flows: list[tuple[float, float, int]] = []

    def stay(self, room: int, mode: int, seconds: float) -> float:
        """Spend `seconds` in `room` doing `mode`; returns the segment's start."""
        start = self.t
        if seconds > 0:
            self._segments.append((start, start + seconds, room, mode))
            self.t = start + seconds
        return start

    def stay_until(self, room: int, mode: int, end_s: float) -> float:
        """Stay in `room` until local time `end_s` (nothing if it has passed)."""
        return self.stay(room, mode, end_s - self.t)

    def flow(self, start_s: float, seconds: float, litres_per_min: float) -> None:
        """Water runs from `start_s` for `seconds` at `litres_per_min`."""
        if seconds > 0 and litres_per_min > 0:
            rate = round(litres_per_min * 10) * 100  # 0.1 L/min steps, as meters resolve
            self._flows.append((start_s, start_s + seconds, rate))

    def last_room(self) -> int:
        """The room of the latest segment (BEDROOM before any)."""
        return self._segments[-1][2] if self._segments else BEDROOM

    def to_utc(self, convert: Callable[[float], int]) -> tuple[list[Segment], list[Flow]]:
        """The plan in UTC ms, `convert` mapping local seconds to epoch ms.

        Boundaries are made non-decreasing: a DST change can map a later local time to
        an earlier instant, and the devices need an ordered timeline.
        """
        segments: list[Segment] = []
        last = -(2**62)
        for start_s, end_s, room, mode in self._segments:
            start = max(convert(start_s), last)
            end = max(convert(end_s), start)
            last = end
            if end > start:
                segments.append((start, end, room, mode))
        flows = [(convert(s), convert(e), rate) for s, e, rate in self._flows]
        return segments, [f for f in flows if f[1] > f[0]]


def clip_segments(segments: list[Segment], start_ms: int, end_ms: int) -> list[Segment]:
    """The parts of `segments` inside [start_ms, end_ms)."""
    out: list[Segment] = []
    for s, e, room, mode in segments:
        s2 = max(s, start_ms)
        e2 = min(e, end_ms)
        if e2 > s2:
            out.append((s2, e2, room, mode))
    return out


def clip_flows(flows: list[Flow], start_ms: int, end_ms: int) -> list[Flow]:
    """The parts of `flows` inside [start_ms, end_ms)."""
    out: list[Flow] = []
    for s, e, rate in flows:
        s2 = max(s, start_ms)
        e2 = min(e, end_ms)
        if e2 > s2:
            out.append((s2, e2, rate))
    return out


def replace_window(
    segments: list[Segment],
    flows: list[Flow],
    start_ms: int,
    end_ms: int,
    new_segments: list[Segment],
    new_flows: list[Flow],
) -> tuple[list[Segment], list[Flow]]:
    """Replace everything planned in [start_ms, end_ms) by the new segments and flows.

    A planned flow that began before the window stops at its start: whatever the
    resident was doing is interrupted by what happens in the window.
    """
    kept = [seg for seg in segments if seg[1] <= start_ms or seg[0] >= end_ms]
    for s, e, room, mode in segments:
        if s < start_ms < e:
            kept.append((s, start_ms, room, mode))
        if s < end_ms < e:
            kept.append((end_ms, e, room, mode))
    kept_flows = [f for f in flows if f[1] <= start_ms or f[0] >= end_ms]
    for s, e, rate in flows:
        if s < start_ms < e:
            kept_flows.append((s, start_ms, rate))
    kept.extend(new_segments)
    kept_flows.extend(new_flows)
    kept.sort()
    kept_flows.sort()
    return kept, kept_flows
