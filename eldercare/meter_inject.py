"""Incidents injected into a recording of real meters, with their ground truth.

Real meter data has no labelled incidents, so to measure recall on it we add the two a
water meter alone can show (issue 10, 6):

- **days without water** (category `inactivity`, kind `no_water`): from the start the
  index stays flat, as it would if nobody used water (a fall, illness, worse); after the
  end, every reading is lowered by what the home really used during the window, so the
  index goes on from where it stood;
- **a tap left running** (category `leak`, kind `tap_left_running`): a constant flow
  (5 L/min by default) added to the index from the start to the end.

Incidents are placed at random (from the seed) in the local daytime of homes whose meter
reported through the window, at least a day apart in one home. Lines of other devices are
copied unchanged; the meter's lines are rewritten with the same keys (a batched upload's
elements each on their own).
"""

from __future__ import annotations

import bisect
import json
import random
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from core.kinds import Category
from core.readings import DeviceType
from core.registry import RegistryRow
from ingest.wire import TOPIC_PREFIX, format_ts

MS_PER_HOUR = 3_600_000
_CLEAR_MS = 24 * MS_PER_HOUR  # one home's incidents keep a day apart
_TRIES = 200  # placements tried per incident
_COVERAGE = 0.5  # share of the window's hours (plus an hour each side) with a reading


class InjectError(ValueError):
    """A recording or request injection cannot work with; the message says why."""


@dataclass(frozen=True, slots=True)
class Injection:
    """One injected incident in one home's meter."""

    home_id: str
    device_id: str
    kind: str  # "no_water" or "tap_left_running"
    start_ms: int
    end_ms: int
    rate_lpm: float = 0.0

    def __post_init__(self) -> None:
        if self.end_ms <= self.start_ms:
            raise ValueError("an injected incident must end after it starts")
        if self.kind not in ("no_water", "tap_left_running"):
            raise ValueError(f"unknown injected kind {self.kind!r}")

    @property
    def category(self) -> Category:
        """The ground-truth category."""
        return Category.INACTIVITY if self.kind == "no_water" else Category.LEAK

    def to_json(self) -> dict[str, Any]:
        """The truth-file line."""
        return {
            "home_id": self.home_id,
            "category": self.category.value,
            "start": format_ts(datetime.fromtimestamp(self.start_ms / 1000, UTC)),
            "end": format_ts(datetime.fromtimestamp(self.end_ms / 1000, UTC)),
            "kind": self.kind,
        }


@dataclass(frozen=True, slots=True)
class InjectPlan:
    """How many incidents of each kind, how long (hours, low–high), the tap's flow."""

    no_water: int = 0
    no_water_hours: tuple[float, float] = (24.0, 72.0)
    taps: int = 0
    tap_hours: tuple[float, float] = (1.0, 6.0)
    tap_lpm: float = 5.0
    seed: int = 0

    def __post_init__(self) -> None:
        if self.no_water < 0 or self.taps < 0:
            raise ValueError("incident counts cannot be negative")
        for name in ("no_water_hours", "tap_hours"):
            low, high = getattr(self, name)
            if not 0 < low <= high <= 24 * 30:
                raise ValueError(f"{name} must be a range 0 < low <= high <= 720")
        if not 0 < self.tap_lpm <= 100:
            raise ValueError("the tap's flow must be above 0 and at most 100 L/min")


def _meter_of(line: str) -> str | None:
    at = line.find(TOPIC_PREFIX)
    if at < 0:
        return None
    end = line.find("/", at + len(TOPIC_PREFIX))
    return line[at + len(TOPIC_PREFIX) : end] if end > 0 else None


def _ms(text: str) -> int:
    return round(datetime.fromisoformat(text).timestamp() * 1000)


def meter_series(recording: Path, meters: set[str]) -> dict[str, tuple[list[int], list[float]]]:
    """Each meter's readings as (times in UTC ms, indexes in litres), sorted by time, from
    single readings and batched uploads alike."""
    pairs: dict[str, list[tuple[int, float]]] = {m: [] for m in meters}
    with recording.open(encoding="utf-8") as handle:
        for line in handle:
            device = _meter_of(line)
            if device not in pairs or "/telemetry" not in line:
                continue
            payload = json.loads(line).get("payload", {})
            if "readings" in payload:
                pairs[device].extend(
                    (_ms(e["ts"]), float(e["volume_l"])) for e in payload["readings"]
                )
            elif "volume_l" in payload:
                pairs[device].append((_ms(payload["ts"]), float(payload["volume_l"])))
    out = {}
    for device, found in pairs.items():
        found.sort()
        out[device] = ([t for t, _ in found], [v for _, v in found])
    return out


