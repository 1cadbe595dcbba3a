"""Who is on duty for a street at a moment: rotations and overrides, as on-call tools have
them. Pure.

A street office runs rotations: each names its street, a tier (the primary advisor, or
the backup), a layer name ("day", "night", "weekend"), the advisors in turn, the moment
of the first handoff and the shift length. The advisor on duty is the one whose turn it
is: `(local time - start) // shift` counted round the participants. Handoffs happen at
the start's wall-clock time in the rotation's time zone, so a daily 08:00 handoff stays at
08:00 local time.

A rotation may be restricted to part of the day (`window_start`-`window_end`, local, may
span midnight: 20:00-08:00) and to some days (ISO weekdays, 1 = Monday; a window that
spans midnight belongs to the day it starts). Where several rotations of a tier cover a
moment, the highest `priority` wins (a weekend layer above the weekday layers), then the
most recently made. An override (a person covering a street from one moment to another:
leave, a swap) wins over every rotation of its tier; of overlapping overrides the most
recently made wins.
"""

from __future__ import annotations

import enum
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, time, timedelta
from zoneinfo import ZoneInfo

MAX_PARTICIPANTS = 50
MIN_SHIFT_S = 15 * 60  # shorter shifts are a typo, not a rota
MAX_SHIFT_S = 28 * 86400
ALL_DAYS = frozenset(range(1, 8))


class Tier(enum.StrEnum):
    """Which of a home's advisor roles a rotation fills."""

    PRIMARY = "primary"
    BACKUP = "backup"


class Source(enum.StrEnum):
    """Why someone is on duty."""

    ROTATION = "rotation"
    OVERRIDE = "override"


