"""The resident's day: an older person living alone, from waking to the next waking.

A day plan is a sequence of segments (room, how much they move) and water flows,
in local time: getting up, the morning wash, breakfast, perhaps a trip to the market or
the clinic, chores and sitting, lunch and the dishes, a nap, an afternoon out or at home,
visiting family at weekends and holidays (more at the Spring Festival), dinner, the
evening, the bedtime wash or shower, and the night with its toilet visits. Ill days are
spent mostly in bed.

Ranges used, with sources given in full in `simulators.figures` (figures as published in
the works cited, recalled without web access at the time of writing):

- water: 80–180 L/person/day for Chinese urban households (GB/T 50331-2002; China Water
  Resources Bulletin); elders alone use less, so about 60–140 L/day here; flushes
  3.5–9 L (GB 25502-2017 and older cisterns), showers at 8 L/min for a few minutes;
- night-time toilet visits: 0.1–3 a night by person, most 1–2 (Bosch & Weiss, J Urol
  2010: ≥1 void a night in ~70–90 % of over-70s, ≥2 in ~30–60 %);
- sleep: wake 04:45–08:15, bed 20:00–23:45, naps of 30–90 min on 20–95 % of days
  (Ohayon et al., Sleep 2004; CLHLS studies of napping in Chinese older adults);
- time out: about 1–5 h a day on average, homebodies under 1–2 h (China Time Use Survey
  2018; GPS studies of older adults).

Each person's own values are drawn in `simulators.profile`. Incidents (falls, wandering,
stays away) are laid over these plans by `simulators.episodes`; the plan only needs to
know when it must not send the resident out (`DayContext.blocked`).
"""

from __future__ import annotations

import random
from collections.abc import Mapping
from dataclasses import dataclass
from types import MappingProxyType

from simulators.layout import AWAY, BATHROOM, BEDROOM, ENTRANCE, KITCHEN, LIVING_ROOM
from simulators.localtime import DayKind
from simulators.profile import HOUR_S, MINUTE_S, DaySkeleton, ResidentProfile
from simulators.randomness import poisson
from simulators.timeline import ACTIVE, ASLEEP, CALM, OUT, RESTING, PlanBuilder

CISTERN_REFILL_LPM = 9.0  # a cistern refills at about 8–12 L/min
TAP_LPM = 4.0  # a basin tap used for washing hands and face
SINK_LPM = 5.0  # a kitchen tap
SHOWER_LPM = 8.0
WASHING_MACHINE_LPM = 10.0
# Family visits by day kind: a multiple of the person's weekend visiting probability.
_VISIT_FACTOR: Mapping[DayKind, float] = MappingProxyType(
    {
        DayKind.WEEKDAY: 0.15,
        DayKind.WEEKEND: 1.0,
        DayKind.HOLIDAY: 2.0,
        DayKind.SPRING_FESTIVAL: 3.0,
    }
)
# Showers by month: elders shower less in the cold months (assumption; common practice).
_SHOWER_SEASON = (0.7, 0.7, 0.8, 1.0, 1.1, 1.3, 1.4, 1.4, 1.2, 1.0, 0.8, 0.7)


@dataclass(frozen=True, slots=True)
class DayContext:
    """What the planner must know about a day beyond the person's habits."""

    day: int
    kind: DayKind
    month: int  # 1–12
    skeleton: DaySkeleton
    next_wake_s: float  # the next day's wake, in seconds after this day's midnight
    sick: bool = False
    # Local-second windows in which the resident must not be planned out of the home
    # (an incident is laid over them and needs the resident at home around it).
    blocked: tuple[tuple[float, float], ...] = ()

    def __post_init__(self) -> None:
        if not self.skeleton.wake_s < self.skeleton.bed_s < self.next_wake_s:
            raise ValueError("need wake < bed < next wake")
        if not 1 <= self.month <= 12:
            raise ValueError("month must be 1–12")


