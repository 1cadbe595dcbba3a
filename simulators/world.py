"""Profiles of the real world's variety: which meter, how many PIRs, gaps, visitors, couples.

The classic home (`classic`) is what the simulator always made: a meter reporting every
15 minutes and on every change of flow, five PIRs (one a room), no gaps, someone living
alone. Real homes differ, and each difference has fooled detectors tuned on the classic
home (issue 10), so a profile sets each of them:

- `meter`: `15min` (index every 15 min and on flow start/stop, with the flow rate: the
  classic meter), `hourly` (an index once an hour, whole litres, no flow rate and no
  status messages: most installed smart meters), `daily` (hourly reads sent as one
  batched upload a day, as NB-IoT meters save their battery; a failed upload is sent again
  with the next one, up to the wire contract's 96 reads);
- `pirs`: how many PIRs a home has, drawn per home from a range, placed as installers do
  (`placement_for`): a one-PIR flat has it in the hall or the living room;
- `pir_heartbeat`: `fixed` (a status every hour whatever happens) or `idle` (a status only
  after an hour without sending anything: a PIR in an unused room is heard only hourly);
- gaps: a share of reports lost at random; network outages of hours (the home's gateway:
  PIRs and smoke alarm silent); a meter silent for days (a batched meter sends the reads
  it kept when it is back, a streaming one loses them);
- life: unlabelled holidays (nobody told the service: not an incident, not declared),
  visitors (an afternoon, or a few nights), couples as well as people living alone.

Presets name the useful combinations; each dimension can be overridden. A profile's
`label` (e.g. `hourly/1-6pir/gaps/life`) is written in the registry's `profile` column so
that a backtest can report each profile separately.
"""

from __future__ import annotations

import enum
import random
from collections.abc import Mapping
from dataclasses import dataclass, replace
from types import MappingProxyType

from simulators.layout import (
    BATHROOM,
    BEDROOM,
    CLASSIC_DEVICES,
    ENTRANCE,
    HALL,
    KITCHEN,
    LIVING_ROOM,
    SMOKE_ALARM,
    WATER_METER,
)

MAX_PIRS = 6


class MeterKind(enum.StrEnum):
    """How a home's water meter reports."""

    FLOW15 = "15min"
    HOURLY = "hourly"
    DAILY = "daily"


class PirHeartbeat(enum.StrEnum):
    """When a PIR sends its status heartbeat."""

    FIXED = "fixed"  # every hour on the hour of its own phase, whatever happens
    IDLE = "idle"  # only after an hour in which it sent nothing


# Where installers put n PIRs, most likely first (weights). One PIR goes where the
# resident passes most: the hall, or the living room in a flat without a hall.
_PLACEMENTS: Mapping[int, tuple[tuple[tuple[int, ...], float], ...]] = MappingProxyType(
    {
        1: (((HALL,), 0.5), ((LIVING_ROOM,), 0.5)),
        2: (
            ((HALL, BATHROOM), 0.3),
            ((LIVING_ROOM, BEDROOM), 0.3),
            ((ENTRANCE, LIVING_ROOM), 0.2),
            ((HALL, BEDROOM), 0.2),
        ),
        3: (
            ((ENTRANCE, LIVING_ROOM, BATHROOM), 0.4),
            ((HALL, LIVING_ROOM, BEDROOM), 0.3),
            ((LIVING_ROOM, BATHROOM, BEDROOM), 0.3),
        ),
        4: (
            ((ENTRANCE, LIVING_ROOM, BATHROOM, BEDROOM), 0.5),
            ((HALL, LIVING_ROOM, KITCHEN, BEDROOM), 0.25),
            ((ENTRANCE, LIVING_ROOM, KITCHEN, BATHROOM), 0.25),
        ),
        5: (((ENTRANCE, LIVING_ROOM, KITCHEN, BATHROOM, BEDROOM), 1.0),),
        6: (((ENTRANCE, LIVING_ROOM, KITCHEN, BATHROOM, BEDROOM, HALL), 1.0),),
    }
)


