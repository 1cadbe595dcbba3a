"""Water-meter rules: leaks and taps left on, too much use, too little use, meter swaps.

Meter readings arrive on the hot path (index deltas, flow starts and stops); the
duration rules (flow for 30 min, 12 h with too little water) run on the home's timer.
"""

from __future__ import annotations

import bisect
import math

from core.kinds import Category, Severity
from core.readings import DeviceType
from detectors.activity import presumed_out
from detectors.daybook import (
    F_PAIR_MAX,
    F_RATE_MAX,
    F_RUN_MAX,
    WATER_BLOCK_S,
    WATER_BLOCKS,
)
from detectors.devices import HEARTBEAT_MAX_S, interval_s
from detectors.findings import Finding, finding_at
from detectors.localtime import duration_text
from detectors.state import NEVER, DeviceState, HomeState

INF = math.inf
# An index that goes back by at most this much is a meter's reading jitter, not a new
# meter (real hourly meters do it: 142 of 155 steps back in a year of 62 homes were
# of 1-5 L).
METER_JITTER_L = 20.0
# The night-flow window (local): when nobody should be drawing water. Intervals that
# end in it (an hourly meter's last one up to SLACK after it) are the night's.
NIGHT_FLOW_START_S = 1 * 3600.0
NIGHT_FLOW_END_S = 5 * 3600.0
NIGHT_FLOW_SLACK_S = 30 * 60.0
# A night counts only when its intervals cover this much of the window: a gap in the
# reports is unknown, not "no water".
NIGHT_FLOW_COVER_S = 3 * 3600.0
# Interval rules: an interval longer than this is a gap in the reports (unknown data);
# one this short or shorter is a fine meter's (15 min), longer a coarse one's (hourly).
MAX_INTERVAL_S = 2.5 * 3600.0
FINE_INTERVAL_S = 20 * 60.0
# Rates are judged only over intervals at least this long (a few seconds between two
# reports at a flow event say nothing about litres per minute).
MIN_RATE_INTERVAL_S = 10 * 60.0
# Cold-start limits, until LEARN days are known; then the learned ones, never below the
# floors. Rates in L/min over one interval, and over two in a row (the lower of the
# two): a tap left on at 3-7 L/min is far above an elder's use over an hour, but a
# shower fills a quarter hour. Runs of intervals that all saw some use: a quarter-hourly
# meter sees a pause within hours, an hourly one overnight.
FINE_RATE_COLD_LPM = 12.0
FINE_PAIR_COLD_LPM = 3.0
COARSE_RATE_COLD_LPM = 6.0
COARSE_PAIR_COLD_LPM = 3.0
FINE_RATE_FLOOR_LPM = 6.0
FINE_PAIR_FLOOR_LPM = 2.0
COARSE_RATE_FLOOR_LPM = 4.0
COARSE_PAIR_FLOOR_LPM = 2.5
FINE_RUN_COLD_S = 3 * 3600.0
COARSE_RUN_COLD_S = 30 * 3600.0
FINE_RUN_FLOOR_S = 3 * 3600.0
COARSE_RUN_FLOOR_S = 12 * 3600.0
FINE_SLOT_S = 15 * 60.0
COARSE_SLOT_S = 3600.0
FINE_SHARE_WEIGHT = 0.05  # how fast a meter's share of fine intervals follows it
LIMIT_FACTOR = 1.5  # learned limit = this × the highest the home's own days showed
RUN_FACTOR = 1.5
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
    if flow is not None:
        dev.has_flow = True
    dev.volume_ts = ts
    if dev.volume < 0:
        dev.volume = volume
        dev.flow_lpm = flow or 0.0
        dev.flow_since = ts if dev.flow_lpm > 0 else NEVER
        if home.water_since == NEVER:
            home.water_since = ts
            home.water_points.append([ts, home.water_total])  # the window's first anchor
        return False, INF
    delta = volume - dev.volume
    if -METER_JITTER_L <= delta < 0:
        # Real meters' indexes step back a litre or two now and then (reading jitter):
        # the higher index stands, and the next rise is counted from it.
        return False, INF
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
                params={
                    "device_id": dev.device_id,
                    "from_l": round(dev.volume),
                    "to_l": round(volume),
                },
            )
        )
        dev.volume = volume
        dev.flow_lpm = flow or 0.0
        dev.flow_since = ts if dev.flow_lpm > 0 else NEVER
        dev.high_flow_since = NEVER
        dev.prev_rate = -1.0
        dev.run_since = NEVER
        return False, INF
    dev.volume = volume
    was_flowing = dev.flow_lpm > 0
    if delta > 0:
        _use(home, ts, delta, out)
    elapsed = ts - previous_ts
    if elapsed > 0:
        _interval(home, dev, ts, delta, elapsed, out)
    wake_at = INF
    if dev.has_flow:
        wake_at = _flow(home, dev, ts, flow or 0.0, out)
    if home.continuous_reported_for == dev.flow_since != NEVER or dev.run_reported:
        assert home.day is not None
        home.day.leak = True  # a reported leak still running: today's litres are not theirs
    # A new draw (or use between two reports) means someone is at home.
    alive = (delta > 0 and not was_flowing) or (dev.flow_lpm > 0 and not was_flowing)
    return alive, wake_at


