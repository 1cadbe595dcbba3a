"""Water-meter rules: leaks and taps left on, too much use, too little use, meter swaps.

Meter readings arrive on the hot path (index deltas, flow starts and stops); the
duration rules (flow for 30 min, 12 h with too little water) run on the home's timer.
"""

from __future__ import annotations

import bisect
import math

from core.kinds import Category, Severity
from detectors.activity import presumed_out
from detectors.daybook import WATER_BLOCK_S, WATER_BLOCKS
from detectors.findings import Finding, finding_at
from detectors.localtime import duration_text
from detectors.state import NEVER, DeviceState, HomeState

INF = math.inf
SLOT15_S = 900.0  # the trickle rule's slot: a quarter hour, the meters' reporting interval
# The night-flow window (local): when nobody should be drawing water.
NIGHT_FLOW_START_S = 1 * 3600.0
NIGHT_FLOW_END_S = 5 * 3600.0
# A night needs this many meter reports in its window before it can count as "flowing".
NIGHT_FLOW_MIN_REPORTS = 8
FIRST_WATER_EARLIEST_S = 4 * 3600.0
# A flow finding needs a meter report at most this old: a silent meter says nothing.
FLOW_EVIDENCE_MAX_AGE_S = 30 * 60.0
MAX_WATER_POINTS = 64  # prune the 12 h window's points beyond this many


def _leak(home: HomeState, finding: Finding, out: list[Finding]) -> None:
    """Emit a leak finding and mark the day, whose litres then say nothing of the person."""
    if home.day is not None and not finding.clears:
        home.day.leak = True
    out.append(finding)


def on_meter(
    home: HomeState,
    dev: DeviceState,
    ts: float,
    volume: float,
    flow: float | None,
    previous_ts: float,
    out: list[Finding],
) -> tuple[bool, float]:
    """Take one meter reading (`previous_ts`: the meter's previous one); returns (a sign
    of life, when the home's timers must look next)."""
    if dev.volume < 0:
        dev.volume = volume
        dev.flow_lpm = flow or 0.0
        dev.flow_since = ts if dev.flow_lpm > 0 else NEVER
        if home.water_since == NEVER:
            home.water_since = ts
            home.water_points.append([ts, home.water_total])  # the window's first anchor
        return False, INF
    delta = volume - dev.volume
    if delta < 0:
        out.append(
            finding_at(
                home.home_id,
                Category.DEVICE,
                "meter_backwards",
                Severity.LOW,
                ts,
                f"water meter {dev.device_id} index went back from {dev.volume:.0f} L to "
                f"{volume:.0f} L (meter replaced or reset?)",
            )
        )
        dev.volume = volume
        dev.flow_lpm = flow or 0.0
        dev.flow_since = ts if dev.flow_lpm > 0 else NEVER
        dev.high_flow_since = NEVER
        return False, INF
    dev.volume = volume
    if flow is None:  # meters without a flow field: the mean flow since the last report
        elapsed = ts - previous_ts
        flow = delta / elapsed * 60.0 if delta > 0 and elapsed > 0 else 0.0
    was_flowing = dev.flow_lpm > 0
    if delta > 0:
        _use(home, ts, delta, out)
    _night_flow(home, ts, flow, out)
    w = home.settings.water
    wake_at = INF
    if flow > 0:
        if dev.flow_since == NEVER:
            dev.flow_since = ts
            wake_at = ts + w.continuous_flow_s
        if flow >= w.high_flow_lpm:
            if dev.high_flow_since == NEVER:
                dev.high_flow_since = ts
                wake_at = min(wake_at, ts + w.high_flow_s)
        else:
            dev.high_flow_since = NEVER
    else:
        if home.continuous_reported_for == dev.flow_since and dev.flow_since != NEVER:
            kind, home.leak_kind = home.leak_kind or "leak_continuous_flow", ""
            out.append(
                finding_at(
                    home.home_id,
                    Category.LEAK,
                    kind,
                    Severity.INFO,
                    ts,
                    f"water stopped after {duration_text(ts - dev.flow_since)} of flow",
                    clears=True,
                )
            )
        dev.flow_since = NEVER
        dev.high_flow_since = NEVER
    dev.flow_lpm = flow
    if home.continuous_reported_for == dev.flow_since != NEVER or home.trickle_reported:
        assert home.day is not None
        home.day.leak = True  # a reported leak still running: today's litres are not theirs
    # A new draw (or use between two reports) means someone is at home.
    alive = (flow > 0 and not was_flowing) or (delta > 0 and not was_flowing)
    return alive, wake_at


