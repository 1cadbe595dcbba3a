"""Where and when a home's incidents happen: drawn up front from the home's own stream.

Each kind has its own timing (falls at night on the way to the bathroom or in the day,
smoke at cooking times, stays away leaving in the daytime) and durations. Resident
incidents are kept at least 12 h apart and device faults 2 h clear of them, so the ground
truth of one never blurs another's; a draw that does not fit is retried, then dropped.
"""

from __future__ import annotations

import random
from collections.abc import Callable

from simulators.incidents import (
    LOW_BATTERY_PCT,
    DeviceFault,
    Fall,
    Illness,
    Incident,
    IncidentKind,
    IncidentRates,
    NightWandering,
    ReportGap,
    Smoke,
    StayAway,
    WaterRunning,
)
from simulators.layout import (
    AWAY,
    BATHROOM,
    BEDROOM,
    CLASSIC_DEVICES,
    KITCHEN,
    LIVING_ROOM,
    PIR_DEVICES,
    SMOKE_ALARM,
    WATER_METER,
)
from simulators.localtime import MS_PER_DAY, MS_PER_HOUR, MS_PER_MINUTE, HomeCalendar
from simulators.randomness import poisson
from simulators.world import NO_GAPS, Gaps

_MAX_TRIES = 40  # placements tried per incident before giving up on it


def _uniform_ms(rng: random.Random, low_h: float, high_h: float) -> int:
    return round(rng.uniform(low_h, high_h) * MS_PER_HOUR)


