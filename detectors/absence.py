"""A long absence nobody told us about: out through the entrance and not back.

Being out is not inactivity (the person left through the entrance), but staying away far
longer than their own longest outings, with no declared absence, is a day unlike their
own, and someone should ask where they are.
"""

from __future__ import annotations

import math

from core.kinds import Category, Severity
from detectors.activity import presumed_out
from detectors.findings import Finding, finding_at
from detectors.localtime import duration_text
from detectors.state import HomeState

INF = math.inf


def long_absence_limit_s(home: HomeState) -> float:
    """How long this person may be out before it is worth asking."""
    limit = home.settings.routine.cold_long_absence_s
    b = home.baseline
    if b is not None and not math.isnan(b.away_max_s):
        limit = max(limit, home.settings.routine.long_absence_factor * b.away_max_s)
    return limit


def check_long_absence(home: HomeState, now: float, out: list[Finding]) -> float:
    """Raise one routine finding per outing that lasts too long; return the next due."""
    if not home.has_entrance_presence or not presumed_out(home, now):
        return INF
    left = home.leave_at
    if home.absence_reported_for == left:
        return INF
    if home.declared_from <= now < home.declared_until:
        return home.declared_until
    due = left + long_absence_limit_s(home)
    if due > now:
        return due
    home.absence_reported_for = left
    if home.day is not None:
        home.day.flagged = True
    out.append(
        finding_at(
            home.home_id,
            Category.ROUTINE,
            "long_absence",
            Severity.MEDIUM,
            now,
            f"out since {home.clock.clock_text(left)} ({duration_text(now - left)}) with no "
            "absence declared: longer than any usual outing",
            params={"since_at": round(left)},
        )
    )
    return INF