def _flow(home: HomeState, dev: DeviceState, ts: float, flow: float, out: list[Finding]) -> float:
    """The flow-rate rules' bookkeeping, for meters that report a flow rate."""
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
                    params={"flowed_s": round(ts - dev.flow_since)},
                )
            )
        dev.flow_since = NEVER
        dev.high_flow_since = NEVER
    dev.flow_lpm = flow
    return wake_at


def _interval(
    home: HomeState, dev: DeviceState, ts: float, litres: float, elapsed: float, out: list[Finding]
) -> None:
    """The rules on interval volumes (every meter, flow rate or not): a gap in the
    reports is unknown data, so an interval longer than MAX_INTERVAL_S says nothing."""
    day = home.day
    assert day is not None
    fine = elapsed <= FINE_INTERVAL_S
    if dev.fine_share < 0:
        dev.fine_share = float(fine)  # the first interval says what kind of meter it is
    dev.fine_share += FINE_SHARE_WEIGHT * (fine - dev.fine_share)
    if elapsed > MAX_INTERVAL_S:
        day.water_gap = True  # its litres are this day's and the days the gap spanned
        dev.prev_rate = -1.0
        _end_run(home, dev, ts, out)
        _night_flow(home, ts, -1.0, 0.0, out)
        return
    rate = litres / elapsed * 60.0
    # Some use in every slot of the meter's own period (a quarter hour, or an hour), for
    # far longer than this home ever runs: a dripping tap, a cistern running, a leak.
    slot_s = FINE_SLOT_S if dev.fine_share >= 0.5 else COARSE_SLOT_S
    slot = ts - ts % slot_s  # the start of the slot this report falls in
    if dev.run_since != NEVER and slot > dev.run_slot + slot_s:
        _end_run(home, dev, ts, out)  # a whole slot without use: the run is over
    if litres > 0:
        if dev.run_since == NEVER:
            dev.run_since = ts - elapsed
        dev.run_slot = slot
        run = ts - dev.run_since
        if run > day.run_max:
            day.run_max = run
        limit = home.run_high_s or (FINE_RUN_COLD_S if fine else COARSE_RUN_COLD_S)
        if run >= limit and not dev.run_reported:
            dev.run_reported = True
            _leak(
                home,
                finding_at(
                    home.home_id,
                    Category.LEAK,
                    "leak_continuous_use",
                    Severity.MEDIUM,
                    ts,
                    f"water used in every {'quarter hour' if slot_s < 3600 else 'hour'} for "
                    f"{duration_text(run)} without a break (now {rate:.1f} L/min): "
                    "a tap dripping, a cistern running or a leak?",
                    params={
                        "variant": "quarter" if slot_s < 3600 else "hour",
                        "running_s": round(run),
                        "lpm": round(rate, 1),
                    },
                ),
                out,
            )
    _night_flow(home, ts, rate, elapsed, out)
    # Far more water than this home uses, in one interval or two in a row: a tap left on.
    if elapsed >= MIN_RATE_INTERVAL_S:
        if rate > day.rate_max:
            day.rate_max = rate
        pair = min(rate, dev.prev_rate)
        if pair > day.pair_max:
            day.pair_max = pair
        rate_high = home.rate_high or (FINE_RATE_COLD_LPM if fine else COARSE_RATE_COLD_LPM)
        pair_high = home.pair_high or (FINE_PAIR_COLD_LPM if fine else COARSE_PAIR_COLD_LPM)
        if rate >= rate_high or pair >= pair_high:
            since = ts - elapsed if rate >= rate_high else ts - 2 * elapsed
            if home.high_use_reported_for < since - elapsed:
                home.high_use_reported_for = since
                what = "in one report" if rate >= rate_high else "in two reports in a row"
                _leak(
                    home,
                    finding_at(
                        home.home_id,
                        Category.LEAK,
                        "leak_high_use",
                        Severity.HIGH,
                        ts,
                        f"{litres:.0f} L of water in {duration_text(elapsed)} ({rate:.1f} L/min) "
                        f"{what}, far above what this home uses "
                        f"(at most {min(rate_high, pair_high):.1f} L/min): a tap left on?",
                        params={
                            "litres": round(litres),
                            "span_s": round(elapsed),
                            "lpm": round(rate, 1),
                            "usual_max_lpm": round(min(rate_high, pair_high), 1),
                        },
                    ),
                    out,
                )
            else:
                home.high_use_reported_for = since
        dev.prev_rate = rate
    else:
        dev.prev_rate = -1.0