class _DayPlanner:
    """Writes one day into a PlanBuilder; one instance per day."""

    def __init__(self, profile: ResidentProfile, ctx: DayContext, rng: random.Random) -> None:
        self.p = profile
        self.ctx = ctx
        self.rng = rng
        self.b = PlanBuilder(ctx.skeleton.wake_s)
        self.toilet_due = ctx.skeleton.wake_s

    # -- small activities -------------------------------------------------------------

    def _wait(self, low_min: float, high_min: float) -> float:
        return self.rng.uniform(low_min, high_min) * MINUTE_S

    def _next_toilet(self, interval_s: float) -> None:
        self.toilet_due = self.b.t + max(40 * MINUTE_S, self.rng.gauss(interval_s, interval_s / 3))

    def toilet(self, *, wash_probability: float = 0.75, interval_scale: float = 1.0) -> None:
        """A toilet visit: flush (the cistern refills) and usually a hand wash."""
        rng = self.rng
        start = self.b.stay(BATHROOM, ACTIVE, rng.uniform(100, 300))
        flush_at = start + rng.uniform(40, 55)
        self.b.flow(flush_at, self.p.flush_l / CISTERN_REFILL_LPM * 60, CISTERN_REFILL_LPM)
        if rng.random() < wash_probability:
            self.b.flow(flush_at + 5, rng.uniform(10, 30) * self.p.thrift, TAP_LPM)
        self._next_toilet(self.p.toilet_interval_s * interval_scale)

    def _tap_bursts(
        self, start: float, span: float, count: int, seconds: tuple[float, float]
    ) -> None:
        for _ in range(count):
            at = start + self.rng.uniform(0, max(span - seconds[1], 1))
            self.b.flow(at, self.rng.uniform(*seconds) * self.p.thrift, SINK_LPM)

    def shower(self) -> None:
        """Undress, shower (a few minutes of running water, a pause to soap), dress."""
        rng = self.rng
        length = self._wait(15, 25)
        start = self.b.stay(BATHROOM, ACTIVE, length)
        first = rng.uniform(1.5, 4) * MINUTE_S * self.p.thrift
        self.b.flow(start + 3 * MINUTE_S, first, SHOWER_LPM)
        second = rng.uniform(1.5, 4) * MINUTE_S * self.p.thrift
        self.b.flow(start + 4 * MINUTE_S + first, second, SHOWER_LPM)

    def meal(self, cook_min: tuple[float, float], eat_min: tuple[float, float]) -> None:
        """Cook in the kitchen, eat sitting down, wash the dishes."""
        rng = self.rng
        cook = self._wait(*cook_min)
        start = self.b.stay(KITCHEN, ACTIVE, cook)
        self._tap_bursts(start, cook, rng.randint(2, 3), (15, 45))
        self.b.stay(LIVING_ROOM if rng.random() < 0.7 else KITCHEN, CALM, self._wait(*eat_min))
        dishes = self._wait(6, 14)
        start = self.b.stay(KITCHEN, ACTIVE, dishes)
        self._tap_bursts(start, dishes, rng.randint(2, 3), (15, 35))

    def home_until(self, end_s: float) -> None:
        """Fill the time until `end_s` with ordinary home life, toilet visits on time."""
        rng = self.rng
        activity = self.p.activity
        while end_s - self.b.t > 60:
            if self.b.t >= self.toilet_due:
                self.toilet()
                continue
            roll = rng.random()
            if roll < 0.08:
                start = self.b.stay(KITCHEN, ACTIVE, self._wait(3, 6))  # a pot of tea
                self.b.flow(start + 30, rng.uniform(10, 20), SINK_LPM)
                continue
            limit = min(end_s, max(self.toilet_due, self.b.t + 60)) - self.b.t
            if roll < 0.08 + 0.12:
                room, mode, length = BEDROOM, CALM, self._wait(10, 40)
            elif roll < 0.2 + 0.8 * activity:
                room = rng.choice((KITCHEN, KITCHEN, LIVING_ROOM, LIVING_ROOM, BEDROOM, BEDROOM,
                                   BATHROOM, ENTRANCE))  # fmt: skip
                room, mode, length = room, ACTIVE, self._wait(5, 20)
            else:
                room, mode, length = LIVING_ROOM, CALM, self._wait(20, 75)
            self.b.stay(room, mode, min(length, limit))

    def go_out(self, leave_s: float, away_s: float, *, after: int | None = None) -> bool:
        """Leave through the entrance at `leave_s`, come back `away_s` later; False if barred."""
        back_s = leave_s + away_s
        margin = 10 * MINUTE_S
        if leave_s <= self.b.t or back_s >= self.ctx.next_wake_s - 6 * HOUR_S:
            return False
        for start, end in self.ctx.blocked:
            if start < back_s + margin and leave_s - margin < end:
                return False
        self.home_until(leave_s - 2 * MINUTE_S)
        self.b.stay(ENTRANCE, ACTIVE, self.rng.uniform(60, 180))  # shoes and coat
        self.b.stay(AWAY, OUT, back_s - self.b.t)
        self.b.stay(ENTRANCE, ACTIVE, self.rng.uniform(40, 120))
        if after is not None:  # put the shopping away
            start = self.b.stay(after, ACTIVE, self._wait(3, 8))
            self.b.flow(start + 60, self.rng.uniform(20, 60), SINK_LPM)
        self.toilet_due = min(self.toilet_due, self.b.t + self._wait(5, 40))
        return True

    # -- the parts of a day -----------------------------------------------------------

    def morning(self, shower_today: bool, laundry_today: bool) -> None:
        """Get up, wash (maybe shower), breakfast, maybe start the washing machine."""
        rng = self.rng
        self.b.stay(BEDROOM, ACTIVE, self._wait(3, 8))
        start = self.b.stay(BATHROOM, ACTIVE, self._wait(8, 16))
        self.b.flow(start + 60, self.p.flush_l / CISTERN_REFILL_LPM * 60, CISTERN_REFILL_LPM)
        for offset in (150, 300):  # face, then teeth
            self.b.flow(start + offset, rng.uniform(20, 45) * self.p.thrift, TAP_LPM)
        if shower_today:
            self.shower()
        self._next_toilet(self.p.toilet_interval_s)
        start = self.b.stay(KITCHEN, ACTIVE, self._wait(8, 20))
        self.b.flow(start + 60, rng.uniform(15, 40), SINK_LPM)
        self.b.stay(LIVING_ROOM if rng.random() < 0.6 else KITCHEN, CALM, self._wait(10, 25))
        start = self.b.stay(KITCHEN, ACTIVE, self._wait(3, 6))
        self.b.flow(start + 30, rng.uniform(20, 60) * self.p.thrift, SINK_LPM)
        if laundry_today:
            start = self.b.stay(BATHROOM, ACTIVE, self._wait(3, 6))
            for fill_at in (0.0, 25 * MINUTE_S, 40 * MINUTE_S):  # wash, rinse, rinse
                self.b.flow(start + 60 + fill_at, rng.uniform(60, 90), WASHING_MACHINE_LPM)

    def night(self, bed_s: float, scale: float = 1.0) -> None:
        """Bedtime until the next waking, with the night's toilet visits."""
        rng = self.rng
        self.home_until(bed_s)
        end = self.ctx.next_wake_s
        self.b.stay(BEDROOM, ACTIVE, min(self._wait(3, 8), max(end - self.b.t - 60, 0)))
        first, last = self.b.t + 45 * MINUTE_S, end - 20 * MINUTE_S
        visits = sorted(
            rng.uniform(first, last) for _ in range(poisson(rng, self.p.night_voids * scale))
        )
        for at in visits:
            if at < self.b.t + 25 * MINUTE_S or at > last:
                continue  # too close to the previous visit, or no room left before waking
            self.b.stay_until(BEDROOM, ASLEEP, at)
            self.b.stay(BEDROOM, ACTIVE, rng.uniform(30, 80))
            start = self.b.stay(BATHROOM, ACTIVE, rng.uniform(90, 240))
            if rng.random() < 0.9:
                self.b.flow(
                    start + 45, self.p.flush_l / CISTERN_REFILL_LPM * 60, CISTERN_REFILL_LPM
                )
            if rng.random() < 0.5:
                self.b.flow(start + 60, rng.uniform(8, 20), TAP_LPM)
            self.b.stay(BEDROOM, ACTIVE, rng.uniform(20, 60))
        self.b.stay_until(BEDROOM, ASLEEP, end)

    def bedtime(self, shower_today: bool) -> None:
        """The evening wash (or shower), then bed."""
        rng = self.rng
        bed_s = max(self.ctx.skeleton.bed_s, self.b.t + 10 * MINUTE_S)
        routine = 35 * MINUTE_S if shower_today else 15 * MINUTE_S
        self.home_until(bed_s - routine)
        self.toilet(wash_probability=1.0)
        self.b.flow(self.b.t - 30, rng.uniform(30, 60) * self.p.thrift, TAP_LPM)  # face
        if shower_today:
            self.shower()
        self.night(self.b.t)

    def ordinary_day(self) -> None:
        """A day in good health."""
        p, ctx, rng = self.p, self.ctx, self.rng
        shower_p = min(0.95, p.showers_per_week / 7 * _SHOWER_SEASON[ctx.month - 1])
        shower_today = rng.random() < shower_p
        laundry_today = rng.random() < p.laundry_per_week / 7
        outing = p.outing_factor(ctx.day)
        self.morning(shower_today and not p.evening_shower, laundry_today)

        clinic = ctx.kind is DayKind.WEEKDAY and rng.random() < 7 / 5 / p.clinic_interval_days
        if clinic:
            leave = max(self.b.t, 7.5 * HOUR_S) + self._wait(10, 80)
            self.go_out(leave, self._wait(120, 240))
        elif rng.random() < p.market_probability * outing:
            self.go_out(self.b.t + self._wait(20, 90), self._wait(40, 120), after=KITCHEN)

        lunch = max(self.b.t, (11.0 + rng.random()) * HOUR_S)
        self.home_until(lunch)
        self.meal((25, 45), (15, 30))
        if rng.random() < p.nap_probability:
            self.b.stay(BEDROOM, ACTIVE, 90)
            self.b.stay(BEDROOM, ASLEEP, min(p.nap_s * rng.uniform(0.7, 1.3), 2 * HOUR_S))
            self.b.stay(BEDROOM, ACTIVE, 120)

        visit_p = min(0.9, p.family_visit_probability * _VISIT_FACTOR[ctx.kind])
        ate_out = False
        if rng.random() < visit_p:
            away = self._wait(180, 420)
            leave = self.b.t + self._wait(10, 60)
            ate_out = self.go_out(leave, away) and leave + away > 17.5 * HOUR_S
        elif rng.random() < p.afternoon_out_probability * outing:
            self.go_out(self.b.t + self._wait(15, 90), self._wait(60, 180))

        if not ate_out:
            dinner = max(self.b.t, (17.0 + 1.5 * rng.random()) * HOUR_S)
            self.home_until(dinner)
            self.meal((20, 40), (20, 30))
        self.bedtime(shower_today and p.evening_shower)

    def sick_day(self) -> None:
        """Ill: mostly in bed, up for the toilet and a hot drink, no outings, no shower."""
        rng = self.rng
        self.b.stay(BEDROOM, RESTING, self._wait(30, 120))
        self.toilet(wash_probability=0.5, interval_scale=0.8)
        end = self.ctx.skeleton.bed_s - HOUR_S
        while end - self.b.t > 60:
            if self.b.t >= self.toilet_due:
                self.toilet(wash_probability=0.5, interval_scale=0.8)
                continue
            roll = rng.random()
            limit = max(self.toilet_due - self.b.t, 60)
            if roll < 0.15:
                start = self.b.stay(KITCHEN, ACTIVE, self._wait(4, 10))
                self.b.flow(start + 60, rng.uniform(10, 30), SINK_LPM)
            elif roll < 0.3:
                self.b.stay(LIVING_ROOM, CALM, min(self._wait(20, 40), limit))
            elif roll < 0.55:
                self.b.stay(BEDROOM, ASLEEP, min(self._wait(30, 90), limit))
            else:
                self.b.stay(BEDROOM, RESTING, min(self._wait(30, 90), limit))
        self.toilet(wash_probability=0.5)
        self.night(self.b.t, scale=1.3)


