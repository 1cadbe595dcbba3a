"""Mutable per-home and per-device detector state, and its JSON-ready form.

State is plain floats, ints, bools and lists so a service can persist it as JSON and
restart without losing an episode (and so without repeating a finding). Instants are
UTC epoch seconds; 0.0 means "never". What the registry and settings determine
(device types, rooms, the time zone) is not persisted: it is rebuilt at construction.
"""

from __future__ import annotations

from typing import Any

from core.readings import DeviceType
from detectors.baseline import Baseline
from detectors.daybook import DayRecord, DaySummary
from detectors.localtime import LocalClock
from detectors.rooms import RoomKind, classify_room
from detectors.settings import HomeSettings

NEVER = 0.0
WATER_ROOM = -1  # last_act_room when the last sign of life was water use


class DeviceState:
    """One device: when it was last heard, what it last said, what was reported."""

    PERSISTED = (
        "alarm_on",
        "alarm_since",
        "batched",
        "battery_low_reported",
        "flow_lpm",
        "fine_share",
        "first_seen",
        "flow_since",
        "gap_cur",
        "gap_prev",
        "gap_typ",
        "has_battery",
        "has_flow",
        "high_flow_since",
        "last_arrival",
        "last_seen",
        "missing",
        "missing_day",
        "missing_reported",
        "missing_total",
        "offline_reported",
        "prev_rate",
        "rejected",
        "rejected_day",
        "rejected_reported",
        "run_reported",
        "run_since",
        "run_slot",
        "same_arrival",
        "seq_last",
        "seq_ts",
        "status_offline_since",
        "volume",
        "volume_ts",
    )
    __slots__ = ("device_id", "home", "room_bit", "room_kind", "room_name", "type", *PERSISTED)

    def __init__(self, device_id: str, device_type: DeviceType, room_name: str) -> None:
        self.device_id = device_id
        self.type = device_type
        self.room_name = room_name
        self.room_kind = int(classify_room(room_name))
        self.room_bit = 0  # this sensor's bit in the day record's set of night rooms
        self.home: HomeState | None = None
        self.last_seen = NEVER
        self.first_seen = NEVER
        self.last_arrival = NEVER  # when its newest message arrived (our clock)
        self.gap_cur = 0.0  # longest gap between arrivals, this fortnight
        self.gap_typ = 0.0  # typical gap between arrivals (0: not known yet)
        self.gap_prev = 0.0  # ... and the fortnight before
        self.has_battery = False
        self.batched = False  # uploads several readings at once (learned)
        self.same_arrival = 0  # readings in a row that arrived at one instant
        self.offline_reported = False
        self.status_offline_since = NEVER
        self.battery_low_reported = False
        self.volume = -1.0  # last meter index, -1 before the first reading
        self.volume_ts = NEVER  # ... and when it was read (intervals run between indexes)
        self.flow_lpm = 0.0
        self.flow_since = NEVER  # start of the current uninterrupted flow
        self.high_flow_since = NEVER  # start of the current run at high flow
        self.alarm_on = False
        self.alarm_since = NEVER
        # Interval volumes (meters): whether it reports a flow rate at all, the rate of
        # its previous interval (L/min, -1: none or after a gap), and the current run of
        # intervals that all saw some use.
        self.has_flow = False
        self.fine_share = -1.0  # share of its intervals that are quarter-hourly or finer
        self.prev_rate = -1.0
        self.run_since = NEVER
        self.run_slot = NEVER  # start of the newest slot of its period that saw some use
        self.run_reported = False
        # Message accounting: the newest (ts, seq), numbered messages that never came
        # (this care day / ever), dead letters this care day.
        self.seq_last = -1
        self.seq_ts = NEVER
        self.missing = 0
        self.missing_day = -1
        self.missing_reported = False
        self.missing_total = 0
        self.rejected = 0
        self.rejected_day = -1
        self.rejected_reported = False

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready state."""
        return {name: getattr(self, name) for name in self.PERSISTED}

    def restore(self, data: dict[str, Any]) -> None:
        """Load `to_dict` output (unknown keys ignored, missing keys keep defaults)."""
        for name in self.PERSISTED:
            if name in data:
                setattr(self, name, data[name])


class HomeState:
    """Everything the detectors remember about one home."""

    PERSISTED = (
        "absence_reported_for",
        "blind",
        "continuous_reported_for",
        "declared_from",
        "declared_until",
        "gap_acc",
        "group_silent",
        "high_daily_reported_day",
        "high_flow_reported_for",
        "high_use_reported_for",
        "history",
        "home_silent_reported",
        "inact_kind",
        "inact_notified_at",
        "inact_reported_for",
        "last_act",
        "last_act_room",
        "last_arrival",
        "last_entrance",
        "last_fit_day",
        "last_heard",
        "last_motion",
        "leak_kind",
        "leave_at",
        "low_reported_day",
        "night_flow_day",
        "night_flow_min",
        "night_flow_reports",
        "night_flow_reported",
        "night_flow_run",
        "pair_high",
        "prev_away_hours",
        "prev_hourly",
        "prev_wake_at",
        "rate_high",
        "run_high_s",
        "waiting_data",
        "wander_reported_day",
        "water_inact_at",
        "water_inact_reported_for",
        "water_points",
        "water_since",
        "water_total",
    )
    __slots__ = (
        "baseline",
        "clock",
        "close_delay_s",
        "cold_thresholds",
        "day",
        "devices",
        "group",
        "has_bedroom",
        "has_entrance_presence",
        "has_pir",
        "has_meter",
        "home_id",
        "index",
        "next_check",
        "pir_count",
        "seen_until",
        "settings",
        "silent_after_s",
        "sparse",
        *PERSISTED,
    )

    def __init__(self, home_id: str, clock: LocalClock, settings: HomeSettings) -> None:
        self.home_id = home_id
        self.clock = clock
        self.settings = settings
        self.cold_thresholds: tuple[float, ...] = ()  # set by the engine from settings
        self.devices: list[DeviceState] = []
        self.index = 0  # position in the engine's home list (the timer heap's key)
        self.close_delay_s = 0.0  # spreads day closes so homes do not all roll at noon
        self.has_pir = False
        self.has_meter = False
        self.has_entrance_presence = False
        self.has_bedroom = False
        self.pir_count = 0
        self.sparse = True  # see Engine._derive
        self.group = ""  # street (or "" for the deployment) whose silences are one event
        self.group_silent = False  # reported silent as part of a group, not on its own
        self.seen_until = float("inf")  # absence rules judge silences up to here
        self.waiting_data = False  # its data is late: the next message wakes its rules
        self.baseline: Baseline | None = None
        self.day: DayRecord | None = None
        self.next_check = float("inf")  # the due time of this home's live heap entry
        # Refreshed by the device rules at each evaluation: how long the home may be
        # silent as a whole.
        self.silent_after_s = float("inf")
        self.history: list[DaySummary] = []
        self.last_fit_day = -1
        # Signs of life and presence.
        self.last_act = NEVER
        self.last_act_room = int(RoomKind.OTHER)
        self.last_motion = NEVER
        self.last_entrance = NEVER
        self.leave_at = NEVER  # entrance motion while home: a possible departure
        self.gap_acc = NEVER  # the current silence is accounted in the day record up to here
        self.declared_from = NEVER
        self.declared_until = NEVER
        self.blind: list[list[float]] = []  # [start, end] windows we could not see into
        self.last_heard = NEVER  # newest measurement time of any message of the home
        self.last_arrival = NEVER  # when the newest message of the home arrived
        # Episodes already reported (so a repeat is not a new finding).
        self.inact_reported_for = -1.0  # silence start of the reported inactivity episode
        self.inact_notified_at = NEVER
        self.inact_kind = ""  # kind of the inactivity finding raised for that episode
        self.low_reported_day = -1
        self.prev_hourly: list[int] = []  # yesterday's signs of life per local hour
        self.prev_away_hours = 0
        self.prev_wake_at = NEVER
        self.wander_reported_day = -1
        self.home_silent_reported = False
        self.absence_reported_for = -1.0  # departure time of the reported long absence
        # Water.
        self.water_total = 0.0  # litres used, all meters, since tracking began
        self.water_points: list[list[float]] = []  # [ts, water_total] at each use
        self.water_since = NEVER
        self.water_inact_reported_for = -1.0
        self.water_inact_at = NEVER  # when that water-inactivity finding was raised
        self.high_flow_reported_for = -1.0
        self.continuous_reported_for = -1.0
        self.leak_kind = ""  # kind of the running-water finding still open ("" if none)
        self.high_daily_reported_day = -1
        # Interval-volume limits learned from the home's own days (0: not learned yet).
        self.rate_high = 0.0  # L/min over one interval
        self.pair_high = 0.0  # L/min over two consecutive intervals (the lower of them)
        self.run_high_s = 0.0  # longest run of intervals that all saw some use
        self.high_use_reported_for = -1.0
        self.night_flow_day = -1  # care day whose night is being watched for flow
        self.night_flow_min = -1.0
        self.night_flow_reports = 0.0  # seconds of the night window the intervals covered
        self.night_flow_run = 0
        self.night_flow_reported = False

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready state of the home and its devices."""
        data: dict[str, Any] = {name: getattr(self, name) for name in self.PERSISTED}
        data["baseline"] = self.baseline.to_dict() if self.baseline else None
        data["day"] = self.day.to_dict() if self.day else None
        data["devices"] = {dev.device_id: dev.to_dict() for dev in self.devices}
        return data

    def restore(self, data: dict[str, Any]) -> None:
        """Load `to_dict` output; devices not in the registry any more are dropped."""
        for name in self.PERSISTED:
            if name in data:
                setattr(self, name, data[name])
        self.baseline = Baseline.from_dict(data["baseline"]) if data.get("baseline") else None
        self.day = DayRecord.from_dict(data["day"]) if data.get("day") else None
        saved = data.get("devices", {})
        for dev in self.devices:
            if dev.device_id in saved:
                dev.restore(saved[dev.device_id])
