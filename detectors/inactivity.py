"""Absence-of-activity rules, evaluated on the home's timer (never per reading).

All of them watch one silence: the time since the last sign of life. Whichever rule
speaks first names the episode (a fall in the bathroom, no morning, a long silence);
the others stay quiet until a new sign of life starts a new episode.
"""

from __future__ import annotations

import math

from core.kinds import Category, Severity
from detectors.activity import BATHROOM, blind_overlap, presumed_out
from detectors.baseline import SPARSE_COLD_EXTRA_S, SPARSE_PIRS
from detectors.findings import Finding, finding_at
from detectors.localtime import (
    CARE_DAY_START_S,
    SECONDS_PER_DAY,
    SLOT_S,
    SLOTS_PER_DAY,
    duration_text,
)
from detectors.state import NEVER, HomeState

INF = math.inf
# A silence that starts between the usual bedtime minus BEDTIME_LEAD_S and the usual
# wake-up minus MORNING_LEAD_S is sleep, judged by the morning rule. Longer leads treat
# more of the evening and early morning as night: fewer false alarms on early nights and
# late mornings, later detection of an evening fall.
BEDTIME_LEAD_S = 30 * 60.0
MORNING_LEAD_S = 60 * 60.0
# The latest morning deadline (seconds after the care day's noon: 11:45 local).
LATEST_DEADLINE_S = SECONDS_PER_DAY - 15 * 60.0
# A sparse home's silence that began after this (04:00 local, seconds after noon) began
# after a sign of life of the morning: not the night's.
SPARSE_MORNING_S = 16 * 3600.0
# A home with only a meter times silences by its own days once this many are known
# (until then only the 12-hour water rule speaks).
COLD_WATER_DAYS = 2
# Cold start: silences starting between 21:00 and four hours before the morning deadline
# are the night (seconds after the care day's noon).
COLD_NIGHT_START_S = 9 * 3600.0
COLD_NIGHT_SPAN_BEFORE_DEADLINE_S = 4 * 3600.0


