"""Local clock arithmetic on UTC epoch seconds, cached so the hot path stays cheap.

Inside the detectors every instant is a float of UTC epoch seconds; a home's time zone
only matters for "time of day" (slots, mornings, nights) and for the care day.
A care day runs from local noon to the next local noon, so one night's sleep, the
evening before it and the morning after it fall into the same day record.
"""

from __future__ import annotations

import zoneinfo
from datetime import UTC, datetime, timedelta

SECONDS_PER_DAY = 86400
SLOT_S = 1800  # time-of-day slots of half an hour: 48 a day
SLOTS_PER_DAY = SECONDS_PER_DAY // SLOT_S
CARE_DAY_START_S = 12 * 3600  # a care day starts at local noon


class LocalClock:
    """UTC epoch seconds → local wall-clock seconds for one IANA zone.

    The UTC offset is cached per UTC hour: offsets change only on whole or half hours
    (DST), and recomputing it for every reading would cost more than the rule itself.
    """

    __slots__ = ("_hour", "_offset_s", "name", "tz")

    def __init__(self, name: str) -> None:
        self.name = name
        self.tz = zoneinfo.ZoneInfo(name)
        self._hour = -(2**62)
        self._offset_s = 0.0

    def offset_s(self, ts: float) -> float:
        """Seconds to add to a UTC epoch to get local wall-clock epoch seconds."""
        hour = int(ts // 3600)
        if hour != self._hour:
            self._hour = hour
            offset = datetime.fromtimestamp(ts, self.tz).utcoffset()
            self._offset_s = offset.total_seconds() if offset is not None else 0.0
        return self._offset_s

    def local(self, ts: float) -> float:
        """Local wall-clock epoch seconds (for time-of-day and day arithmetic)."""
        return ts + self.offset_s(ts)

    def second_of_day(self, ts: float) -> float:
        """Seconds since local midnight."""
        return (ts + self.offset_s(ts)) % SECONDS_PER_DAY

    def slot(self, ts: float) -> int:
        """Index 0..47 of the local half-hour slot containing `ts`."""
        return int(((ts + self.offset_s(ts)) % SECONDS_PER_DAY) // SLOT_S)

    def care_day(self, ts: float) -> int:
        """Number of the care day (local noon to noon) containing `ts`."""
        return int((ts + self.offset_s(ts) - CARE_DAY_START_S) // SECONDS_PER_DAY)

    def care_day_start(self, day: int) -> float:
        """UTC epoch of the local noon that starts care day `day` (DST-correct)."""
        naive = datetime(1970, 1, 1) + timedelta(days=day, seconds=CARE_DAY_START_S)
        return naive.replace(tzinfo=self.tz).timestamp()

    def at_local_time(self, day: int, second_of_day: float) -> float:
        """UTC epoch of local clock time `second_of_day` on the calendar date after
        care day `day` began if that time is before noon, else on the same date."""
        date_offset = 1 if second_of_day < CARE_DAY_START_S else 0
        naive = datetime(1970, 1, 1) + timedelta(days=day + date_offset, seconds=second_of_day)
        return naive.replace(tzinfo=self.tz).timestamp()

    def clock_text(self, ts: float) -> str:
        """Local `HH:MM` for explanations."""
        return datetime.fromtimestamp(ts, self.tz).strftime("%H:%M")


def to_epoch(moment: datetime) -> float:
    """Aware datetime → UTC epoch seconds."""
    return moment.timestamp()


def from_epoch(ts: float) -> datetime:
    """UTC epoch seconds → aware UTC datetime."""
    return datetime.fromtimestamp(ts, UTC)


def duration_text(seconds: float) -> str:
    """A person-friendly duration: `45 min`, `3 h`, `2 h 20 min`."""
    minutes = max(0, round(seconds / 60))
    if minutes < 60:
        return f"{minutes} min"
    hours, rest = divmod(minutes, 60)
    return f"{hours} h" if rest == 0 else f"{hours} h {rest} min"
