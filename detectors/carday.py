"""Closing care days: flush the day's record into the history, score it, refit.

A care day runs from local noon to local noon. Closing one accounts the silence still
running, decides whether the day was fully seen (no outage, no declared absence, not
the first partial day), scores its routine against the baseline, keeps its summary
and, when the engine refits inline, fits the baseline again.
"""

from __future__ import annotations

from detectors import water
from detectors.activity import account_silence, blind_overlap, presumed_out
from detectors.baseline import (
    cold_silence_thresholds,
    fit_baseline,
    grown_cold_thresholds,
)
from detectors.daybook import DayRecord, mark_away
from detectors.findings import Finding
from detectors.routine import routine_finding
from detectors.settings import EngineSettings
from detectors.state import NEVER, HomeState

# A first day observed from later than this after its noon is partial: not learned from.
PARTIAL_DAY_S = 60 * 60.0
# Rotate each device's learned reporting interval every this many days (two buckets, so
# the interval reflects the last two to four weeks).
INTERVAL_FORTNIGHT_DAYS = 14


def roll_days(
    home: HomeState,
    now: float,
    settings: EngineSettings,
    blind: list[list[float]],
    out: list[Finding],
) -> None:
    """Close every care day of `home` that ended by `now` and open the current one."""
    clock = home.clock
    day = home.day
    if day is None:
        number = clock.care_day(now)
        home.day = DayRecord(number, clock.care_day_start(number), clock.care_day_start(number + 1))
        home.day.partial = now - home.day.start > PARTIAL_DAY_S
        return
    while now >= day.end:
        close_day(home, day, now, settings, blind, out)
        number = day.day + 1
        day = DayRecord(number, day.end, clock.care_day_start(number + 1))
        # Still out on an absence already reported: not a day to learn from or score.
        day.flagged = home.absence_reported_for == home.leave_at and presumed_out(home, day.start)
        home.day = day


def close_day(
    home: HomeState,
    day: DayRecord,
    now: float,
    settings: EngineSettings,
    blind: list[list[float]],
    out: list[Finding],
) -> None:
    """Close one care day: account it, keep it, score it, maybe refit."""
    if presumed_out(home, day.end):
        day.away_s += day.end - max(home.leave_at, day.start)
        mark_away(day, home.clock.offset_s(day.end), home.leave_at, day.end)
    elif not home.home_silent_reported:
        account_silence(home, day.end, blind)
    unseen = (
        day.partial
        or home.home_silent_reported
        or blind_overlap(blind, day.start, day.end) > 0
        or blind_overlap(home.blind, day.start, day.end) > 0
        or (home.declared_until > day.start and home.declared_from < day.end)
    )
    home.prev_hourly = list(day.hourly)
    home.prev_away_hours = day.away_hours
    home.prev_wake_at = day.start + day.wake if day.wake >= 0 else NEVER
    if day.day % INTERVAL_FORTNIGHT_DAYS == 0:
        for dev in home.devices:
            dev.gap_prev, dev.gap_cur = dev.gap_cur, 0.0
    if unseen:
        return  # a day we could not fully see teaches nothing and is not scored
    summary = day.summary(home.clock.offset_s(day.start + max(day.wake, 0.0)))
    street = settings.only_street_rule
    # A day an inactivity or wandering finding already spoke about needs no routine one.
    if home.baseline is not None and not street and not day.flagged:
        finding = routine_finding(
            home.home_id,
            summary,
            home.baseline,
            home.settings.routine,
            home.clock,
            day.start,
            max(now, day.end),
            leak_day=day.leak,
        )
        if finding is not None:
            out.append(finding)
    home.history.append(summary)
    del home.history[: -settings.history_days]
    min_days = home.settings.activity.min_baseline_days
    if home.has_meter:
        water.learn_limits(home, min_days)
    if home.baseline is None and not street:
        home.cold_thresholds = grown_cold_thresholds(
            cold_silence_thresholds(home.settings, home.pir_count, home.has_entrance_presence),
            home.history,
            home.settings,
        )
    if street or not settings.auto_refit:
        return
    if day.day - home.last_fit_day >= settings.refit_every_days:
        fitted = fit_baseline(home.history, home.settings, home.sparse)
        if fitted is not None:
            home.baseline = fitted
            home.last_fit_day = day.day