class _Placer:
    """Draws incidents one kind at a time, keeping the windows apart."""

    def __init__(
        self,
        calendar: HomeCalendar,
        wake_ms: Callable[[int], int],
        rng: random.Random,
        installed: tuple[int, ...] = CLASSIC_DEVICES,
    ) -> None:
        self.installed = installed
        self.cal = calendar
        self.wake_ms = wake_ms
        self.rng = rng
        self.resident: list[tuple[int, int]] = []  # occupied by resident incidents
        self.devices: list[tuple[int, int, int]] = []  # (device, start, end)
        self.found: list[Incident] = []

    def at(self, day: int, low_h: float, high_h: float) -> int:
        """A random local time between `low_h` and `high_h` hours into `day`, as UTC ms."""
        return self.cal.to_utc_ms(day, self.rng.uniform(low_h, high_h) * 3600)

    def day(self, last_margin: int = 1) -> int:
        """A random day index that leaves `last_margin` days before the end."""
        return self.rng.randint(0, max(self.cal.days - 1 - last_margin, 0))

    def _inside(self, start: int, end: int) -> bool:
        return self.cal.start_ms + MS_PER_HOUR <= start and end <= self.cal.end_ms - MS_PER_HOUR

    def resident_free(self, start: int, end: int) -> bool:
        """True (and the window taken) if no resident incident is within 12 h of it."""
        gap = 12 * MS_PER_HOUR
        if not self._inside(start, end):
            return False
        if any(s - gap < end and start < e + gap for s, e in self.resident):
            return False
        self.resident.append((start, end))
        return True

    def device_free(self, device: int, start: int, end: int) -> bool:
        """True (and the window taken) if the device and the resident are free around it."""
        gap = 2 * MS_PER_HOUR
        if not self._inside(start, end):
            return False
        if any(s - gap < end and start < e + gap for s, e in self.resident):
            return False
        if any(d == device and s - gap < end and start < e + gap for d, s, e in self.devices):
            return False
        self.devices.append((device, start, end))
        return True

    # -- one method per kind; each returns the incidents it placed (none if no room) --

    def fall(self) -> list[Incident]:
        """A fall at night (bathroom, bedroom) or by day; got up alone, or found later."""
        rng = self.rng
        day = self.day()
        if rng.random() < 0.55:  # at night, on the way to or in the bathroom
            start = self.at(day + 1, 0.5, 4.5)
            room = BATHROOM if rng.random() < 0.8 else BEDROOM
        else:
            start = self.at(day, 7.0, 20.0)
            room = rng.choice(
                (BATHROOM, BATHROOM, BATHROOM, KITCHEN, LIVING_ROOM, LIVING_ROOM, BEDROOM)
            )
        found = rng.random() < 0.5
        lie_ms = _uniform_ms(rng, 3, 30) if found else _uniform_ms(rng, 0.75, 5)
        end = start + lie_ms
        help_ms = _uniform_ms(rng, 20 / 60, 1)
        hospital_until = 0
        if found and (lie_ms > 8 * MS_PER_HOUR or rng.random() < 0.5):
            back_day = self.cal.locate(end)[0] + rng.randint(1, 4)
            hospital_until = self.at(back_day, 10, 17)
        occupied_end = max(end + help_ms, hospital_until) + 90 * MS_PER_MINUTE
        if not self.resident_free(start - 30 * MS_PER_MINUTE, occupied_end):
            return []
        return [Fall(IncidentKind.FALL, start, end, room, found, help_ms, hospital_until)]

    def illness(self) -> list[Incident]:
        """Ill for two to six days."""
        first = self.day(3)
        last = min(first + self.rng.randint(1, 5), self.cal.days - 2)
        if last < first:  # a recording too short for it
            return []
        start, end = self.wake_ms(first), self.wake_ms(last + 1)
        if not self.resident_free(start - 2 * MS_PER_HOUR, end + 2 * MS_PER_HOUR):
            return []
        return [Illness(IncidentKind.ILLNESS, start, end, first, last)]

    def tap_left_running(self) -> list[Incident]:
        """A kitchen or bathroom tap left on for half an hour to four hours."""
        rng = self.rng
        start = self.at(self.day(), 8, 19)
        end = start + _uniform_ms(rng, 0.5, 4)
        room = KITCHEN if rng.random() < 0.6 else BATHROOM
        rate = round(rng.uniform(3, 7) * 10) * 100
        if not self.resident_free(start - 30 * MS_PER_MINUTE, end + 30 * MS_PER_MINUTE):
            return []
        return [WaterRunning(IncidentKind.TAP_LEFT_RUNNING, start, end, room, rate)]

    def leak(self) -> list[Incident]:
        """A leaking cistern or pipe, running for six hours to three days."""
        rng = self.rng
        start = self.at(self.day(3), 0, 24)
        end = start + _uniform_ms(rng, 6, 72)
        rate = round(rng.uniform(0.3, 2.0) * 10) * 100
        if not self.resident_free(start, end):
            return []
        return [WaterRunning(IncidentKind.LEAK, start, end, AWAY, rate)]

    def night_wandering(self) -> list[Incident]:
        """An episode of one to three nights up and about."""
        rng = self.rng
        day = self.day(4)
        nights = []
        for night in range(rng.randint(1, 3)):
            start = self.at(day + night + 1, 0.25, 3.5)
            nights.append((start, start + _uniform_ms(rng, 0.5, 2.5)))
        if not self.resident_free(nights[0][0] - MS_PER_HOUR, nights[-1][1] + MS_PER_HOUR):
            return []
        return [NightWandering(IncidentKind.NIGHT_WANDERING, s, e) for s, e in nights]

    def smoke(self) -> list[Incident]:
        """Smoke at lunch or dinner cooking time, three to twenty minutes."""
        rng = self.rng
        low, high = (11.0, 12.0) if rng.random() < 0.5 else (17.0, 18.5)
        start = self.at(self.day(), low, high)
        end = start + _uniform_ms(rng, 3 / 60, 20 / 60)
        if not self.resident_free(start - 45 * MS_PER_MINUTE, end + 30 * MS_PER_MINUTE):
            return []
        return [Smoke(IncidentKind.SMOKE, start, end)]

    def stay_away(self, kind: IncidentKind) -> list[Incident]:
        """Staying with family for two to seven days."""
        day = self.day(3)
        start = self.at(day, 9, 16)
        end = self.at(day + self.rng.randint(2, 7), 10, 18)
        if not self.resident_free(start - 30 * MS_PER_MINUTE, end + 30 * MS_PER_MINUTE):
            return []
        return [StayAway(kind, start, end)]

    def device_offline(self) -> list[Incident]:
        """A device off the network for four hours to two days."""
        if self.installed == CLASSIC_DEVICES:
            device = self.rng.randrange(SMOKE_ALARM + 1)
        else:
            device = self.rng.choice(self.installed)
        start = self.at(self.day(), 0, 24)
        end = start + _uniform_ms(self.rng, 4, 48)
        if not self.device_free(device, start, end):
            return []
        return [DeviceFault(IncidentKind.DEVICE_OFFLINE, start, end, device, start)]

    def battery_flat(self) -> list[Incident]:
        """A PIR's or the smoke alarm's battery collapses; replaced days later."""
        rng = self.rng
        if self.installed == CLASSIC_DEVICES:
            device = rng.choice((*PIR_DEVICES, SMOKE_ALARM))
        else:
            device = rng.choice([d for d in self.installed if d != WATER_METER])
        fail = self.at(self.day(6), 0, 24)
        level = rng.uniform(25, 40)
        silent = fail + round(rng.uniform(1, 3) * MS_PER_DAY)
        replaced = silent + round(rng.uniform(0.5, 3) * MS_PER_DAY)
        low = fail + round((silent - fail) * (level - LOW_BATTERY_PCT) / level)
        if not self.device_free(device, fail, replaced):
            return []
        return [DeviceFault(IncidentKind.BATTERY_FLAT, low, replaced, device, silent, fail, level)]

    def meter_replaced(self) -> list[Incident]:
        """The water meter swapped for a new one reading about zero."""
        start = self.at(self.day(), 9, 16)
        end = start + _uniform_ms(self.rng, 20 / 60, 1.5)
        if not self.device_free(WATER_METER, start, end):
            return []
        return [DeviceFault(IncidentKind.METER_REPLACED, start, end, WATER_METER, start)]

    def holiday(self) -> list[Incident]:
        """Away for two to ten days, and nobody told the service."""
        day = self.day(3)
        start = self.at(day, 8, 18)
        end = self.at(day + self.rng.randint(2, 10), 10, 20)
        if not self.resident_free(start - 30 * MS_PER_MINUTE, end + 30 * MS_PER_MINUTE):
            return []
        return [StayAway(IncidentKind.HOLIDAY, start, end)]

    def _gap(self, kind: IncidentKind, devices: tuple[int, ...], hours: float) -> list[Incident]:
        start = self.at(self.day(), 0, 24)
        end = start + round(hours * MS_PER_HOUR)
        gap = 2 * MS_PER_HOUR
        if not self._inside(start, end) or any(
            s - gap < end and start < e + gap for s, e in self.resident
        ):
            return []
        if any(d in devices and s - gap < end and start < e + gap for d, s, e in self.devices):
            return []
        self.devices.extend((d, start, end) for d in devices)
        return [ReportGap(kind, start, end, devices)]

    def network_outage(self, gaps: Gaps) -> list[Incident]:
        """The home's network down for hours: its PIRs and smoke alarm are not heard."""
        devices = tuple(d for d in self.installed if d != WATER_METER)
        return self._gap(IncidentKind.NETWORK_OUTAGE, devices,
                         self.rng.uniform(*gaps.home_outage_hours))  # fmt: skip

    def meter_silent(self, gaps: Gaps) -> list[Incident]:
        """The water meter not reporting for days."""
        days = self.rng.uniform(*gaps.meter_silence_days)
        return self._gap(IncidentKind.METER_SILENT, (WATER_METER,), days * 24)


