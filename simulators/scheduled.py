"""Incidents placed on purpose: "a fall in home 2 at 09:30", for demos and end-to-end
tests that must see a given incident early, rather than wait for the random draw."""

from __future__ import annotations

import enum
from dataclasses import dataclass
from datetime import datetime

from simulators.incidents import Fall, Incident, IncidentKind, Smoke, WaterRunning
from simulators.layout import BATHROOM, KITCHEN
from simulators.localtime import MS_PER_MINUTE, epoch_ms

HELP_MS = 30 * MS_PER_MINUTE  # a fallen resident found: helpers stay half an hour
TAP_RATE_ML_PER_MIN = 5_000


class ScheduledKind(enum.StrEnum):
    """What can be scheduled: the incidents a demo or a scenario test shows."""

    FALL = "fall"  # on the bathroom floor, found at the end
    SMOKE = "smoke"  # the smoke alarm sounds, then clears
    TAP_LEFT_RUNNING = "tap_left_running"  # the kitchen tap left on


@dataclass(frozen=True, slots=True)
class ScheduledIncident:
    """Home number `home` (0-based) has a `kind` incident from `at`, for `minutes`."""

    home: int
    kind: ScheduledKind
    at: datetime
    minutes: float

    def __post_init__(self) -> None:
        if self.home < 0:
            raise ValueError("home must be a home index (0 or more)")
        if self.at.tzinfo is None:
            raise ValueError("at must be timezone-aware")
        if not 1 <= self.minutes <= 7 * 24 * 60:
            raise ValueError("minutes must be from 1 to a week")

    def incident(self) -> Incident:
        """The simulator's incident for this schedule entry."""
        start = epoch_ms(self.at)
        end = start + round(self.minutes * MS_PER_MINUTE)
        if self.kind is ScheduledKind.FALL:
            return Fall(IncidentKind.FALL, start, end, BATHROOM, True, HELP_MS, 0)
        if self.kind is ScheduledKind.SMOKE:
            return Smoke(IncidentKind.SMOKE, start, end)
        return WaterRunning(IncidentKind.TAP_LEFT_RUNNING, start, end, KITCHEN, TAP_RATE_ML_PER_MIN)