def _end_run(home: HomeState, dev: DeviceState, ts: float, out: list[Finding]) -> None:
    if dev.run_reported:
        out.append(
            finding_at(
                home.home_id,
                Category.LEAK,
                "leak_continuous_use",
                Severity.INFO,
                ts,
                f"water stopped after {duration_text(ts - dev.run_since)} of use",
                clears=True,
                params={"flowed_s": round(ts - dev.run_since)},
            )
        )
    dev.run_since = NEVER
    dev.run_reported = False


def learn_limits(home: HomeState, min_days: int) -> None:
    """Refresh the interval-volume limits from the home's own closed days (leak days
    left out): never tighter than the highest this home has shown, with room above."""
    rates, pairs, runs = [], [], []
    for row in home.history:
        if len(row) <= F_RUN_MAX or row[F_RATE_MAX] < 0:
            continue  # an older summary, or a day without intervals (or with a leak)
        rates.append(row[F_RATE_MAX])
        pairs.append(row[F_PAIR_MAX])
        runs.append(row[F_RUN_MAX])
    if len(rates) < min_days:
        return
    fine = any(dev.fine_share >= 0.5 for dev in home.devices if dev.type is DeviceType.WATER_METER)
    home.rate_high = max(
        LIMIT_FACTOR * max(rates), FINE_RATE_FLOOR_LPM if fine else COARSE_RATE_FLOOR_LPM
    )
    home.pair_high = max(
        LIMIT_FACTOR * max(pairs), FINE_PAIR_FLOOR_LPM if fine else COARSE_PAIR_FLOOR_LPM
    )
    home.run_high_s = max(RUN_FACTOR * max(runs), FINE_RUN_FLOOR_S if fine else COARSE_RUN_FLOOR_S)


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
                params={"litres": round(day.litres)}
                | ({} if home.baseline is None else {"usual_max_l": round(limit)}),
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


def _night_flow(
    home: HomeState, ts: float, rate: float, elapsed: float, out: list[Finding]
) -> None:
    """Some use in every interval of the night, several nights running: a slow leak.
    `rate` is the interval's L/min (-1 after a gap: that stretch of night is unknown)."""
    day = home.day
    assert day is not None
    sod = home.clock.second_of_day(ts)
    in_night = NIGHT_FLOW_START_S < sod <= NIGHT_FLOW_END_S + NIGHT_FLOW_SLACK_S
    if home.night_flow_day != day.day or not in_night:
        if home.night_flow_reports >= NIGHT_FLOW_COVER_S:
            _close_night(home, ts, out)
        home.night_flow_reports = 0.0
        home.night_flow_min = -1.0
        home.night_flow_day = day.day
    if in_night and rate >= 0:
        home.night_flow_reports += min(elapsed, sod - NIGHT_FLOW_START_S)
        if home.night_flow_min < 0 or rate < home.night_flow_min:
            home.night_flow_min = rate


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
                params={"nights": home.night_flow_run, "lpm": round(home.night_flow_min, 2)},
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
                    params={"since_at": round(since), "lpm": round(dev.flow_lpm, 1)},
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
    # The rule needs a meter that reports at least every few hours, and judges only the
    # litres its reports cover: a gap in them is unknown, not "no water".
    known = NEVER
    for dev in home.devices:
        if dev.type is DeviceType.WATER_METER:
            if interval_s(home, dev) > HEARTBEAT_MAX_S:
                return INF
            known = max(known, dev.last_seen)
    if due > known:
        home.waiting_data = True
        return INF
    home.water_inact_reported_for = now
    if home.inact_reported_for == home.last_act:
        return INF  # this silence was already reported by a motion rule
    home.inact_reported_for = home.last_act
    home.inact_notified_at = now
    home.inact_kind = "water_inactivity"
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
            params={
                "variant": "litres",
                "litres": round(used),
                "window_s": round(w.inactivity_window_s),
                "min_l": round(limit),
            },
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
            params={
                "variant": "street_rule",
                "litres": round(used),
                "window_s": round(w.inactivity_window_s),
                "min_l": round(limit),
            },
        )
    )
    return INF
