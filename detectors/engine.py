"""The detector engine: readings and clock ticks in, findings out. Pure code, no I/O.

Event-driven rules run as readings arrive; absence rules run on timers. Each home has
one live entry in a heap of (due, home), so a tick where nothing is due costs a single
comparison however many homes there are. Time comes only from the readings and from
the `now` passed to `tick`: live that is the wall clock, in a backtest the event time.
"""

from __future__ import annotations

import heapq
import math
import zlib
from collections.abc import Iterable, Mapping
from datetime import datetime
from typing import Any

from core.pipeline import CommittedBatch, Heartbeat, PipelineStatus
from core.readings import Channel, DeviceType, Reading
from core.registry import RegistryRow
from detectors import devices, water
from detectors.absence import check_long_absence
from detectors.activity import note_activity
from detectors.baseline import SPARSE_PIRS, Baseline, cold_silence_thresholds
from detectors.carday import roll_days
from detectors.daybook import DaySummary
from detectors.findings import Finding
from detectors.groups import GroupSilence
from detectors.inactivity import check_inactivity
from detectors.localtime import LocalClock
from detectors.lowactivity import check_low_activity, check_slow_morning
from detectors.pipeline import PipelineHealth
from detectors.rooms import RoomKind, classify_room
from detectors.settings import DEFAULT_HOME_SETTINGS, EngineSettings, HomeSettings
from detectors.smoke import on_smoke
from detectors.state import NEVER, WATER_ROOM, DeviceState, HomeState

INF = math.inf
STATE_VERSION = 1
# Day closes are spread over this window after local noon so a fleet in one time zone
# does not roll (and refit) all at once; a day's findings wait at most this long.
DAY_CLOSE_SPREAD_S = 30 * 60.0
# The soonest a home is looked at again after an evaluation.
MIN_RECHECK_S = 1.0


