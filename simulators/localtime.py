"""A home's local calendar: day kinds (weekday, weekend, public holiday) and local ↔ UTC time.

Inside the simulator every instant is an integer of UTC epoch milliseconds; plans are
made in local wall-clock seconds after a local midnight, because a routine ("lunch at
11:30") lives in local time. This module converts between the two.
"""

from __future__ import annotations

import enum
from bisect import bisect_right
from datetime import UTC, date, datetime, timedelta
from itertools import pairwise
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

MS_PER_SECOND = 1000
MS_PER_MINUTE = 60_000
MS_PER_HOUR = 3_600_000
MS_PER_DAY = 86_400_000
SECONDS_PER_DAY = 86_400

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def _span(first: date, last: date) -> tuple[date, ...]:
    return tuple(first + timedelta(days=i) for i in range((last - first).days + 1))


# Days off in mainland China. 2026: the State Council's schedule as published in late
# 2025 (New Year 1–3 Jan, Spring Festival 15–23 Feb, Qingming 4–6 Apr, Labour Day 1–5 May,
# Dragon Boat 19–21 Jun, Mid-Autumn 25–27 Sep, National Day 1–7 Oct). 2027: its schedule
# was not out when this was written, so these are the statutory holidays placed around
# their 2027 dates (lunar new year 6 Feb, Qingming 5 Apr, Dragon Boat 9 Jun, Mid-Autumn
# 15 Sep). Make-up working weekends (调休) are ignored: a retired resident does not work,
# and the family's plans follow the days off.
CHINESE_PUBLIC_HOLIDAYS: frozenset[date] = frozenset(
    _span(date(2026, 1, 1), date(2026, 1, 3))
    + _span(date(2026, 2, 15), date(2026, 2, 23))
    + _span(date(2026, 4, 4), date(2026, 4, 6))
    + _span(date(2026, 5, 1), date(2026, 5, 5))
    + _span(date(2026, 6, 19), date(2026, 6, 21))
    + _span(date(2026, 9, 25), date(2026, 9, 27))
    + _span(date(2026, 10, 1), date(2026, 10, 7))
    + _span(date(2027, 1, 1), date(2027, 1, 3))
    + _span(date(2027, 2, 5), date(2027, 2, 11))
    + _span(date(2027, 4, 3), date(2027, 4, 5))
    + _span(date(2027, 5, 1), date(2027, 5, 5))
    + _span(date(2027, 6, 9), date(2027, 6, 11))
    + _span(date(2027, 9, 15), date(2027, 9, 17))
    + _span(date(2027, 10, 1), date(2027, 10, 7))
)
# The Spring Festival is when families gather most; the resident is likelier to visit.
SPRING_FESTIVALS: frozenset[date] = frozenset(
    _span(date(2026, 2, 15), date(2026, 2, 23)) + _span(date(2027, 2, 5), date(2027, 2, 11))
)


class DayKind(enum.Enum):
    """What sort of day a date is for the resident's family (and so for visits)."""

    WEEKDAY = "weekday"
    WEEKEND = "weekend"
    HOLIDAY = "holiday"
    SPRING_FESTIVAL = "spring_festival"


def day_kind(day: date) -> DayKind:
    """Weekday, weekend, public holiday or Spring Festival."""
    if day in SPRING_FESTIVALS:
        return DayKind.SPRING_FESTIVAL
    if day in CHINESE_PUBLIC_HOLIDAYS:
        return DayKind.HOLIDAY
    return DayKind.WEEKEND if day.weekday() >= 5 else DayKind.WEEKDAY


def load_zone(name: str) -> ZoneInfo:
    """The IANA time zone `name`, or ValueError with a clear message."""
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError) as exc:
        raise ValueError(f"unknown time zone {name!r} (expected an IANA name)") from exc


def epoch_ms(moment: datetime) -> int:
    """An aware datetime as integer UTC epoch milliseconds."""
    if moment.tzinfo is None:
        raise ValueError("epoch_ms needs a timezone-aware datetime")
    return (moment - _EPOCH) // timedelta(milliseconds=1)