def draw_incidents(
    rates: IncidentRates,
    calendar: HomeCalendar,
    wake_ms: Callable[[int], int],
    rng: random.Random,
    fixed: tuple[Incident, ...] = (),
    *,
    installed: tuple[int, ...] = CLASSIC_DEVICES,
    holidays_per_30d: float = 0.0,
    gaps: Gaps = NO_GAPS,
) -> tuple[Incident, ...]:
    """Draw one home's incidents, sorted by start; `wake_ms(day)` is that day's waking time.

    `fixed` incidents (scheduled on purpose) are placed first; the draws fit around them.
    Device faults only befall `installed` devices. Holidays and report gaps (profiles)
    are drawn last, so a home without them draws exactly what it always drew.
    """
    placer = _Placer(calendar, wake_ms, rng, installed)
    # Reserved whether or not they fit the 12 h spacing: a schedule is an order.
    placer.resident.extend((inc.start_ms - MS_PER_HOUR, inc.end_ms + MS_PER_HOUR) for inc in fixed)
    months = calendar.days / 30
    draws: tuple[tuple[float, Callable[[], list[Incident]]], ...] = (
        # Resident incidents first, rarest windows first, so the long ones find room.
        (rates.stay_away_declared, lambda: placer.stay_away(IncidentKind.STAY_AWAY_DECLARED)),
        (rates.stay_away_undeclared, lambda: placer.stay_away(IncidentKind.STAY_AWAY_UNDECLARED)),
        (rates.illness, placer.illness),
        (rates.fall, placer.fall),
        (rates.leak, placer.leak),
        (rates.night_wandering, placer.night_wandering),
        (rates.tap_left_running, placer.tap_left_running),
        (rates.smoke, placer.smoke),
        (rates.device_offline, placer.device_offline),
        (rates.battery_flat, placer.battery_flat),
        (rates.meter_replaced, placer.meter_replaced),
        (holidays_per_30d, placer.holiday),
        (gaps.home_outages_per_30d, lambda: placer.network_outage(gaps)),
        (gaps.meter_silences_per_30d, lambda: placer.meter_silent(gaps)),
    )
    incidents: list[Incident] = list(fixed)
    for rate, place in draws:
        for _ in range(poisson(rng, rate * months)):
            for _ in range(_MAX_TRIES):
                placed = place()
                if placed:
                    incidents.extend(placed)
                    break
    incidents.sort(key=lambda inc: (inc.start_ms, inc.end_ms, inc.kind.value))
    return tuple(incidents)