def placement_for(count: int, rng: random.Random) -> tuple[int, ...]:
    """The PIR device numbers of a home with `count` PIRs, drawn as installers place them."""
    options = _PLACEMENTS.get(count)
    if options is None:
        raise ValueError(f"a home has 1 to {MAX_PIRS} PIRs, not {count}")
    roll = rng.random() * sum(weight for _, weight in options)
    for pirs, weight in options:
        roll -= weight
        if roll < 0:
            return tuple(sorted(pirs))
    return tuple(sorted(options[-1][0]))


@dataclass(frozen=True, slots=True)
class Gaps:
    """How reports go missing: rates per home per 30 days, durations as (low, high)."""

    missing_share: float = 0.0  # of all messages, lost at random
    home_outages_per_30d: float = 0.0  # the home's network: PIRs and smoke alarm silent
    home_outage_hours: tuple[float, float] = (1.0, 12.0)
    meter_silences_per_30d: float = 0.0
    meter_silence_days: tuple[float, float] = (1.0, 5.0)

    def __post_init__(self) -> None:
        if not 0 <= self.missing_share < 0.5:
            raise ValueError("missing_share must be from 0 to below 0.5")
        for name in ("home_outages_per_30d", "meter_silences_per_30d"):
            if not 0 <= getattr(self, name) <= 30:
                raise ValueError(f"{name} must be from 0 to 30")
        for name in ("home_outage_hours", "meter_silence_days"):
            low, high = getattr(self, name)
            if not 0 < low <= high:
                raise ValueError(f"{name} must be a range 0 < low <= high")


@dataclass(frozen=True, slots=True)
class Life:
    """Who else is in the home, and stays away nobody declared (none is an incident)."""

    holidays_per_30d: float = 0.0  # away for days, nobody told the service
    visits_per_30d: float = 0.0  # a visitor for an afternoon
    overnight_visits_per_30d: float = 0.0  # a visitor staying one to three nights
    couple_share: float = 0.0  # of homes where two people live

    def __post_init__(self) -> None:
        for name in ("holidays_per_30d", "visits_per_30d", "overnight_visits_per_30d"):
            if not 0 <= getattr(self, name) <= 30:
                raise ValueError(f"{name} must be from 0 to 30")
        if not 0 <= self.couple_share <= 1:
            raise ValueError("couple_share must be a share from 0 to 1")


NO_GAPS = Gaps()
REAL_GAPS = Gaps(missing_share=0.03, home_outages_per_30d=1.0, meter_silences_per_30d=0.3)
ALONE = Life()
REAL_LIFE = Life(
    holidays_per_30d=0.3, visits_per_30d=4.0, overnight_visits_per_30d=0.5, couple_share=0.3
)


@dataclass(frozen=True, slots=True)
class WorldProfile:
    """The kind of homes a simulation makes (see the module docstring)."""

    meter: MeterKind = MeterKind.FLOW15
    pirs: tuple[int, int] = (5, 5)  # drawn per home, inclusive
    pir_heartbeat: PirHeartbeat = PirHeartbeat.FIXED
    gaps: Gaps = NO_GAPS
    life: Life = ALONE

    def __post_init__(self) -> None:
        low, high = self.pirs
        if not 1 <= low <= high <= MAX_PIRS:
            raise ValueError(f"pirs must be a range within 1–{MAX_PIRS}, got {low}-{high}")

    @property
    def classic(self) -> bool:
        """True for the classic home: the simulator's output is exactly as it always was."""
        return self == CLASSIC

    @property
    def label(self) -> str:
        """A short name of the profile, e.g. `hourly/1-6pir/gaps/life`."""
        low, high = self.pirs
        pirs = f"{low}pir" if low == high else f"{low}-{high}pir"
        parts = [self.meter.value, pirs]
        if self.gaps != NO_GAPS:
            parts.append("gaps" if self.gaps == REAL_GAPS else "gaps*")
        if self.life != ALONE:
            parts.append("life" if self.life == REAL_LIFE else "life*")
        if self.pir_heartbeat is PirHeartbeat.IDLE:
            parts.append("idle-hb")
        return "/".join(parts)


