"""Unusually low activity: far fewer signs of life than this person shows at these hours.

Illness rarely looks like a fall: the person gets up, then spends the day in bed. So the
rule compares the signs of life over the last few complete local hours at home with the
person's usual rate for those hours, once an hour, and speaks when the ratio is below
their own quiet windows (and a Poisson tail says the count is implausibly low).
"""

from __future__ import annotations

import math

from core.kinds import Category, Severity
from detectors.activity import blind_overlap
from detectors.baseline import AWAKE_HOUR_MIN_EVENTS, poisson_lower
from detectors.daybook import MORNING_WINDOWS_S, away_between
from detectors.findings import Finding, finding_at
from detectors.localtime import duration_text
from detectors.state import NEVER, HomeState

INF = math.inf
HOUR_S = 3600.0
# Look just after each hour boundary, once the hour's count is complete.
CHECK_AFTER_HOUR_S = 60.0
# A window needs at least this many hours at home (the rest may be a short outing).
MIN_HOME_HOURS_SHORT_BY = 1
# The count must also be this improbable for a Poisson process at the usual rate.
POISSON_TAIL = 1e-3
# A morning window is judged at most this long after it closed (the home is looked at
# when it closes; later than this, e.g. after a restart, it is stale).
MORNING_LATE_S = 30 * 60.0
# Only mornings are judged: "getting up" more than this before the person's early
# mornings (their 10th percentile) is a restless night, where activity is naturally low.
EARLY_RISE_S = 30 * 60.0


def check_slow_morning(
    home: HomeState, now: float, blind: list[list[float]], out: list[Finding]
) -> float:
    """Up, but barely moving since: far fewer signs of life in the first minutes after
    getting up than on this person's slowest mornings. Once a care day (shared with the
    low-activity rule); returns the next due."""
    b = home.baseline
    day = home.day
    if b is None or day is None or day.wake < 0 or home.low_reported_day == day.day:
        return INF
    if not math.isnan(b.wake_early_s) and day.wake < b.wake_early_s - EARLY_RISE_S:
        return INF  # up well before their earliest mornings: a restless night, not a morning
    woke_at = day.start + day.wake
    for i, span in enumerate(MORNING_WINDOWS_S):
        if i >= len(b.morning_low) or math.isnan(b.morning_low[i]):
            continue
        end = woke_at + span
        if now < end:
            return end  # this window is still open: look when it closes
        if now > end + MORNING_LATE_S:
            continue  # closed long ago (e.g. after a restart): the hourly rule takes over
        count = day.morning[i]
        if count > b.morning_low[i]:
            continue
        maybe_out = home.leave_at == home.last_act > NEVER and home.has_entrance_presence
        if maybe_out or away_between(day, home.clock.offset_s(end), woke_at, span):
            continue  # out, or maybe just leaving: not a morning at home
        if home.declared_until > woke_at and home.declared_from < end:
            continue
        if blind_overlap(blind, woke_at, end) or blind_overlap(home.blind, woke_at, end):
            continue
        home.low_reported_day = day.day
        day.flagged = True
        clock = home.clock
        out.append(
            finding_at(
                home.home_id,
                Category.INACTIVITY,
                "slow_morning",
                Severity.MEDIUM,
                now,
                f"up at {clock.clock_text(woke_at)} but barely moving since: {count} "
                f"movements in the first {duration_text(span)} (usually about "
                f"{b.morning_usual[i]:.0f}); unwell?",
                params={
                    "woke_at": round(woke_at),
                    "movements": count,
                    "span_s": round(span),
                    "usual": round(b.morning_usual[i]),
                },
            )
        )
        return INF
    return INF


def _hour(home: HomeState, position: int) -> tuple[int, bool]:
    """(signs of life, was out) of record-order hour `position` (negative: yesterday)."""
    day = home.day
    assert day is not None
    local_hour = (position + 12) % 24
    if position >= 0:
        return day.hourly[local_hour], bool(day.away_hours >> local_hour & 1)
    if not home.prev_hourly:
        return 0, True  # no yesterday to look at: treat as unusable
    return home.prev_hourly[local_hour], bool(home.prev_away_hours >> local_hour & 1)


def check_low_activity(
    home: HomeState, now: float, blind: list[list[float]], out: list[Finding]
) -> float:
    """Raise a low-activity finding at most once a care day; return the next due."""
    b = home.baseline
    day = home.day
    if b is None or day is None or home.low_reported_day == day.day:
        return INF
    offset = home.clock.offset_s(now)
    local = now + offset
    due = local - local % HOUR_S + HOUR_S + CHECK_AFTER_HOUR_S - offset
    if math.isnan(b.low_activity_ratio):
        return INF
    k = home.settings.activity.low_activity_hours
    hour_now = int((local % 86400) // HOUR_S)
    window_end = now - (local % HOUR_S)
    window_start = window_end - k * HOUR_S
    position = (hour_now - 1 - 12) % 24
    if position > (hour_now - 12) % 24:
        position -= 24  # the window's last hour belongs to yesterday's record
    woke_at = home.prev_wake_at if position < 0 else day.start + day.wake
    if (position >= 0 and day.wake < 0) or woke_at <= NEVER:
        return due  # not up yet that day: the morning rule's business
    if window_start < woke_at - (woke_at + offset) % HOUR_S:
        return due  # the window reaches back before the hour they got up in
    if home.leave_at == home.last_act and home.leave_at > NEVER and home.has_entrance_presence:
        return due  # maybe out right now
    if home.declared_until > window_start and home.declared_from < now:
        return due
    if blind_overlap(blind, window_start, now) or blind_overlap(home.blind, window_start, now):
        return due
    count = 0
    expected = 0.0
    home_hours = 0
    for back in range(k):
        events, away = _hour(home, position - back)
        rate = b.hourly_rate[(position - back + 12) % 24]
        if rate < AWAKE_HOUR_MIN_EVENTS:
            return due  # a usual sleeping or dozing hour: low counts are normal
        if not away:
            count += events
            expected += rate
            home_hours += 1
    if home_hours < k - MIN_HOME_HOURS_SHORT_BY or expected <= 0:
        return due
    if count > b.low_activity_ratio * expected or count > poisson_lower(expected, POISSON_TAIL):
        return due
    home.low_reported_day = day.day
    day.flagged = True
    clock = home.clock
    out.append(
        finding_at(
            home.home_id,
            Category.INACTIVITY,
            "low_activity",
            Severity.MEDIUM,
            now,
            f"far less activity than usual: {count} movements between "
            f"{clock.clock_text(window_start)} and {clock.clock_text(window_end)} "
            f"(usually about {expected:.0f}); unwell?",
            params={
                "movements": count,
                "from_at": round(window_start),
                "to_at": round(window_end),
                "usual": round(expected),
            },
        )
    )
    return INF