class Engine:
    """All detectors for a set of homes (mutable; one instance per partition of homes)."""

    def __init__(
        self,
        registry: Iterable[RegistryRow],
        settings: EngineSettings | None = None,
        home_settings: Mapping[str, HomeSettings] | None = None,
        default_home_settings: HomeSettings = DEFAULT_HOME_SETTINGS,
    ) -> None:
        self.settings = settings or EngineSettings()
        self._street = self.settings.only_street_rule
        st = self.settings
        self._health = PipelineHealth(
            st.heartbeat_interval_s, st.heartbeat_timeout_intervals, st.heartbeat_min_timeout_s
        )
        self._groups = GroupSilence(st.group_silent_window_s, st.group_silent_homes)
        self._homes: dict[str, HomeState] = {}
        self._home_list: list[HomeState] = []
        self._devices: dict[str, DeviceState] = {}
        self._heap: list[tuple[float, int]] = []
        self.unknown_devices = 0  # readings from devices not in the registry
        clocks: dict[str, LocalClock] = {}
        overrides = home_settings or {}
        for row in registry:
            home = self._homes.get(row.home_id)
            if home is None:
                clock = clocks.get(row.timezone)
                if clock is None:  # one clock per zone: its offset cache is shared
                    clock = clocks[row.timezone] = LocalClock(row.timezone)
                home = HomeState(
                    row.home_id, clock, overrides.get(row.home_id, default_home_settings)
                )
                home.index = len(self._home_list)
                home.group = row.street or ""
                home.close_delay_s = zlib.crc32(row.home_id.encode()) % int(DAY_CLOSE_SPREAD_S)
                self._homes[row.home_id] = home
                self._home_list.append(home)
            dev = DeviceState(row.device_id, row.type, row.room or "")
            dev.home = home
            home.devices.append(dev)
            self._devices[row.device_id] = dev
        for home in self._home_list:
            self._derive(home)
            home.cold_thresholds = cold_silence_thresholds(
                home.settings, home.pir_count, home.has_entrance_presence
            )
            self._groups.add(home)

    @staticmethod
    def _derive(home: HomeState) -> None:
        pirs = [dev for dev in home.devices if dev.type is DeviceType.PIR]
        for bit, dev in enumerate(pirs):
            dev.room_bit = 1 << bit
        home.has_pir = bool(pirs)
        home.pir_count = len(pirs)
        home.has_bedroom = any(dev.room_kind == int(RoomKind.BEDROOM) for dev in pirs)
        home.has_meter = any(dev.type is DeviceType.WATER_METER for dev in home.devices)
        kinds = {dev.room_kind for dev in pirs}
        # Entrance-based presence needs an entrance sensor and somewhere else to be seen.
        home.has_entrance_presence = int(RoomKind.ENTRANCE) in kinds and len(kinds) > 1
        # Sparse: its sensors miss much of what the person does (one or two of them), or
        # cannot tell an outing from a silence (no entrance sensor). Its silence limits
        # are never tighter than what it has shown, and the rules that count movements
        # or watch the bathroom are left to homes that can see those.
        home.sparse = len(pirs) <= SPARSE_PIRS or not home.has_entrance_presence

    # ---- readings -------------------------------------------------------------------

    def feed(self, reading: Reading) -> list[Finding]:
        """Take one reading (each device's readings in (ts, seq) order); return findings."""
        out: list[Finding] = []
        self.feed_into(reading, out)
        return out

    def feed_many(self, readings: Iterable[Reading]) -> list[Finding]:
        """Take a batch of readings; return the findings they raised."""
        out: list[Finding] = []
        feed = self.feed_into
        for reading in readings:
            feed(reading, out)
        return out

    def feed_into(self, reading: Reading, out: list[Finding], arrived: float | None = None) -> None:
        """Take one reading, appending its findings to `out` (the batch fast path).
        `arrived`: when it reached the detectors on their own clock (default: its
        `received_at`, which must then be on that clock)."""
        ts = reading.ts.timestamp()
        if arrived is None:
            received = reading.received_at
            arrived = ts if received == reading.ts else received.timestamp()
        self.feed_fields(
            reading.device_id,
            ts,
            arrived,
            reading.seq,
            reading.channel is Channel.STATUS,
            reading.online,
            reading.motion,
            reading.room,
            reading.volume_l,
            reading.flow_lpm,
            reading.alarm,
            reading.test,
            reading.battery_pct,
            out,
        )

    def feed_fields(
        self,
        device_id: str,
        ts: float,
        arrived: float,
        seq: int,
        status: bool,
        online: bool | None,
        motion: bool | None,
        room: str | None,
        volume_l: float | None,
        flow_lpm: float | None,
        alarm: bool | None,
        test: bool | None,
        battery_pct: float | None,
        out: list[Finding],
    ) -> None:
        """`feed_into` for a reading already taken apart (instants in UTC epoch seconds,
        `status`: the status channel), e.g. by a replay that validated the message without
        building a Reading. Every reading, live or replayed, takes this path."""
        dev = self._devices.get(device_id)
        if dev is None:
            self.unknown_devices += 1
            return
        if self._street:
            self._feed_street(dev, ts, volume_l, flow_lpm, out)
            return
        home = dev.home
        assert home is not None
        # A device's data is taken in (ts, seq) order: what is not newer than its newest
        # is a redelivered duplicate, unless it fills a gap in its numbering (late data).
        if ts < dev.seq_ts or (ts == dev.seq_ts and seq <= dev.seq_last):
            if not devices.late_fill(dev, seq):
                return
            late = True
        else:
            devices.count_seq(home, dev, ts, seq, out)
            late = False
        day = home.day
        if day is None or ts >= day.end:
            self._roll(home, ts, out)
        if home.home_silent_reported:
            self._home_back(home, arrived, out)
        if home.waiting_data:
            home.waiting_data = False
            self._wake(home, arrived)
        if ts > home.last_heard:
            if home.last_heard == NEVER:
                home.last_act = home.gap_acc = ts  # silences are timed from the first message
            home.last_heard = ts
        blind = self._health.blind
        devices.on_heard(home, dev, ts, arrived, blind, out)
        if status:
            if online is False:
                devices.on_status_offline(dev, ts)
                self._wake(home, ts + home.settings.device.offline_status_grace_s)
            if battery_pct is not None:
                devices.on_battery(home, dev, ts, battery_pct, out)
            return
        kind = dev.type
        wake_at = INF
        if kind is DeviceType.PIR:
            if motion:
                if not dev.room_name and room:
                    # The registry did not say where the sensor is; the sensor does.
                    dev.room_name = room
                    dev.room_kind = int(classify_room(room))
                    self._derive(home)
                wake_at = note_activity(home, ts, dev.room_kind, dev.room_bit, blind, out, arrived)
        elif kind is DeviceType.WATER_METER:
            assert volume_l is not None  # the wire decoder guarantees it
            if late:
                return  # a meter's index is read in order; an older one says nothing new
            alive, wake_at = water.on_meter(home, dev, ts, volume_l, flow_lpm, dev.volume_ts, out)
            if alive:
                wake_at = min(wake_at, note_activity(home, ts, WATER_ROOM, 0, blind, out, arrived))
        else:
            on_smoke(home, dev, ts, alarm, test, dev.room_name, out)
        if wake_at < home.next_check:
            self._wake(home, wake_at)
        if battery_pct is not None:
            devices.on_battery(home, dev, ts, battery_pct, out)

    # ---- what ingest says besides readings ---------------------------------------------

    def committed(self, batch: CommittedBatch, arrived: float | None = None) -> list[Finding]:
        """Take one batch ingest committed: its readings in (ts, seq) order (arrived at
        `arrived` on the detectors' clock, default each one's received_at), its dead
        letters, then its heartbeats (which prove what was sent before them)."""
        out: list[Finding] = []
        feed = self.feed_into
        for reading in sorted(batch.readings, key=_order):
            feed(reading, out, arrived)
        at = batch.committed_at.timestamp() if arrived is None else arrived
        for device_id, count in batch.rejected.items():
            self.rejected_messages(device_id, count, at, out)
        committed = batch.committed_at.timestamp()
        for beat in batch.heartbeats:
            self.heartbeat_into(beat, out, committed)
        return out

    def heartbeat_into(
        self, beat: Heartbeat, out: list[Finding], committed: float | None = None
    ) -> None:
        """An ingest heartbeat came back through the broker and was committed (at
        `committed`, UTC epoch seconds on the detectors' clock, when known)."""
        sent = beat.sent_at.timestamp()
        transit = 0.0 if committed is None else committed - sent
        self._health.heartbeat(beat.worker, sent, out, transit)

    def heartbeat(self, worker: str, sent_at: float, out: list[Finding]) -> None:
        """`heartbeat_into` with the sent_at in UTC epoch seconds (the backtest's path)."""
        self._health.heartbeat(worker, sent_at, out)

    def pipeline_status(self, status: PipelineStatus) -> list[Finding]:
        """An ingest worker says its pipeline stopped delivering (or delivers again)."""
        out: list[Finding] = []
        problem = None if status.problem is None else status.problem.value
        self._health.status(status.worker, status.at.timestamp(), problem, out)
        return out

    def rejected_messages(self, device_id: str, count: int, at: float, out: list[Finding]) -> None:
        """`count` messages of a device became dead letters (a broken or hostile device)."""
        dev = self._devices.get(device_id)
        if dev is not None and dev.home is not None:
            devices.on_rejected(dev.home, dev, count, at, out)

    @property
    def missing_messages(self) -> int:
        """Messages devices numbered that never arrived, since the engine started or was
        restored (restarts of a device's numbering excepted)."""
        return sum(dev.missing_total for dev in self._devices.values())

    @property
    def pipeline_blind(self) -> list[list[float]]:
        """The windows the pipeline was known not to deliver ([start, end], epoch s)."""
        return [list(w) for w in self._health.blind]

    def restarted(self, now: datetime) -> None:
        """The service restarted: wait a while for a heartbeat before calling it an outage."""
        self._health.restarted(now.timestamp())

    @property
    def pipeline_suspended(self) -> bool:
        """True while the absence rules are paused (the pipeline is known not to deliver)."""
        return self._health.suspended

    def _feed_street(
        self,
        dev: DeviceState,
        ts: float,
        volume_l: float | None,
        flow_lpm: float | None,
        out: list[Finding],
    ) -> None:
        """The street-rule mode: only meter indexes matter, every other rule is off."""
        home = dev.home
        assert home is not None
        if home.day is None or ts >= home.day.end:
            self._roll(home, ts, out)
        if dev.type is DeviceType.WATER_METER and volume_l is not None:
            ignored: list[Finding] = []
            water.on_meter(home, dev, ts, volume_l, flow_lpm, dev.volume_ts, ignored)
        if ts > dev.last_seen:
            dev.last_seen = ts
        if ts > home.last_heard:
            home.last_heard = ts

    def _home_back(self, home: HomeState, arrived: float, out: list[Finding]) -> None:
        """The first message after a home-silent finding: re-arm without alerting."""
        home.home_silent_reported = False
        home.blind.append([home.last_arrival, arrived])
        del home.blind[:-8]
        if home.group_silent:
            home.group_silent = False
            self._groups.back(home, arrived, out)
        else:
            out.extend(devices.home_back_findings(home, arrived))
        self._wake(home, arrived)

    # ---- timers ---------------------------------------------------------------------

    def _wake(self, home: HomeState, due: float) -> None:
        """Make sure the home is evaluated no later than `due`."""
        if due < home.next_check:
            home.next_check = due
            heapq.heappush(self._heap, (due, home.index))

    def tick(self, now: datetime) -> list[Finding]:
        """Run the absence rules that are due by `now`; return their findings."""
        out: list[Finding] = []
        self.tick_epoch(now.timestamp(), out)
        return out

    def tick_epoch(self, now: float, out: list[Finding]) -> None:
        """`tick` with UTC epoch seconds, appending to `out` (the backtest's fast path)."""
        health = self._health
        if not health.check(now, out):
            return
        # Judge silences only up to the last moment we know the pipeline was delivering.
        horizon = health.horizon(now)
        heap = self._heap
        homes = self._home_list
        while heap and heap[0][0] <= horizon:
            due, index = heapq.heappop(heap)
            home = homes[index]
            if due != home.next_check:
                continue  # superseded by an earlier entry for the same home
            home.next_check = INF
            self._evaluate(home, horizon, out)

    def _evaluate(self, home: HomeState, now: float, out: list[Finding]) -> None:
        day = home.day
        if day is None:
            return
        if now >= day.end + home.close_delay_s:
            self._roll(home, now, out)
            day = home.day
            assert day is not None
        if self.settings.only_street_rule:
            due = water.check_street_rule(home, now, out)
            self._wake(home, min(due, day.end + home.close_delay_s))
            return
        blind = self._health.blind
        silent: list[HomeState] = []
        due = min(
            devices.check_devices(home, now, blind, out, silent), day.end + home.close_delay_s
        )
        if silent:
            self._groups.silent(home, now, out)
        for dev in home.devices:
            if dev.flow_since != NEVER and dev.type is DeviceType.WATER_METER:
                due = min(due, water.check_flow(home, dev, now, out))
        if home.home_silent_reported:
            pass  # blind until the home is heard again, which re-arms it
        elif home.seen_until < now:
            # Its devices are late: a gap in reports is unknown data, not a silence. The
            # next message looks again (or the home-silent rule speaks).
            home.waiting_data = True
        else:
            due = min(due, check_inactivity(home, now, blind, out))
            if not home.sparse:
                # Counting movements needs sensors that see most of them.
                due = min(due, check_slow_morning(home, now, blind, out))
                due = min(due, check_low_activity(home, now, blind, out))
            due = min(due, check_long_absence(home, now, out))
            if home.has_meter:
                due = min(due, water.check_water_inactivity(home, now, out))
        # A rule never asks to be looked at again at this very moment: that would spin.
        self._wake(home, max(due, now + MIN_RECHECK_S))

    # ---- care days ------------------------------------------------------------------

    def _roll(self, home: HomeState, now: float, out: list[Finding]) -> None:
        """Close every care day that ended by `now`, open the current one, look again."""
        roll_days(home, now, self.settings, self._health.blind, out)
        self._wake(home, now)  # a new day (and maybe a new baseline): look again soon

    # ---- declared absences, baselines ----------------------------------------------

    def declare_away(self, home_id: str, start: datetime, end: datetime) -> None:
        """The resident is away from `start` to `end`: absence rules pause, then expect
        a sign of life within the return grace after `end`."""
        if end <= start:
            raise ValueError("a declared away period must end after it starts")
        home = self._homes[home_id]
        home.declared_from = start.timestamp()
        home.declared_until = end.timestamp()
        self._wake(home, home.declared_until)

    def history(self, home_id: str) -> list[DaySummary]:
        """The home's closed day summaries (oldest first), to fit a baseline from."""
        return list(self._homes[home_id].history)

    def is_sparse(self, home_id: str) -> bool:
        """True when the home's sensors miss much (two or fewer, or no entrance sensor):
        its baseline never gets tighter than the silences its sensors show."""
        return self._homes[home_id].sparse

    def home_settings(self, home_id: str) -> HomeSettings:
        """The settings a home's rules run with."""
        return self._homes[home_id].settings

    def set_baseline(self, home_id: str, baseline: Baseline | None) -> None:
        """Install a baseline fitted elsewhere (e.g. by a worker pool with fit_baseline)."""
        home = self._homes[home_id]
        home.baseline = baseline
        if home.day is not None:
            home.last_fit_day = home.day.day
        self._wake(home, self._health.horizon(home.last_heard))

    def baseline(self, home_id: str) -> Baseline | None:
        """The home's current baseline (None during cold start)."""
        return self._homes[home_id].baseline

    @property
    def home_ids(self) -> list[str]:
        """Every home this engine watches, in registry order."""
        return [home.home_id for home in self._home_list]

    # ---- state ----------------------------------------------------------------------

    def home_state(self, home_id: str) -> dict[str, Any]:
        """One home's JSON-ready state, for per-home persistence."""
        return self._homes[home_id].to_dict()

    def restore_home(self, home_id: str, data: dict[str, Any]) -> None:
        """Load one home's saved state and schedule its rules for the next tick."""
        home = self._homes[home_id]
        home.restore(data)
        home.next_check = INF
        if home.day is not None:
            self._wake(home, home.last_heard)

    def engine_state(self) -> dict[str, Any]:
        """The engine-wide part of the state (no homes), for per-home persistence:
        `restore({**engine_state, "homes": {home_id: home_state, ...}})` rebuilds it."""
        return {
            "version": STATE_VERSION,
            "pipeline": self._health.to_dict(),
            "groups": self._groups.to_dict(),
        }

    def to_dict(self) -> dict[str, Any]:
        """The whole engine state as JSON-ready data."""
        return {
            "version": STATE_VERSION,
            "pipeline": self._health.to_dict(),
            "groups": self._groups.to_dict(),
            "homes": {home.home_id: home.to_dict() for home in self._home_list},
        }

    def restore(self, data: dict[str, Any]) -> None:
        """Load `to_dict` output; homes no longer registered are ignored."""
        if data.get("version") != STATE_VERSION:
            raise ValueError(f"unsupported detector state version {data.get('version')!r}")
        self._health.restore(data["pipeline"])
        self._groups.restore(data.get("groups", {}))
        self._heap.clear()
        for home_id, home_data in data["homes"].items():
            if home_id in self._homes:
                self.restore_home(home_id, home_data)


def _order(reading: Reading) -> tuple[datetime, int]:
    return reading.ts, reading.seq