CLASSIC = WorldProfile()
_REAL = WorldProfile(pirs=(1, 6), pir_heartbeat=PirHeartbeat.IDLE, gaps=REAL_GAPS, life=REAL_LIFE)
PRESETS: Mapping[str, WorldProfile] = MappingProxyType(
    {
        "classic": CLASSIC,
        "real-15min": _REAL,
        "real-hourly": replace(_REAL, meter=MeterKind.HOURLY),
        "real-daily": replace(_REAL, meter=MeterKind.DAILY),
    }
)


def parse_pirs(text: str) -> tuple[int, int]:
    """`3` or `1-6` as an inclusive range of PIR counts; ValueError names the problem."""
    low_text, _, high_text = text.partition("-")
    try:
        low = int(low_text)
        high = int(high_text) if high_text else low
    except ValueError:
        raise ValueError(f"PIRs must be a count or a range like 1-6, got {text!r}") from None
    if not 1 <= low <= high <= MAX_PIRS:
        raise ValueError(f"PIRs must be within 1–{MAX_PIRS} (low <= high), got {text!r}")
    return low, high


def build_profile(
    preset: str = "classic",
    meter: str | None = None,
    pirs: str | None = None,
    gaps: str | None = None,
    life: str | None = None,
    pir_heartbeat: str | None = None,
) -> WorldProfile:
    """A preset with any dimension overridden; ValueError names a bad one."""
    if preset not in PRESETS:
        raise ValueError(f"unknown profile {preset!r}; choose one of {', '.join(PRESETS)}")
    profile = PRESETS[preset]
    if meter is not None:
        try:
            profile = replace(profile, meter=MeterKind(meter))
        except ValueError:
            kinds = ", ".join(k.value for k in MeterKind)
            raise ValueError(f"unknown meter {meter!r}; choose one of {kinds}") from None
    if pirs is not None:
        profile = replace(profile, pirs=parse_pirs(pirs))
    if gaps is not None:
        if gaps not in ("none", "real"):
            raise ValueError(f"gaps must be none or real, got {gaps!r}")
        profile = replace(profile, gaps=REAL_GAPS if gaps == "real" else NO_GAPS)
    if life is not None:
        if life not in ("alone", "real"):
            raise ValueError(f"life must be alone or real, got {life!r}")
        profile = replace(profile, life=REAL_LIFE if life == "real" else ALONE)
    if pir_heartbeat is not None:
        try:
            profile = replace(profile, pir_heartbeat=PirHeartbeat(pir_heartbeat))
        except ValueError:
            raise ValueError(
                f"PIR heartbeat must be fixed or idle, got {pir_heartbeat!r}"
            ) from None
    return profile


@dataclass(frozen=True, slots=True)
class HomeSetup:
    """What a profile decided for one home, drawn before its incidents."""

    installed: tuple[int, ...]  # device numbers, in registry order
    couple: bool
    meter_phase_ms: int  # hourly reads: offset into the hour
    upload_phase_ms: int  # daily uploads: offset into the day (UTC)

    @property
    def pirs(self) -> tuple[int, ...]:
        """The home's PIR device numbers."""
        return tuple(n for n in self.installed if n not in (WATER_METER, SMOKE_ALARM))


CLASSIC_SETUP = HomeSetup(CLASSIC_DEVICES, couple=False, meter_phase_ms=0, upload_phase_ms=0)


def draw_setup(profile: WorldProfile, rng: random.Random) -> HomeSetup:
    """One home's devices and household under `profile` (the classic home draws nothing)."""
    if profile.classic:
        return CLASSIC_SETUP
    count = rng.randint(*profile.pirs)
    pirs = placement_for(count, rng)
    couple = rng.random() < profile.life.couple_share
    return HomeSetup(
        installed=(*pirs, WATER_METER, SMOKE_ALARM),
        couple=couple,
        meter_phase_ms=rng.randrange(3_600_000),
        upload_phase_ms=rng.randrange(86_400_000),
    )