@dataclass(frozen=True, slots=True)
class Rotation:
    """One layer of a street's rota."""

    id: int
    street: str
    layer: str
    participants: tuple[str, ...]  # person refs (user names), in turn order
    start: datetime  # aware: the first handoff
    shift_s: int
    timezone: str = "Asia/Shanghai"
    tier: Tier = Tier.PRIMARY
    window_start: time | None = None  # local; both or neither
    window_end: time | None = None
    days: frozenset[int] = ALL_DAYS  # ISO weekdays the window may start on
    priority: int = 0

    def __post_init__(self) -> None:
        if not self.street.strip():
            raise ValueError("a rotation needs a street")
        if not self.layer.strip():
            raise ValueError("a rotation needs a layer name (day, night, weekend...)")
        if not 1 <= len(self.participants) <= MAX_PARTICIPANTS:
            raise ValueError(f"a rotation needs 1 to {MAX_PARTICIPANTS} participants")
        if any(not p.strip() for p in self.participants):
            raise ValueError("participants must be non-empty user names")
        if self.start.tzinfo is None:
            raise ValueError("the rotation start needs a time zone")
        if not MIN_SHIFT_S <= self.shift_s <= MAX_SHIFT_S:
            raise ValueError(
                f"shift length must be {MIN_SHIFT_S // 60} min to {MAX_SHIFT_S // 86400} days"
            )
        ZoneInfo(self.timezone)  # raises for an unknown zone
        if (self.window_start is None) != (self.window_end is None):
            raise ValueError("give both ends of the daily window, or neither")
        if self.window_start is not None and self.window_start == self.window_end:
            raise ValueError("the daily window needs a start different from its end")
        if not self.days or not self.days <= ALL_DAYS:
            raise ValueError("days are ISO weekdays 1 (Monday) to 7 (Sunday)")

    def covers(self, at: datetime) -> bool:
        """Whether the rotation's window and days include `at`."""
        if at < self.start:
            return False
        local = at.astimezone(ZoneInfo(self.timezone))
        clock = local.time().replace(tzinfo=None)
        day = local.date()
        if self.window_start is None or self.window_end is None:
            return day.isoweekday() in self.days
        if self.window_start < self.window_end:
            inside = self.window_start <= clock < self.window_end
        else:  # spans midnight: the early-morning part belongs to the day before
            inside = clock >= self.window_start or clock < self.window_end
            if clock < self.window_end:
                day -= timedelta(days=1)
        return inside and day.isoweekday() in self.days

    def turn(self, at: datetime) -> int:
        """The index of the participant whose shift holds `at` (at or after the start)."""
        zone = ZoneInfo(self.timezone)
        local = at.astimezone(zone).replace(tzinfo=None)
        first = self.start.astimezone(zone).replace(tzinfo=None)
        shifts = int((local - first).total_seconds() // self.shift_s)
        return shifts % len(self.participants)

    def on_duty(self, at: datetime) -> str | None:
        """The participant on duty at `at`, or None outside the rotation's window."""
        if not self.covers(at):
            return None
        return self.participants[self.turn(at)]


@dataclass(frozen=True, slots=True)
class Override:
    """A person covering a street's tier from `start` until `end`."""

    id: int
    street: str
    person: str
    start: datetime
    end: datetime
    tier: Tier = Tier.PRIMARY
    reason: str | None = None

    def __post_init__(self) -> None:
        if not self.street.strip() or not self.person.strip():
            raise ValueError("an override needs a street and a person")
        if self.start.tzinfo is None or self.end.tzinfo is None:
            raise ValueError("override times need a time zone")
        if self.end <= self.start:
            raise ValueError("an override must end after it starts")

    def covers(self, at: datetime) -> bool:
        """Whether `at` falls in [start, end)."""
        return self.start <= at < self.end


@dataclass(frozen=True, slots=True)
class OnDuty:
    """Who is on duty, and why."""

    person: str
    street: str
    tier: Tier
    source: Source
    layer: str | None  # the rotation's layer; None for an override
    ref_id: int  # the rotation's or the override's id


@dataclass(frozen=True, slots=True)
class DutySchedule:
    """Every rotation and override (of one street, or of all)."""

    rotations: tuple[Rotation, ...] = ()
    overrides: tuple[Override, ...] = ()

    def streets(self) -> list[str]:
        """The streets with any rotation or override, sorted."""
        return sorted({r.street for r in self.rotations} | {o.street for o in self.overrides})

    def has_rota(self, street: str, tier: Tier = Tier.PRIMARY) -> bool:
        """Whether the street has any rotation or override for the tier."""
        return any(r.street == street and r.tier is tier for r in self.rotations) or any(
            o.street == street and o.tier is tier for o in self.overrides
        )


def who_is_on_duty(
    schedule: DutySchedule, street: str, at: datetime, tier: Tier = Tier.PRIMARY
) -> OnDuty | None:
    """The person on duty for `street`'s `tier` at `at`; None when nobody is scheduled.

    An override covering `at` wins; otherwise the covering rotation of highest priority
    (ties: the most recently made, the higher id).
    """
    if at.tzinfo is None:
        raise ValueError("`at` needs a time zone")
    overrides = [
        o for o in schedule.overrides if o.street == street and o.tier is tier and o.covers(at)
    ]
    if overrides:
        o = max(overrides, key=lambda o: o.id)
        return OnDuty(o.person, street, tier, Source.OVERRIDE, None, o.id)
    covering = [
        r for r in schedule.rotations if r.street == street and r.tier is tier and r.covers(at)
    ]
    if not covering:
        return None
    r = max(covering, key=lambda r: (r.priority, r.id))
    return OnDuty(r.participants[r.turn(at)], street, tier, Source.ROTATION, r.layer, r.id)


def on_duty_now(schedule: DutySchedule, at: datetime, streets: Iterable[str]) -> list[OnDuty]:
    """Who is on duty at `at` on each of `streets`, primary then backup (nobody: left out)."""
    out = []
    for street in streets:
        for tier in Tier:
            found = who_is_on_duty(schedule, street, at, tier)
            if found is not None:
                out.append(found)
    return out


def parse_days(text: str) -> frozenset[int]:
    """`mon-fri`, `sat,sun`, `1-5`, `all` → ISO weekdays; ValueError with what went wrong."""
    names = {"mon": 1, "tue": 2, "wed": 3, "thu": 4, "fri": 5, "sat": 6, "sun": 7}

    def one(token: str) -> int:
        token = token.strip().lower()[:3]
        if token in names:
            return names[token]
        if token.isdigit() and 1 <= int(token) <= 7:
            return int(token)
        raise ValueError(f"days: {token!r} is not a weekday (mon..sun or 1..7)")

    text = text.strip().lower()
    if text in ("all", "*", ""):
        return ALL_DAYS
    days: set[int] = set()
    for part in text.split(","):
        if "-" in part:
            first, last = (one(p) for p in part.split("-", 1))
            if first > last:
                raise ValueError(f"days: {part!r} runs backwards")
            days.update(range(first, last + 1))
        else:
            days.add(one(part))
    return frozenset(days)


def _local_at(day_start: datetime, clock: time, zone: ZoneInfo) -> datetime:
    return datetime.combine(day_start.date(), clock, zone)


def _boundaries(schedule: DutySchedule, street: str, at: datetime, horizon: datetime
                ) -> list[datetime]:  # fmt: skip
    """The moments after `at` (until `horizon`) at which duty on `street` may change hands."""
    found: set[datetime] = set()
    for o in schedule.overrides:
        if o.street == street:
            found.update(m for m in (o.start, o.end) if at < m <= horizon)
    for r in schedule.rotations:
        if r.street != street:
            continue
        zone = ZoneInfo(r.timezone)
        first = r.start.astimezone(zone).replace(tzinfo=None)
        local = max(at, r.start).astimezone(zone).replace(tzinfo=None)
        shifts = int((local - first).total_seconds() // r.shift_s)
        for k in range(shifts, shifts + 3):
            found.add((first + timedelta(seconds=k * r.shift_s)).replace(tzinfo=zone))
        if r.window_start is not None and r.window_end is not None:
            day = at.astimezone(zone)
            for offset in range(-1, 9):
                d = day + timedelta(days=offset)
                found.add(_local_at(d, r.window_start, zone))
                found.add(_local_at(d, r.window_end, zone))
        else:  # the days restriction alone: midnights
            day = at.astimezone(zone)
            for offset in range(1, 9):
                found.add(_local_at(day + timedelta(days=offset), time(0), zone))
    return sorted(m for m in found if at < m <= horizon)


def next_handoff(
    schedule: DutySchedule, street: str, at: datetime, tier: Tier = Tier.PRIMARY
) -> tuple[datetime, OnDuty | None] | None:
    """When duty on `street`'s `tier` next changes hands after `at` (within 8 days), and to
    whom (None: nobody scheduled from then); None when it does not change in that time."""
    if at.tzinfo is None:
        raise ValueError("`at` needs a time zone")
    now = who_is_on_duty(schedule, street, at, tier)
    current = None if now is None else now.person
    for moment in _boundaries(schedule, street, at, at + timedelta(days=8)):
        then = who_is_on_duty(schedule, street, moment, tier)
        if (None if then is None else then.person) != current:
            return moment, then
    return None