def silence_due(thresholds: tuple[float, ...], start: float, offset_s: float) -> float:
    """First instant t ≥ start with t − start ≥ threshold of t's local half-hour slot."""
    local = start + offset_s
    slot0_start = local - (local % SLOT_S)
    slot0 = int((local % SECONDS_PER_DAY) // SLOT_S)
    for i in range(2 * SLOTS_PER_DAY):
        seg_start = slot0_start + i * SLOT_S
        seg_end = seg_start + SLOT_S
        candidate = max(local + thresholds[(slot0 + i) % SLOTS_PER_DAY], seg_start)
        if candidate < seg_end:
            return candidate - offset_s
    return start + max(thresholds)


def _thresholds(home: HomeState) -> tuple[float, ...]:
    if home.baseline is not None:
        return home.baseline.silence_threshold_s
    return home.cold_thresholds


def _night_bounds(home: HomeState) -> tuple[float, float, float]:
    """(night start, night end, morning deadline) in seconds after the care day's noon.

    A silence that starts in the person's night is their sleep until the morning
    deadline says otherwise; only after it (or past the night cap) is it an alarm.
    """
    a = home.settings.activity
    b = home.baseline
    if b is not None and not (math.isnan(b.bed_early_s) or math.isnan(b.wake_late_s)):
        return (
            b.bed_early_s - BEDTIME_LEAD_S,
            b.wake_early_s - MORNING_LEAD_S,
            b.wake_late_s + a.morning_margin_s,
        )
    deadline = a.cold_morning_deadline_s - CARE_DAY_START_S + SECONDS_PER_DAY
    if home.pir_count <= SPARSE_PIRS:
        deadline += SPARSE_COLD_EXTRA_S  # one or two sensors see the morning late
    if b is not None and not math.isnan(b.first_act_late_s):
        # Sensors that cannot tell when the person gets up (one or two, or only the
        # meter): the morning is late when the first sign of life is later than their
        # own late mornings, never earlier than the cold-start deadline, and before noon
        # (when their day, and its record, ends).
        deadline = min(max(deadline, b.first_act_late_s + a.morning_margin_s), LATEST_DEADLINE_S)
    return COLD_NIGHT_START_S, deadline - COLD_NIGHT_SPAN_BEFORE_DEADLINE_S, deadline


def _still_night(
    home: HomeState, start: float, day_start: float, night_start: float, night_end: float
) -> bool:
    """True when a silence from `start` is the person's night: it began after their
    usual bedtime and either before their usual mornings or before they got up today
    (a toilet visit at dawn does not make a morning)."""
    since_noon = start - day_start
    if since_noon < night_start:
        return False
    day = home.day
    sparse = home.pir_count <= SPARSE_PIRS
    if day is None or day.start != day_start:
        # A silence from an earlier care day: a sparse home's that began after 04:00 was
        # after its morning's first sign of life, as far as anyone can tell.
        return since_noon < night_end and not (sparse and since_noon >= SPARSE_MORNING_S)
    if sparse and 0 <= day.first_act <= since_noon:
        # Sensors that cannot tell getting up from a visit to the toilet: the first sign
        # of life of the morning is the morning, and silences after it are the day's.
        return False
    if since_noon < night_end:
        return True
    return day.wake < 0


def check_inactivity(
    home: HomeState, now: float, blind: list[list[float]], out: list[Finding]
) -> float:
    """Raise at most one inactivity finding for the current silence; return the next due."""
    a = home.settings.activity
    if home.declared_from <= now < home.declared_until:
        return home.declared_until
    if home.home_silent_reported:
        return INF  # we cannot see into the home; the device rules speak instead
    start = home.last_act
    after_away = home.declared_until > NEVER and start < home.declared_until <= now
    if after_away:
        start = home.declared_until
    if start <= NEVER or presumed_out(home, now):
        return INF
    if home.inact_reported_for == start:
        if a.renotify_s > 0:
            due = home.inact_notified_at + a.renotify_s
            if due <= now:
                home.inact_notified_at = now
                _emit(home, now, "motion_inactivity", start, "still no sign of activity", out)
                return now + a.renotify_s
            return due
        return INF
    # Time we were blind (pipeline or home outage) does not count as silence.
    shifted = start + blind_overlap(blind, start, now) + blind_overlap(home.blind, start, now)
    candidates: list[tuple[float, str]] = []
    if after_away:
        candidates.append((shifted + a.away_return_grace_s, "no_activity_after_away"))
    elif home.last_act_room == BATHROOM and home.has_bedroom and not home.sparse:
        # Without a bedroom sensor, going to bed after the bathroom looks the same as a
        # fall there (and without an entrance one, going out): the home's general
        # silence limits speak instead.
        bath = home.baseline.bathroom_silence_s if home.baseline else a.bathroom_silence_s
        candidates.append((shifted + bath, "prolonged_bathroom"))
    clock = home.clock
    day = home.day
    if day is not None and day.start <= start < day.end:
        day_start = day.start  # the usual case, without calendar arithmetic
    else:
        day_start = clock.care_day_start(clock.care_day(start))
    night_start, night_end, deadline = _night_bounds(home)
    if not home.has_pir and home.baseline is None and len(home.history) < COLD_WATER_DAYS:
        pass  # water alone cannot time silences before a few days are known: the 12 h rule
    elif not after_away and _still_night(home, start, day_start, night_start, night_end):
        # Asleep, as far as we know: the morning tells, or the night cap.
        morning = max(day_start + deadline, shifted + a.morning_min_silence_s)
        candidates.append((morning, "no_morning_activity"))
        candidates.append((shifted + a.night_cap_s, "motion_inactivity"))
    else:
        offset = clock.offset_s(shifted)
        candidates.append((silence_due(_thresholds(home), shifted, offset), "motion_inactivity"))
    if not candidates:
        return INF
    due, kind = min(candidates)
    if due > now:
        return due
    home.inact_reported_for = start
    home.inact_notified_at = now
    home.inact_kind = (
        "water_inactivity" if kind == "motion_inactivity" and not home.has_pir else kind
    )
    if home.day is not None:
        home.day.flagged = True
    _emit(home, now, kind, start, "", out)
    return now + a.renotify_s if a.renotify_s > 0 else INF


def _emit(
    home: HomeState, now: float, kind: str, start: float, prefix: str, out: list[Finding]
) -> None:
    clock = home.clock
    since = clock.clock_text(start)
    silence = duration_text(now - start)
    if kind == "motion_inactivity" and not home.has_pir:
        kind = "water_inactivity"
    what = "movement" if home.has_pir else "water use"
    params: dict[str, object] = {"since_at": round(start)}
    if prefix:
        params["repeat"] = True
    if kind == "prolonged_bathroom":
        text = f"went to the bathroom at {since} and no sign of activity since ({silence})"
    elif kind == "no_morning_activity":
        b = home.baseline
        usual = ""
        params["by_at"] = round(now)
        if b is not None and home.day is not None and not math.isnan(b.wake_median_s):
            usual = f"; usually up by {clock.clock_text(home.day.start + b.wake_median_s)}"
            params["usual_wake_at"] = round(home.day.start + b.wake_median_s)
        text = f"no activity this morning by {clock.clock_text(now)} (quiet since {since}){usual}"
    elif kind == "no_activity_after_away":
        text = f"declared away until {since}; no sign of activity since then ({silence})"
    else:
        thr = _thresholds(home)[clock.slot(now)]
        usual = "usual" if home.baseline is not None else "default"
        params |= {"limit_s": round(thr), "learned": home.baseline is not None}
        text = (
            f"no {what} since {since} ({silence}); the {usual} limit at this time of day "
            f"is {duration_text(thr)}"
        )
    if prefix:
        text = f"{prefix}: {text}"
    out.append(
        finding_at(home.home_id, Category.INACTIVITY, kind, Severity.HIGH, now, text, params=params)
    )
