"""Scripted incidents with ground truth: what happens, when, and which category it is.

Incidents are drawn per home from its own random stream, at configurable rates, before
any day is simulated (`simulators.placement`), so the ground truth is known up front and
a live publisher can simulate day by day. How each incident shows in the resident's
timeline is in `simulators.episodes`; how device faults show in the devices' messages is
in `simulators.devices`.

Categories (DESIGN.md) — the choice made here:

| incident | category | truth window |
| --- | --- | --- |
| fall, recovered alone | inactivity | the fall → getting up |
| fall, found | inactivity | the fall → found (a hospital stay after it is a declared absence) |
| illness | inactivity | waking time of the first ill day → waking after the last |
| tap left running | leak | tap opened → turned off |
| leak (cistern, pipe) | leak | leak starts → fixed |
| night wandering | wandering | one line per night: up → back in bed |
| smoke | smoke | alarm sounds → alarm clears |
| stay away, undeclared | routine | leaves through the entrance → comes back |
| stay away, declared | (none) | not an incident: the family told the service |
| device offline | device | goes offline → back online |
| battery flat | device | battery at or below 20 % → battery replaced |
| meter replaced | device | old meter offline → new meter online |
| network outage (profiles with gaps) | device | the home's PIRs and smoke alarm offline → back |
| meter silent (profiles with gaps) | device | the meter's last report → its next one |
| holiday (profiles with life) | (none) | not an incident: away for days, nobody told |
| pipeline outage | system | our broker or ingest down (home `*`) |

A stay away is never `inactivity`: the resident left through the entrance, so a detector
that pages "no sign of life" then is wrong. The undeclared stay is `routine` (a day unlike
the person's own) and the declared one is only listed in the absences file, like a hospital
stay, for detectors that honour declared absences.

Ground truth stays unambiguous: resident incidents never overlap each other, and device
faults (and short connectivity losses) never overlap a resident incident.
"""

from __future__ import annotations

import enum
import math
from collections.abc import Mapping
from dataclasses import dataclass, fields, replace
from types import MappingProxyType

from core.kinds import Category
from simulators.localtime import MS_PER_MINUTE

LOW_BATTERY_PCT = 20  # where a flat-battery incident's truth window begins


class IncidentKind(enum.StrEnum):
    """The finer kind of a scripted incident (written as `kind` in the truth file)."""

    FALL = "fall"
    ILLNESS = "illness"
    TAP_LEFT_RUNNING = "tap_left_running"
    LEAK = "leak"
    NIGHT_WANDERING = "night_wandering"
    SMOKE = "smoke"
    STAY_AWAY_DECLARED = "stay_away_declared"
    STAY_AWAY_UNDECLARED = "stay_away_undeclared"
    DEVICE_OFFLINE = "device_offline"
    BATTERY_FLAT = "battery_flat"
    METER_REPLACED = "meter_replaced"
    NETWORK_OUTAGE = "network_outage"
    METER_SILENT = "meter_silent"
    HOLIDAY = "holiday"
    PIPELINE_OUTAGE = "pipeline_outage"

    @property
    def category(self) -> Category | None:
        """The ground-truth category, None when it is not an incident to alert on."""
        return _CATEGORIES[self]


_CATEGORIES: Mapping[IncidentKind, Category | None] = MappingProxyType(
    {
        IncidentKind.FALL: Category.INACTIVITY,
        IncidentKind.ILLNESS: Category.INACTIVITY,
        IncidentKind.TAP_LEFT_RUNNING: Category.LEAK,
        IncidentKind.LEAK: Category.LEAK,
        IncidentKind.NIGHT_WANDERING: Category.WANDERING,
        IncidentKind.SMOKE: Category.SMOKE,
        IncidentKind.STAY_AWAY_DECLARED: None,
        IncidentKind.STAY_AWAY_UNDECLARED: Category.ROUTINE,
        IncidentKind.DEVICE_OFFLINE: Category.DEVICE,
        IncidentKind.BATTERY_FLAT: Category.DEVICE,
        IncidentKind.METER_REPLACED: Category.DEVICE,
        IncidentKind.NETWORK_OUTAGE: Category.DEVICE,
        IncidentKind.METER_SILENT: Category.DEVICE,
        IncidentKind.HOLIDAY: None,
        IncidentKind.PIPELINE_OUTAGE: Category.SYSTEM,
    }
)