def _use(home: HomeState, ts: float, litres: float, out: list[Finding]) -> None:
    home.water_total += litres
    points = home.water_points
    points.append([ts, home.water_total])
    if len(points) > MAX_WATER_POINTS:
        _prune_points(home, ts)
    if home.water_inact_reported_for >= 0:
        # The low-water episode ends once the trailing window is back above the limit.
        window_s = home.settings.water.inactivity_window_s
        if home.water_total - _total_at(home, ts - window_s) >= water_window_limit_l(home):
            home.water_inact_reported_for = -1.0
    day = home.day
    assert day is not None
    day.litres += litres
    block = min(WATER_BLOCKS - 1, max(0, int((ts - day.start) // WATER_BLOCK_S)))
    day.water_blocks[block] += litres
    if day.first_water < 0:
        sod = home.clock.second_of_day(ts)
        if FIRST_WATER_EARLIEST_S <= sod < 12 * 3600.0:
            day.first_water = ts - day.start
    _trickle(home, ts, litres, out)
    limit = home.baseline.litres_high if home.baseline else home.settings.water.high_daily_l
    if day.litres > limit and home.high_daily_reported_day != day.day:
        home.high_daily_reported_day = day.day
        usual = "" if home.baseline is None else f" (usual ceiling {limit:.0f} L)"
        _leak(
            home,
            finding_at(
                home.home_id,
                Category.LEAK,
                "high_daily_use",
                Severity.MEDIUM,
                ts,
                f"{day.litres:.0f} L of water used today{usual}",
            ),
            out,
        )


def _prune_points(home: HomeState, now: float) -> None:
    """Drop window points older than the window, keeping one anchor before it."""
    cutoff = now - home.settings.water.inactivity_window_s
    points = home.water_points
    keep = 0
    for i, (ts, _) in enumerate(points):
        if ts < cutoff:
            keep = i
        else:
            break
    del points[:keep]


def _trickle(home: HomeState, ts: float, litres: float, out: list[Finding]) -> None:
    """Some flow in every quarter hour for hours: a dripping tap or running cistern."""
    slot = int(ts // SLOT15_S)
    if slot != home.slot15:
        w = home.settings.water
        flowed = home.slot15_l >= w.trickle_min_l_per_slot
        if flowed and slot == home.slot15 + 1:
            home.trickle_run += 1
        else:
            home.trickle_run = 1 if flowed else 0
            home.trickle_reported = False
        home.slot15 = slot
        home.slot15_l = 0.0
        if home.trickle_run >= w.trickle_slots and not home.trickle_reported:
            home.trickle_reported = True
            if not home.leak_kind:  # not while a running-water finding is still open
                _leak(
                    home,
                    finding_at(
                        home.home_id,
                        Category.LEAK,
                        "leak_continuous_flow",
                        Severity.MEDIUM,
                        ts,
                        f"water has been running in every quarter hour for "
                        f"{duration_text(home.trickle_run * SLOT15_S)}",
                    ),
                    out,
                )
    home.slot15_l += litres


def _night_flow(home: HomeState, ts: float, flow: float, out: list[Finding]) -> None:
    """Flow above zero through the whole night, several nights running: a slow leak."""
    day = home.day
    assert day is not None
    sod = home.clock.second_of_day(ts)
    in_night = NIGHT_FLOW_START_S <= sod < NIGHT_FLOW_END_S
    if home.night_flow_day != day.day or not in_night:
        if home.night_flow_reports >= NIGHT_FLOW_MIN_REPORTS:
            _close_night(home, ts, out)
        home.night_flow_reports = 0
        home.night_flow_min = -1.0
        home.night_flow_day = day.day
    if in_night:
        home.night_flow_reports += 1
        if home.night_flow_min < 0 or flow < home.night_flow_min:
            home.night_flow_min = flow


def _close_night(home: HomeState, ts: float, out: list[Finding]) -> None:
    if home.night_flow_min > 0:
        home.night_flow_run += 1
    else:
        home.night_flow_run = 0
        home.night_flow_reported = False
    nights = home.settings.water.night_flow_nights
    if home.night_flow_run >= nights and not home.night_flow_reported:
        home.night_flow_reported = True
        _leak(
            home,
            finding_at(
                home.home_id,
                Category.LEAK,
                "leak_night_flow",
                Severity.LOW,
                ts,
                f"water kept flowing all night for {home.night_flow_run} nights running "
                f"(at least {home.night_flow_min:.2f} L/min): a slow leak?",
            ),
            out,
        )


def check_flow(home: HomeState, dev: DeviceState, now: float, out: list[Finding]) -> float:
    """Timer rules on one meter's current flow; returns the next due."""
    if dev.flow_since == NEVER or now - dev.last_seen > FLOW_EVIDENCE_MAX_AGE_S:
        return INF
    w = home.settings.water
    due = INF
    if home.continuous_reported_for != dev.flow_since:
        due_cont = dev.flow_since + w.continuous_flow_s
        due_high = dev.high_flow_since + w.high_flow_s if dev.high_flow_since != NEVER else INF
        if min(due_cont, due_high) <= now:
            home.continuous_reported_for = dev.flow_since
            high = due_high <= now
            kind = "leak_high_flow" if high else "leak_continuous_flow"
            home.leak_kind = kind
            since = dev.high_flow_since if high else dev.flow_since
            _leak(
                home,
                finding_at(
                    home.home_id,
                    Category.LEAK,
                    kind,
                    Severity.HIGH,
                    now,
                    f"water running without a break since {home.clock.clock_text(since)} "
                    f"({duration_text(now - since)}, now {dev.flow_lpm:.1f} L/min): "
                    "a tap left on or a leak?",
                ),
                out,
            )
        else:
            due = min(due_cont, due_high)
    return due


def water_window_limit_l(home: HomeState) -> float:
    """Litres the 12 h water rule expects at least; learned lower when this person's
    own quiet windows use less (0 disables the rule for them)."""
    limit = home.settings.water.inactivity_min_l
    b = home.baseline
    if b is not None and not math.isnan(b.water_window_min_l):
        limit = min(limit, 0.5 * b.water_window_min_l)
    return limit


def check_water_inactivity(home: HomeState, now: float, out: list[Finding]) -> float:
    """Less than V litres in W hours while presumed home; returns the next due."""
    if home.water_since == NEVER or home.home_silent_reported:
        return INF
    if home.declared_from <= now < home.declared_until:
        return home.declared_until
    w = home.settings.water
    limit = water_window_limit_l(home)
    if limit <= 0 or home.water_inact_reported_for >= 0 or presumed_out(home, now):
        return INF
    window_start = max(home.water_since, home.declared_until)
    due = max(_window_due(home, limit, w.inactivity_window_s), window_start + w.inactivity_window_s)
    if home.has_pir:
        # Motion in the window (or a night's sleep) means the motion rules, which know
        # the person's nights, are in charge; the water rule speaks only when the
        # sensors have seen nothing for longer than any night.
        quiet_s = max(w.inactivity_window_s, home.settings.activity.night_cap_s)
        due = max(due, home.last_motion + quiet_s)
    if due > now:
        return due
    home.water_inact_reported_for = now
    if home.inact_reported_for == home.last_act:
        return INF  # this silence was already reported by a motion rule
    home.inact_reported_for = home.last_act
    home.inact_notified_at = now
    used = home.water_total - _total_at(home, now - w.inactivity_window_s)
    out.append(
        finding_at(
            home.home_id,
            Category.INACTIVITY,
            "water_inactivity",
            Severity.HIGH,
            now,
            f"only {used:.0f} L of water in the last {duration_text(w.inactivity_window_s)} "
            f"(expected at least {limit:.0f} L)",
        )
    )
    return INF


def _total_at(home: HomeState, t: float) -> float:
    """Cumulative litres at instant t (the last point at or before t)."""
    points = home.water_points
    index = bisect.bisect_right(points, t, key=_point_time) - 1
    return points[max(index, 0)][1]


def _window_due(home: HomeState, limit: float, window_s: float) -> float:
    """First instant at which the trailing window holds less than `limit` litres."""
    points = home.water_points
    index = bisect.bisect_right(points, home.water_total - limit, key=_point_total)
    return points[min(index, len(points) - 1)][0] + window_s


def _point_time(point: list[float]) -> float:
    return point[0]


def _point_total(point: list[float]) -> float:
    return point[1]


def check_street_rule(home: HomeState, now: float, out: list[Finding]) -> float:
    """The fixed street rule: less than V litres in W hours, nothing else considered."""
    if home.water_since == NEVER or home.water_inact_reported_for >= 0:
        return INF
    w = home.settings.water
    limit = w.inactivity_min_l
    due = max(
        _window_due(home, limit, w.inactivity_window_s),
        home.water_since + w.inactivity_window_s,
    )
    if due > now:
        return due
    home.water_inact_reported_for = now
    used = home.water_total - _total_at(home, now - w.inactivity_window_s)
    out.append(
        finding_at(
            home.home_id,
            Category.INACTIVITY,
            "water_inactivity",
            Severity.HIGH,
            now,
            f"street rule: {used:.0f} L of water in the last "
            f"{duration_text(w.inactivity_window_s)} (under {limit:.0f} L)",
        )
    )
    return INF
