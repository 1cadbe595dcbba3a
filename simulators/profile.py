"""Who lives in a home: a resident's own habits, drawn once from the seed.

Each person differs (an early riser or a late one, a frequent night-time toilet visitor or
not, a homebody or often out) and their habits drift slowly over the weeks. The figures
behind the ranges are in `simulators.figures`.
"""

from __future__ import annotations

import math
import random
from dataclasses import dataclass

from simulators.localtime import DayKind

HOUR_S = 3600.0
MINUTE_S = 60.0


@dataclass(frozen=True, slots=True)
class ResidentProfile:
    """One person's habits. Times are local seconds after midnight."""

    chronotype: str  # "early", "typical" or "late"
    wake_s: float
    bed_s: float
    day_jitter_s: float  # day-to-day spread of wake and bed times
    drift_s_per_day: float  # slow trend of the whole schedule
    drift_wave_s: float  # amplitude of a slow wave in the schedule
    drift_period_days: float
    drift_phase: float
    night_voids: float  # mean night-time toilet visits
    night_voider: str  # "rare", "common" or "frequent"
    toilet_interval_s: float  # mean time between daytime toilet visits
    nap_probability: float
    nap_s: float
    outgoing: str  # "homebody", "average" or "active"
    market_probability: float  # a morning shopping trip, per day
    afternoon_out_probability: float  # park, friends, mahjong, per day
    family_visit_probability: float  # visiting family, per weekend day
    outing_trend_per_day: float  # relative drift of going out, per day
    clinic_interval_days: float
    showers_per_week: float
    evening_shower: bool
    laundry_per_week: float
    thrift: float  # scales water volumes: 0.55 frugal … 1.1 generous
    flush_l: float  # the home's toilet
    activity: float  # share of awake home time spent moving rather than sitting
    calm_wait_s: float  # mean pause between motions while sitting

    def __post_init__(self) -> None:
        if not 0 < self.wake_s < self.bed_s < 24 * HOUR_S:
            raise ValueError("need 0 < wake_s < bed_s < 24 h")
        for name in ("nap_probability", "market_probability", "afternoon_out_probability"):
            if not 0 <= getattr(self, name) <= 1:
                raise ValueError(f"{name} must be a probability")
        if self.night_voids < 0 or self.thrift <= 0 or self.calm_wait_s <= 0:
            raise ValueError("night_voids, thrift and calm_wait_s must be positive")

    def drift_s(self, day: int) -> float:
        """How far the schedule has moved by `day`: a trend plus a slow wave."""
        wave = math.sin(2 * math.pi * day / self.drift_period_days + self.drift_phase)
        return self.drift_s_per_day * day + self.drift_wave_s * wave

    def outing_factor(self, day: int) -> float:
        """Multiplier on going out by `day`: some get more housebound, some less."""
        return max(0.3, 1.0 + self.outing_trend_per_day * day)


def _pick(rng: random.Random, weighted: tuple[tuple[str, float], ...]) -> str:
    roll = rng.random() * sum(w for _, w in weighted)
    for name, weight in weighted:
        roll -= weight
        if roll < 0:
            return name
    return weighted[-1][0]


def draw_profile(rng: random.Random) -> ResidentProfile:
    """Draw one resident's habits."""
    chronotype = _pick(rng, (("early", 0.35), ("typical", 0.45), ("late", 0.2)))
    wake_h, bed_h = {
        "early": ((4.75, 5.75), (20.0, 21.25)),
        "typical": ((5.75, 6.75), (21.0, 22.25)),
        "late": ((6.75, 8.25), (22.25, 23.75)),
    }[chronotype]
    voider = _pick(rng, (("rare", 0.25), ("common", 0.5), ("frequent", 0.25)))
    voids = {"rare": (0.1, 0.5), "common": (0.8, 1.8), "frequent": (2.0, 3.0)}[voider]
    outgoing = _pick(rng, (("homebody", 0.35), ("average", 0.4), ("active", 0.25)))
    market, afternoon = {
        "homebody": ((0.15, 0.4), (0.03, 0.15)),
        "average": ((0.4, 0.7), (0.15, 0.4)),
        "active": ((0.65, 0.9), (0.4, 0.75)),
    }[outgoing]
    return ResidentProfile(
        chronotype=chronotype,
        wake_s=rng.uniform(*wake_h) * HOUR_S,
        bed_s=rng.uniform(*bed_h) * HOUR_S,
        day_jitter_s=rng.uniform(10, 30) * MINUTE_S,
        drift_s_per_day=rng.uniform(-20, 20),
        drift_wave_s=rng.uniform(0, 20) * MINUTE_S,
        drift_period_days=rng.uniform(14, 42),
        drift_phase=rng.uniform(0, 2 * math.pi),
        night_voids=rng.uniform(*voids),
        night_voider=voider,
        toilet_interval_s=rng.uniform(2.0, 3.5) * HOUR_S,
        nap_probability=rng.uniform(0.2, 0.95),
        nap_s=rng.uniform(30, 90) * MINUTE_S,
        outgoing=outgoing,
        market_probability=rng.uniform(*market),
        afternoon_out_probability=rng.uniform(*afternoon),
        family_visit_probability=rng.uniform(0.05, 0.3),
        outing_trend_per_day=rng.uniform(-0.004, 0.003),
        clinic_interval_days=rng.uniform(10, 35),
        showers_per_week=rng.uniform(2, 7),
        evening_shower=rng.random() < 0.7,
        laundry_per_week=rng.uniform(0.7, 2.5),  # many hand-wash small items
        thrift=rng.uniform(0.55, 1.1),
        flush_l=rng.choice((3.5, 4.5, 4.5, 6.0, 6.0, 9.0)),  # dual flush used well … old cistern
        activity=rng.uniform(0.3, 0.6),
        calm_wait_s=rng.uniform(2, 7) * MINUTE_S,
    )


@dataclass(frozen=True, slots=True)
class DaySkeleton:
    """A day's anchor times, drawn on their own so any day's can be known in advance."""

    wake_s: float
    bed_s: float


def draw_skeleton(
    profile: ResidentProfile, day: int, kind: DayKind, rng: random.Random
) -> DaySkeleton:
    """Wake and bed time of `day` (local seconds after that day's midnight)."""
    drift = profile.drift_s(day)
    lie_in = 20 * MINUTE_S if kind is not DayKind.WEEKDAY else 0.0
    wake = profile.wake_s + drift + lie_in + rng.gauss(0, profile.day_jitter_s)
    bed = profile.bed_s + drift + rng.gauss(0, profile.day_jitter_s)
    wake = min(max(wake, 4.0 * HOUR_S), 9.5 * HOUR_S)
    bed = min(max(bed, 19.5 * HOUR_S), 23.9 * HOUR_S)
    return DaySkeleton(wake_s=wake, bed_s=bed)