def plan_day(profile: ResidentProfile, ctx: DayContext, rng: random.Random) -> PlanBuilder:
    """The plan from this day's waking to the next day's, in local seconds."""
    planner = _DayPlanner(profile, ctx, rng)
    if ctx.sick:
        planner.sick_day()
    else:
        planner.ordinary_day()
    return planner.b


def plan_first_night(
    profile: ResidentProfile, start_s: float, wake_s: float, rng: random.Random
) -> PlanBuilder:
    """Asleep from the simulation's start (local midnight) until the first waking."""
    builder = PlanBuilder(start_s)
    visits = sorted(
        rng.uniform(start_s, wake_s - 20 * MINUTE_S)
        for _ in range(poisson(rng, profile.night_voids * 0.7))
    )
    for at in visits:
        if at < builder.t + 25 * MINUTE_S:
            continue
        builder.stay_until(BEDROOM, ASLEEP, at)
        builder.stay(BEDROOM, ACTIVE, rng.uniform(30, 80))
        start = builder.stay(BATHROOM, ACTIVE, rng.uniform(90, 240))
        builder.flow(start + 45, profile.flush_l / CISTERN_REFILL_LPM * 60, CISTERN_REFILL_LPM)
        builder.stay(BEDROOM, ACTIVE, rng.uniform(20, 60))
    builder.stay_until(BEDROOM, ASLEEP, wake_s)
    return builder