@dataclass(frozen=True, slots=True)
class IncidentRates:
    """Expected incidents per home per 30 days, by kind (the defaults give ~3 in 60 days)."""

    fall: float = 0.2
    illness: float = 0.15
    tap_left_running: float = 0.15
    leak: float = 0.1
    night_wandering: float = 0.12  # episodes of 1–3 nights
    smoke: float = 0.1
    stay_away_declared: float = 0.12
    stay_away_undeclared: float = 0.12
    device_offline: float = 0.2
    battery_flat: float = 0.1
    meter_replaced: float = 0.05

    def __post_init__(self) -> None:
        for field in fields(self):
            value = getattr(self, field.name)
            if not isinstance(value, int | float) or not math.isfinite(value) or value < 0:
                raise ValueError(f"incident rate {field.name} must be a finite number >= 0")

    def scaled(self, factor: float) -> IncidentRates:
        """Every rate multiplied by `factor` (0 turns incidents off)."""
        if not math.isfinite(factor) or factor < 0:
            raise ValueError("factor must be a finite number >= 0")
        return replace(self, **{f.name: getattr(self, f.name) * factor for f in fields(self)})


@dataclass(frozen=True, slots=True)
class Incident:
    """An incident in one home; `start_ms`–`end_ms` is its ground-truth window (UTC ms)."""

    kind: IncidentKind
    start_ms: int
    end_ms: int

    def __post_init__(self) -> None:
        if self.end_ms <= self.start_ms:
            raise ValueError("an incident must end after it starts")

    @property
    def category(self) -> Category | None:
        """The ground-truth category (None: not an incident to alert on)."""
        return self.kind.category


@dataclass(frozen=True, slots=True)
class Fall(Incident):
    """A fall in `room`; found by someone (then maybe hospital) or got up alone at the end."""

    room: int
    found: bool
    help_ms: int  # found: how long the helpers stay before leaving (with the resident or not)
    hospital_until_ms: int  # back home from hospital; 0 when not taken there


@dataclass(frozen=True, slots=True)
class Illness(Incident):
    """Ill for days `first_day`..`last_day` (day indices): much less activity."""

    first_day: int
    last_day: int


@dataclass(frozen=True, slots=True)
class WaterRunning(Incident):
    """Water running at a constant rate: a tap left on in `room`, or a hidden leak (AWAY)."""

    room: int
    rate_ml_per_min: int


@dataclass(frozen=True, slots=True)
class NightWandering(Incident):
    """Up and about at night, room to room, then back to bed."""


@dataclass(frozen=True, slots=True)
class Smoke(Incident):
    """Smoke from cooking: the alarm sounds at the start and clears at the end."""


@dataclass(frozen=True, slots=True)
class StayAway(Incident):
    """Staying with family (or on holiday): leaves through the entrance at the start,
    back at the end."""


@dataclass(frozen=True, slots=True)
class ReportGap(Incident):
    """Devices silent without a fault of their own: the home's network down, a meter not
    reporting. Their messages are lost (a batched meter keeps its reads)."""

    devices: tuple[int, ...]


@dataclass(frozen=True, slots=True)
class DeviceFault(Incident):
    """A device out of service. For a flat battery: the steep fall from `fail_ms`, silent
    from `silent_ms`; for every fault the device is silent from `silent_ms` to `end_ms`.
    """

    device: int
    silent_ms: int
    fail_ms: int = 0  # battery: when the level starts to collapse
    fail_level_pct: float = 0.0  # battery: the level then


def resident_windows(incidents: tuple[Incident, ...]) -> list[tuple[int, int]]:
    """The spans the resident's incidents cover, hospital stays included, for device draws."""
    spans = []
    for inc in incidents:
        if isinstance(inc, DeviceFault | ReportGap):
            continue
        end = inc.end_ms
        if isinstance(inc, Fall):
            end = max(end + inc.help_ms, inc.hospital_until_ms) + 30 * MS_PER_MINUTE
        spans.append((inc.start_ms, end))
    return spans
