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
# Signs of life in the first MORNING_WINDOWS_S after getting up (-1: not up, or went out
# during them). A sick person gets up and then barely moves; a well one is busiest then.
F_MORNING = F_WATER + WATER_BLOCKS
MORNING_WINDOWS_S = (45 * 60.0, 90 * 60.0)
# Interval volumes of the day's meter reports (L/min; -1: no interval short enough to
# say): the highest over one interval, the highest over two in a row (the lower of the
# two), and the longest run of intervals that all saw some use (seconds).
F_RATE_MAX = F_MORNING + len(MORNING_WINDOWS_S)
F_PAIR_MAX = F_RATE_MAX + 1
F_RUN_MAX = F_PAIR_MAX + 1
F_FIRST_ACT = F_RUN_MAX + 1  # seconds after noon of the first sign of life after 04:00
SUMMARY_LEN = F_FIRST_ACT + 1
# Summaries written by older versions are shorter: padded with NONE on fitting.
OLD_SUMMARY_LEN = F_MORNING

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
        "first_act",
        "first_water",
        "flagged",
        "gap_max",
        "hourly",
        "leak",
        "litres",
        "morning",
        "night_events",
        "night_other",
        "night_rooms",
        "pair_max",
        "partial",
        "rate_max",
        "run_max",
        "start",
        "wake",
        "wake_cand",
        "wake_cand_n",
        "water_blocks",
        "water_gap",
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
        # Signs of life since getting up, within each of MORNING_WINDOWS_S (counted once
        # `wake` is known; the events of the chain that established it included).
        self.morning = [0] * len(MORNING_WINDOWS_S)
        self.rate_max = NONE
        self.pair_max = NONE
        self.run_max = NONE
        self.first_act = NONE
        self.water_gap = False  # the meter's reports had a gap: the day's litres unknown

    def summary(self, offset_s: float = 0.0) -> DaySummary:
        """Close the record into its flat summary (`offset_s`: the local UTC offset)."""
        scalars = [
            float(self.day),
            self.wake,
            self.first_water,
            NONE if self.water_gap else self.litres,
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
        morning = [NONE] * len(MORNING_WINDOWS_S)
        if self.wake >= 0:
            # Out during the morning window: the count says nothing of the person.
            for i, span in enumerate(MORNING_WINDOWS_S):
                if not away_between(self, offset_s, self.start + self.wake, span):
                    morning[i] = float(self.morning[i])
        # A day with a leak says nothing of what this home's water use looks like.
        water = [NONE, NONE, NONE] if self.leak else [self.rate_max, self.pair_max, self.run_max]
        water.append(self.first_act)
        return (
            scalars
            + self.gap_max
            + [float(h) for h in self.hourly]
            + self.water_blocks
            + morning
            + water
        )

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready state."""
        return {name: getattr(self, name) for name in self.__slots__}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> DayRecord:
        """Rebuild from `to_dict` output."""
        record = cls(int(data["day"]), float(data["start"]), float(data["end"]))
        for name in cls.__slots__:
            if name in data:  # state saved by an older version may lack newer fields
                setattr(record, name, data[name])
        return record


def away_between(record: DayRecord, offset_s: float, start: float, span_s: float) -> bool:
    """True when an away bit is set for any local hour that [start, start + span) touches."""
    t = start
    end = start + span_s
    while t < end:
        local = t + offset_s
        if record.away_hours >> int((local % 86400) // 3600) & 1:
            return True
        t = local - local % 3600 + 3600 - offset_s
    return False


def mark_away(record: DayRecord, offset_s: float, start: float, end: float) -> None:
    """Set the away bit of every local hour that [start, end) touches in this record."""
    start = max(start, record.start)
    end = min(end, record.end)
    t = start
    while t < end:
        local = t + offset_s
        record.away_hours |= 1 << int((local % 86400) // 3600)
        t = local - local % 3600 + 3600 - offset_s
