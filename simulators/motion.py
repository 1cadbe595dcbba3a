"""PIR motion sensors: when each room's sensor fires, given where the resident is.

A PIR fires when it sees movement and is armed; after firing it stays blind for its
cool-down (30–60 s), then re-arms. So a resident moving about a room makes one event per
cool-down, one sitting still makes one now and then, and one asleep (or lying on the
floor) makes none. Walking into a room fires its sensor within a second or two if armed.
"""

from __future__ import annotations

import random

from simulators.events import MOTION, RawEvent
from simulators.timeline import ACTIVE, CALM, RESTING, Segment

_DETECT_MS = (300, 2300)  # from entering the field of view to the event
_ACTIVE_JITTER_MS = 4000  # a moving person is seen again within seconds of re-arming
RESTING_WAIT_S = 15 * 60.0  # mean pause between movements in bed, awake and ill


class MotionSensors:
    """The PIRs of one home, with the re-arm state that carries over between chunks."""

    __slots__ = ("_armed_at", "_cooldowns", "_last_room", "calm_wait_s")

    def __init__(self, cooldowns_ms: tuple[int, ...], calm_wait_s: float) -> None:
        if any(c <= 0 for c in cooldowns_ms) or calm_wait_s <= 0:
            raise ValueError("cool-downs and the calm wait must be positive")
        self._cooldowns = cooldowns_ms
        self._armed_at = [-(2**62)] * len(cooldowns_ms)  # every sensor armed at the start
        self._last_room = -1
        self.calm_wait_s = calm_wait_s

    def events(self, segments: list[Segment], rng: random.Random, out: list[RawEvent]) -> None:
        """Append the motion events the segments cause, in order per sensor."""
        # random() and expovariate() are used directly: randint() costs several times more.
        random, expovariate = rng.random, rng.expovariate
        detect_low, detect_span = _DETECT_MS[0], _DETECT_MS[1] - _DETECT_MS[0]
        armed_at = self._armed_at
        for start, end, room, mode in segments:
            if room < 0 or mode > RESTING:  # away, asleep or lying still
                self._last_room = room
                continue
            cooldown = self._cooldowns[room]
            entered = room != self._last_room
            self._last_room = room
            t = start + detect_low + int(random() * detect_span)
            if mode == ACTIVE:
                t = max(t, armed_at[room])
                last = -1
                while t < end:
                    out.append((t, room, MOTION, 0, 0))
                    last = t
                    t += cooldown + int(random() * _ACTIVE_JITTER_MS)
            else:
                rate = 1.0 / (self.calm_wait_s if mode == CALM else RESTING_WAIT_S)
                if not entered:
                    t = start + int(expovariate(rate) * 1000)
                t = max(t, armed_at[room])
                last = -1
                while t < end:
                    out.append((t, room, MOTION, 0, 0))
                    last = t
                    t += cooldown + int(expovariate(rate) * 1000)
            if last >= 0:
                armed_at[room] = last + cooldown


class HallSensor:
    """The hall PIR: it sees the resident pass from one room to another, and come and go
    (the entrance opens onto the hall), not sit in a room."""

    __slots__ = ("_armed_at", "_cooldown", "_last_room", "device")

    def __init__(self, device: int, cooldown_ms: int) -> None:
        if cooldown_ms <= 0:
            raise ValueError("the cool-down must be positive")
        self.device = device
        self._cooldown = cooldown_ms
        self._armed_at = -(2**62)
        self._last_room = -2  # nowhere yet: the first room seen is no passage

    def events(self, segments: list[Segment], rng: random.Random, out: list[RawEvent]) -> None:
        """Append the hall's motion events for the segments."""
        random = rng.random
        detect_low, detect_span = _DETECT_MS[0], _DETECT_MS[1] - _DETECT_MS[0]
        device, cooldown = self.device, self._cooldown
        for start, _end, room, mode in segments:
            passed = room != self._last_room and self._last_room != -2
            self._last_room = room
            if room < 0 or not passed or mode > RESTING:
                continue
            t = start + detect_low + int(random() * detect_span)
            if t >= self._armed_at:
                out.append((t, device, MOTION, 0, 0))
                self._armed_at = t + cooldown


def keep_rearmed(events: list[RawEvent], cooldowns: dict[int, int]) -> list[RawEvent]:
    """Sorted events with the motion a busy PIR could not have sent removed: when two
    people move in one room, the sensor still fires at most once per cool-down."""
    armed_at: dict[int, int] = {}
    kept = []
    for event in events:
        if event[2] == MOTION:
            device, ts = event[1], event[0]
            if ts < armed_at.get(device, -(2**62)):
                continue
            armed_at[device] = ts + cooldowns[device]
        kept.append(event)
    return kept
