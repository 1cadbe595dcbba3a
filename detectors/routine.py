"""Daily-routine outliers: a day unlike the person's own days, said in plain words.

Each closed care day's features (wake-up, first water, litres, activity, time out) get
a robust z-score against the person's own median and spread; a feature speaks only
when it is both statistically far out and far out in plain units.
"""

from __future__ import annotations

import math

from core.kinds import Category, Severity
from detectors import daybook as d
from detectors.baseline import ROUTINE_FEATURES, Baseline
from detectors.daybook import DaySummary
from detectors.findings import Finding, finding_at
from detectors.localtime import LocalClock, duration_text
from detectors.settings import RoutineSettings

# Below this many litres (signs of life) on a usual day the meter (the sensors) say too
# little to compare days by.
MIN_USUAL_LITRES = 20.0
MIN_USUAL_EVENTS = 10.0


def _shift_text(seconds: float) -> str:
    return f"{duration_text(abs(seconds))} {'later' if seconds > 0 else 'earlier'}"


def describe_outliers(
    summary: DaySummary,
    baseline: Baseline,
    settings: RoutineSettings,
    clock: LocalClock,
    day_start: float,
    leak_day: bool = False,
    params: dict[str, object] | None = None,
) -> list[tuple[float, str]]:
    """(|z|, sentence) for each routine feature far from usual, most unusual first; the
    figures of each go into `params` when given (keys named after the feature).

    On a day with a leak finding the litres say nothing about the person.
    """
    found: list[tuple[float, str]] = []
    figures: dict[str, tuple[float, dict[str, object]]] = {}
    for index, median, scale in zip(
        ROUTINE_FEATURES, baseline.feature_median, baseline.feature_scale, strict=True
    ):
        value = summary[index]
        if math.isnan(median) or value < 0:
            continue
        z = (value - median) / scale
        if abs(z) < settings.z_threshold:
            continue
        diff = value - median
        if index == d.F_WAKE and abs(diff) >= settings.min_wake_shift_s:
            text = (
                f"up {_shift_text(diff)} than usual "
                f"({clock.clock_text(day_start + value)} vs {clock.clock_text(day_start + median)})"
            )
            figures["wake"] = (abs(z), {"wake_at": round(day_start + value),
                                        "usual_wake_at": round(day_start + median)})  # fmt: skip
        elif index == d.F_FIRST_WATER and diff >= settings.min_first_water_shift_s:
            # Later only: an early first flush is a restless night, not a worry.
            text = f"first water use {_shift_text(diff)} than usual"
            figures["first_water"] = (abs(z), {"first_water_shift_s": round(diff)})
        elif (
            index == d.F_LITRES
            and not leak_day
            and median >= MIN_USUAL_LITRES
            and (
                value >= settings.high_litres_ratio * median
                or value <= settings.low_litres_ratio * median
            )
        ):
            text = f"used {value:.0f} L of water (usually {median:.0f} L)"
            figures["litres"] = (abs(z), {"litres": round(value), "usual_l": round(median)})
        elif (
            index == d.F_EVENTS
            and median >= MIN_USUAL_EVENTS
            and abs(diff) >= settings.min_events_ratio * median
        ):
            more = "more" if diff > 0 else "less"
            text = (
                f"moved about far {more} than usual ({value:.0f} movements, usually {median:.0f})"
            )
            figures["movements"] = (abs(z), {"movements": round(value),
                                             "usual_movements": round(median)})  # fmt: skip
        elif index == d.F_AWAY_S and diff >= settings.min_time_out_s:
            text = f"out of the home {duration_text(value)} (usually {duration_text(median)})"
            figures["out"] = (abs(z), {"out_s": round(value), "usual_out_s": round(median)})
        else:
            continue
        found.append((abs(z), text))
    found.sort(reverse=True)
    if params is not None:
        top = sorted(figures.items(), key=lambda item: -item[1][0])[:3]
        params["features"] = [name for name, _ in top]
        for _, (_, values) in top:
            params.update(values)
    return found


def routine_finding(
    home_id: str,
    summary: DaySummary,
    baseline: Baseline,
    settings: RoutineSettings,
    clock: LocalClock,
    day_start: float,
    at: float,
    leak_day: bool = False,
) -> Finding | None:
    """One routine finding for a closed day, or None when the day looked like theirs."""
    params: dict[str, object] = {}
    found = describe_outliers(summary, baseline, settings, clock, day_start, leak_day, params)
    if not found:
        return None
    text = "a day unlike their usual: " + "; ".join(sentence for _, sentence in found[:3])
    return finding_at(
        home_id, Category.ROUTINE, "routine_outlier", Severity.LOW, at, text, params=params
    )