def _covered(times: list[int], start: int, end: int) -> bool:
    """Whether the meter reported through [start, end): most hours hold a reading."""
    lo, hi = start - MS_PER_HOUR, end + MS_PER_HOUR
    hours = max(1, (hi - lo) // MS_PER_HOUR)
    first, last = bisect.bisect_left(times, lo), bisect.bisect_left(times, hi)
    seen = {(t - lo) // MS_PER_HOUR for t in times[first:last]}
    return len(seen) >= _COVERAGE * hours


def place(
    plan: InjectPlan,
    rows: list[RegistryRow],
    series: dict[str, tuple[list[int], list[float]]],
) -> list[Injection]:
    """Where and when the incidents happen (seeded); InjectError when they do not fit."""
    rng = random.Random(f"eldercare-inject/{plan.seed}")
    meters = [
        r
        for r in rows
        if r.type is DeviceType.WATER_METER and len(series.get(r.device_id, ((), ()))[0]) > 1
    ]
    if not meters:
        raise InjectError("the recording has no water meter with readings")
    taken: dict[str, list[tuple[int, int]]] = {}
    out: list[Injection] = []
    wanted = [("no_water", plan.no_water_hours)] * plan.no_water
    wanted += [("tap_left_running", plan.tap_hours)] * plan.taps
    for kind, hours in wanted:
        for _ in range(_TRIES):
            row = rng.choice(meters)
            times = series[row.device_id][0]
            length = round(rng.uniform(*hours) * MS_PER_HOUR)
            day_ms = rng.randrange(times[0], max(times[-1] - length, times[0] + 1))
            start = _local_daytime(day_ms, row.timezone, rng, (7, 20) if kind == "no_water"
                                   else (8, 20))  # fmt: skip
            end = start + length
            clash = any(s - _CLEAR_MS < end and start < e + _CLEAR_MS
                        for s, e in taken.get(row.home_id, []))  # fmt: skip
            if clash or not times[0] < start or not end < times[-1]:
                continue
            if not _covered(times, start, end):
                continue
            taken.setdefault(row.home_id, []).append((start, end))
            rate = plan.tap_lpm if kind == "tap_left_running" else 0.0
            out.append(Injection(row.home_id, row.device_id, kind, start, end, rate))
            break
        else:
            raise InjectError(f"no room for another {kind} incident ({len(out)} placed): "
                              "ask for fewer or shorter ones")  # fmt: skip
    out.sort(key=lambda i: (i.start_ms, i.home_id))
    return out


def _local_daytime(ms: int, timezone: str, rng: random.Random, hours: tuple[int, int]) -> int:
    zone = ZoneInfo(timezone)
    day = datetime.fromtimestamp(ms / 1000, zone).replace(hour=0, minute=0, second=0,
                                                          microsecond=0)  # fmt: skip
    seconds = rng.uniform(hours[0], hours[1]) * 3600
    return round((day.timestamp() + seconds) * 1000)


class _MeterChanges:
    """One meter's injections, as a function from (time, index) to the new index."""

    def __init__(self, injections: list[Injection], times: list[int], values: list[float]):
        self.steps: list[tuple[Injection, float, float]] = []
        for inj in sorted(injections, key=lambda i: i.start_ms):
            at_start = _index_at(times, values, inj.start_ms)
            at_end = _index_at(times, values, inj.end_ms)
            self.steps.append((inj, at_start, at_end))
        self.whole = all(v == int(v) for v in values)

    def __call__(self, ts: int, value: float) -> float:
        shift = 0.0  # what the earlier injections added (taps) or took off (no water)
        for inj, at_start, at_end in self.steps:
            if ts < inj.start_ms:
                break
            if inj.kind == "no_water":
                if ts < inj.end_ms:  # flat through the window
                    return self._round(at_start + shift)
                shift -= at_end - at_start  # afterwards, what was used then is taken off
            else:
                shift += inj.rate_lpm * (min(ts, inj.end_ms) - inj.start_ms) / 60_000
        return self._round(value + shift)

    def _round(self, value: float) -> float:
        return float(int(value)) if self.whole else round(value, 3)


def _index_at(times: list[int], values: list[float], ts: int) -> float:
    """The index at `ts`, interpolated between the readings either side."""
    i = bisect.bisect_left(times, ts)
    if i == 0:
        return values[0]
    if i == len(times):
        return values[-1]
    t0, t1, v0, v1 = times[i - 1], times[i], values[i - 1], values[i]
    if v1 < v0:  # a replaced meter: no interpolation across it
        return v0
    return v0 + (v1 - v0) * (ts - t0) / (t1 - t0)


def rewrite(
    recording: Path,
    injections: list[Injection],
    series: dict[str, tuple[list[int], list[float]]],
) -> Iterator[str]:
    """The recording's lines with the injections applied to their meters' readings
    (`series`: the meters' readings as `meter_series` gives them)."""
    by_device: dict[str, list[Injection]] = {}
    for inj in injections:
        by_device.setdefault(inj.device_id, []).append(inj)
    changes = {device: _MeterChanges(mine, *series[device]) for device, mine in by_device.items()}
    with recording.open(encoding="utf-8") as handle:
        for line in handle:
            device = _meter_of(line)
            change = changes.get(device) if device is not None else None
            if change is None:
                yield line
                continue
            obj = json.loads(line)
            payload = obj.get("payload", {})
            if "readings" in payload:
                for element in payload["readings"]:
                    element["volume_l"] = change(_ms(element["ts"]), float(element["volume_l"]))
            elif "volume_l" in payload:
                payload["volume_l"] = change(_ms(payload["ts"]), float(payload["volume_l"]))
            yield json.dumps(obj, separators=(",", ":"), ensure_ascii=False) + "\n"