def from_epoch_ms(ms: int) -> datetime:
    """Integer UTC epoch milliseconds as an aware UTC datetime."""
    return _EPOCH + timedelta(milliseconds=ms)


class HomeCalendar:
    """The days of one simulation in one home's time zone.

    Day 0 is `start`; the simulation covers local midnight of day 0 to local midnight
    of day `days`. Conversions also work a couple of days either side, since a night's
    plan runs past midnight and incident windows are drawn with margins.
    """

    __slots__ = ("_midnights", "_smooth", "_zone", "days", "start", "timezone")

    _MARGIN_DAYS = 3

    def __init__(self, start: date, days: int, timezone: str) -> None:
        if days <= 0:
            raise ValueError("days must be positive")
        self.start = start
        self.days = days
        self.timezone = timezone
        self._zone = load_zone(timezone)
        first = -self._MARGIN_DAYS
        midnights = [self._midnight_exact(first + i) for i in range(days + 2 * self._MARGIN_DAYS)]
        self._midnights = tuple(midnights)
        # A day is "smooth" when it lasts exactly 24 h (no DST change): its local times
        # map to UTC by adding seconds to midnight. Other days go through zoneinfo.
        self._smooth = tuple(b - a == MS_PER_DAY for a, b in pairwise(midnights))

    def _midnight_exact(self, day: int) -> int:
        local = datetime.combine(self.start + timedelta(days=day), datetime.min.time())
        return epoch_ms(local.replace(tzinfo=self._zone))

    def date_of(self, day: int) -> date:
        """The local date of day index `day`."""
        return self.start + timedelta(days=day)

    def kind_of(self, day: int) -> DayKind:
        """The day kind of day index `day`."""
        return day_kind(self.date_of(day))

    @property
    def start_ms(self) -> int:
        """Local midnight of day 0, UTC epoch ms: when the simulation begins."""
        return self.midnight_ms(0)

    @property
    def end_ms(self) -> int:
        """Local midnight after the last day, UTC epoch ms: when the simulation ends."""
        return self.midnight_ms(self.days)

    def midnight_ms(self, day: int) -> int:
        """Local midnight starting day index `day`, as UTC epoch ms."""
        index = day + self._MARGIN_DAYS
        if 0 <= index < len(self._midnights):
            return self._midnights[index]
        return self._midnight_exact(day)

    def to_utc_ms(self, day: int, local_s: float) -> int:
        """Local wall time `local_s` seconds after midnight of `day` (may exceed 24 h) → UTC ms."""
        whole_days = int(local_s // SECONDS_PER_DAY)
        day += whole_days
        local_s -= whole_days * SECONDS_PER_DAY
        index = day + self._MARGIN_DAYS
        if 0 <= index < len(self._smooth) and self._smooth[index]:
            return self._midnights[index] + round(local_s * MS_PER_SECOND)
        midnight = datetime.combine(self.date_of(day), datetime.min.time())
        local = midnight + timedelta(seconds=local_s)
        return epoch_ms(local.replace(tzinfo=self._zone))

    def locate(self, utc_ms: int) -> tuple[int, float]:
        """UTC ms → (day index, local seconds after that day's midnight).

        Local seconds are wall-clock seconds: on a DST-change day, 03:00 is 10 800.
        """
        index = bisect_right(self._midnights, utc_ms) - 1
        if 0 <= index < len(self._smooth) and self._smooth[index]:
            return index - self._MARGIN_DAYS, (utc_ms - self._midnights[index]) / MS_PER_SECOND
        moment = from_epoch_ms(utc_ms).astimezone(self._zone)
        day = (moment.date() - self.start).days
        seconds = moment.hour * 3600 + moment.minute * 60 + moment.second
        return day, seconds + moment.microsecond / 1e6

    def local_hour(self, utc_ms: int) -> float:
        """The local hour of day (0–24, fractional) at `utc_ms`."""
        return self.locate(utc_ms)[1] / 3600
