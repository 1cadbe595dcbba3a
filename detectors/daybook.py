"""The care-day record: what one home did between two local noons, kept compact.

A record accumulates while the day runs (cheap updates on the hot path) and is closed
into a flat list of floats, the `DaySummary`, which is all the learned baseline needs.
Flat float lists keep a home's 6-week history small, JSON-friendly and quick to stack
into a numpy array.
"""

from __future__ import annotations

from typing import Any

from detectors.localtime import SLOTS_PER_DAY

WATER_BLOCK_S = 2 * 3600  # water use is kept per 2-hour block for the learned water window
WATER_BLOCKS = 12
NONE = -1.0  # "not seen today" for time-of-day features

# Layout of a closed day summary (a flat list of floats).
F_DAY = 0  # care-day number
F_WAKE = 1  # seconds after the care day's noon of the first sustained morning activity
F_FIRST_WATER = 2  # seconds after noon of the first morning water use
F_LITRES = 3
F_NIGHT_EVENTS = 4  # motion events in the night window
F_AWAY_S = 5  # time out of the home
F_EVENTS = 6  # all signs of life
F_BATH_SILENCE_S = 7  # longest silence that followed bathroom motion
F_NIGHT_ROOMS = 8  # distinct rooms with night motion
F_NIGHT_OTHER = 9  # night motion outside the bedroom and bathroom
F_AWAY_HOURS = 10  # bit h set: out of the home during part of local hour h
F_BED = 11  # seconds after noon when the first long evening silence (going to bed) began
F_FLAGGED = 12  # 1 when a resident finding was raised that day (not a normal day to learn)
F_SCALARS = 13
F_GAP = F_SCALARS  # 48 slots: longest silence at home reached in each half hour
F_HOURLY = F_GAP + SLOTS_PER_DAY  # 24 local hours (index = hour of day): signs of life
F_WATER = F_HOURLY + 24  # 12 blocks of 2 h from noon: litres
SUMMARY_LEN = F_WATER + WATER_BLOCKS

DaySummary = list[float]


class DayRecord:
    """The open care day of one home (mutable, owned by its HomeState)."""

    __slots__ = (
        "away_hours",
        "away_s",
        "bath_silence_max",
        "bed",
        "day",
        "end",
        "events",
        "first_water",
        "flagged",
        "gap_max",
        "hourly",
        "leak",
        "litres",
        "night_events",
        "night_other",
        "night_rooms",
        "partial",
        "start",
        "wake",
        "wake_cand",
        "wake_cand_n",
        "water_blocks",
    )

    def __init__(self, day: int, start: float, end: float) -> None:
        self.day = day
        self.start = start
        self.end = end
        self.gap_max = [NONE] * SLOTS_PER_DAY  # -1: no time at home in that slot (yet)
        self.hourly = [0] * 24
        self.water_blocks = [0.0] * WATER_BLOCKS
        self.wake = NONE
        self.wake_cand = NONE
        self.wake_cand_n = 0
        self.first_water = NONE
        self.litres = 0.0
        self.night_events = 0
        self.night_rooms = 0
        self.night_other = 0
        self.away_hours = 0
        self.away_s = 0.0
        self.events = 0
        self.bath_silence_max = 0.0
        self.partial = False  # observation began well after the day started
        self.bed = NONE
        self.flagged = False
        self.leak = False  # a leak finding was raised: the litres say nothing of the person

    def summary(self) -> DaySummary:
        """Close the record into its flat summary."""
        scalars = [
            float(self.day),
            self.wake,
            self.first_water,
            self.litres,
            float(self.night_events),
            self.away_s,
            float(self.events),
            self.bath_silence_max,
            float(bin(self.night_rooms).count("1")),
            float(self.night_other),
            float(self.away_hours),
            self.bed,
            1.0 if self.flagged else 0.0,
        ]
        return scalars + self.gap_max + [float(h) for h in self.hourly] + self.water_blocks

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready state."""
        return {name: getattr(self, name) for name in self.__slots__}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> DayRecord:
        """Rebuild from `to_dict` output."""
        record = cls(int(data["day"]), float(data["start"]), float(data["end"]))
        for name in cls.__slots__:
            setattr(record, name, data[name])
        return record


def mark_away(record: DayRecord, offset_s: float, start: float, end: float) -> None:
    """Set the away bit of every local hour that [start, end) touches in this record."""
    start = max(start, record.start)
    end = min(end, record.end)
    t = start
    while t < end:
        local = t + offset_s
        record.away_hours |= 1 << int((local % 86400) // 3600)
        t = local - local % 3600 + 3600 - offset_s
