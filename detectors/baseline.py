"""The learned per-home baseline: what is normal for *this* person, from their own days.

`fit_baseline` is a plain, vectorised function of a home's recent day summaries: a few
numpy reductions over a (days × 93) array, well under a millisecond per home, so a
service can refit 100,000 homes in a worker pool in minutes.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import asdict, dataclass, fields
from typing import Any

import numpy as np

from detectors import daybook as d
from detectors.localtime import CARE_DAY_START_S, SLOT_S, SLOTS_PER_DAY
from detectors.settings import HomeSettings

# Robust spread floors, so a very regular person does not get a near-zero scale and
# an outlier score for every trivial wobble. Larger floors mean fewer routine findings.
WAKE_SCALE_FLOOR_S = 30 * 60.0
LITRES_SCALE_FLOOR_L = 15.0
EVENTS_SCALE_FLOOR = 10.0
AWAY_SCALE_FLOOR_S = 45 * 60.0
NIGHT_EVENTS_SCALE_FLOOR = 2.0
MAD_TO_SIGMA = 1.4826
# A slot whose longest silence stays under this on nine days in ten is an awake slot,
# where the awake cap applies; otherwise the person often sleeps or naps in it.
AWAKE_SLOT_Q90_S = 2 * 3600.0
# Neighbouring slots (each side) whose worst case a slot shares: habits shift by an hour.
SMOOTHING_SLOTS = 2
# Days flagged by a finding are left out of fitting (an illness must not teach that long
# silences are normal) unless they are more than this share of the history, which
# means the person's life has changed and the baseline must follow.
MAX_FLAGGED_SHARE = 0.25
# The routine features, in the order of Baseline.feature_median / feature_scale.
ROUTINE_FEATURES = (d.F_WAKE, d.F_FIRST_WATER, d.F_LITRES, d.F_EVENTS, d.F_AWAY_S)
ROUTINE_FLOORS = (
    WAKE_SCALE_FLOOR_S,
    WAKE_SCALE_FLOOR_S,
    LITRES_SCALE_FLOOR_L,
    EVENTS_SCALE_FLOOR,
    AWAY_SCALE_FLOOR_S,
)
# A home with at most this many motion sensors is sparse: its cold-start daytime silence
# limit is longer by SPARSE_COLD_EXTRA_S for each sensor short of SPARSE_PIRS + 1 (one
# sensor misses the person in every other room), and its morning deadline by as much.
SPARSE_PIRS = 2
SPARSE_COLD_EXTRA_S = 90 * 60.0
# A sparse home's learned silence limits go up to this (its own normal, whatever it is).
SPARSE_CAP_S = 24 * 3600.0
# Fewer valid days than this for a feature and it is left out of routine scoring.
MIN_FEATURE_DAYS = 7
# An hour whose usual (median) count of signs of life is at least this is an awake hour,
# where the low-activity rule may look. Lower extends it into dozing hours.
AWAKE_HOUR_MIN_EVENTS = 6.0
# The person's own quiet windows: this quantile of observed/expected activity.
LOW_ACTIVITY_QUANTILE = 0.05
# The person's own slow mornings: this quantile of the signs of life in the first
# minutes after getting up.
SLOW_MORNING_QUANTILE = 0.05


@dataclass(frozen=True, slots=True)
class Baseline:
    """One home's learned normal; times of day are seconds after the care day's noon."""

    days: int
    silence_threshold_s: tuple[float, ...]  # per local half-hour slot
    bathroom_silence_s: float
    wake_early_s: float  # 10th percentile of the first sustained morning activity
    wake_median_s: float
    wake_late_s: float  # 90th percentile
    bed_early_s: float  # 10th percentile of going to bed
    night_start_s: float  # local second of day when the night window starts
    night_end_s: float  # local second of day when the night window ends
    night_other_max: float  # night motion outside bedroom and bathroom
    low_activity_ratio: float  # observed/expected over K hours below this is "far too few"
    hourly_rate: tuple[float, ...]  # signs of life per local hour at home (Poisson rates)
    feature_median: tuple[float, ...]  # ROUTINE_FEATURES; NaN when not learnable
    feature_scale: tuple[float, ...]
    litres_high: float
    away_max_s: float  # the longest time out in a day
    water_window_min_l: float  # 2nd percentile of litres used in any 12 h window
    # Per daybook.MORNING_WINDOWS_S: at most this many signs of life that soon after
    # getting up is "barely moving" (NaN: not learnable), and the usual (median) count.
    morning_low: tuple[float, ...] = ()
    morning_usual: tuple[float, ...] = ()
    # 90th percentile of the first sign of life after 04:00: the morning deadline of a
    # home whose sensors cannot tell when the person gets up (NaN: not learnable).
    first_act_late_s: float = math.nan

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form (NaN written as None)."""
        out = asdict(self)
        for key, value in out.items():
            if isinstance(value, tuple):
                out[key] = [None if math.isnan(v) else v for v in value]
            elif isinstance(value, float) and math.isnan(value):
                out[key] = None
        return out

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Baseline:
        """Rebuild from `to_dict` output."""
        values: dict[str, Any] = {}
        for f in fields(cls):
            if f.name not in data:  # saved by an older version: the field's default
                continue
            raw = data[f.name]
            if isinstance(raw, list):
                values[f.name] = tuple(math.nan if v is None else float(v) for v in raw)
            elif f.name == "days":
                values[f.name] = int(raw)
            else:
                values[f.name] = math.nan if raw is None else float(raw)
        return cls(**values)


# A home's features are a few dozen values each: numpy's per-call overhead is most of
# the cost of a fit there, so the small reductions below work on sorted Python lists,
# computing exactly what np.quantile (linear) and np.median compute.


def _sorted_finite(values: np.ndarray) -> list[float]:
    if values.size > 64:  # e.g. every 12 h window of six weeks: numpy sorts faster
        ordered: list[float] = np.sort(values[np.isfinite(values)]).tolist()
        return ordered
    return sorted(v for v in values.tolist() if math.isfinite(v))


def _linear(ordered: list[float], q: float) -> float:
    """np.quantile(ordered, q) (method "linear") of a sorted, non-empty list."""
    last = len(ordered) - 1
    virtual = last * q
    if virtual >= last:
        return ordered[last]
    low = math.floor(virtual)
    a, b = ordered[low], ordered[low + 1]
    t = virtual - low
    diff = b - a
    return b - diff * (1 - t) if t >= 0.5 else a + diff * t


def _median(ordered: list[float]) -> float:
    """np.median of a sorted, non-empty list."""
    half = len(ordered) // 2
    if len(ordered) % 2:
        return ordered[half]
    return (ordered[half - 1] + ordered[half]) / 2.0


def _quantile(values: np.ndarray, q: float) -> float:
    ordered = _sorted_finite(values)
    return _linear(ordered, q) if ordered else math.nan


def column_quantile(values: np.ndarray, q: float) -> np.ndarray:
    """Per-column linear-interpolated quantile ignoring NaN (NaN for empty columns).

    np.nanquantile loops over columns in Python; sorting once is ~20x faster here.
    """
    ordered = np.sort(values, axis=0)  # NaN sort last
    valid = np.sum(~np.isnan(values), axis=0)
    position = q * np.maximum(valid - 1, 0)
    low = np.floor(position).astype(np.intp)
    high = np.minimum(low + 1, np.maximum(valid - 1, 0))
    columns = np.arange(values.shape[1])
    low_v = ordered[low, columns]
    high_v = ordered[high, columns]
    result = low_v + (high_v - low_v) * (position - low)
    return np.where(valid > 0, result, np.nan)


def _silence_thresholds(
    gaps: np.ndarray,
    settings: HomeSettings,
    sparse: bool = False,
    every_gap: np.ndarray | None = None,
) -> tuple[float, ...]:
    """Per-slot silence threshold: upper quantile of daily longest silences plus buffers;
    for a `sparse` home (one or two motion sensors, or only a meter) never below the
    longest silence its sensors showed in that part of the day, plus the buffer."""
    a = settings.activity
    masked = np.where(gaps < 0, np.nan, gaps)  # -1 marks a slot the person spent away
    enough = np.sum(np.isfinite(masked), axis=0) >= MIN_FEATURE_DAYS
    q = column_quantile(masked, a.learned_quantile)
    q90 = column_quantile(masked, 0.9)
    # Neighbouring slots share their worst case: a nap that starts an hour later than
    # usual should not look abnormal.
    smooth = q.copy()
    for shift in range(1, SMOOTHING_SLOTS + 1):
        smooth = np.maximum(smooth, np.maximum(np.roll(q, shift), np.roll(q, -shift)))
    days = gaps.shape[0]
    relative = a.learned_relative_buffer * math.sqrt(max(a.learned_full_days / days, 1.0))
    thr = smooth * (1.0 + relative) + a.learned_buffer_s
    thr = np.maximum(thr, a.learned_floor_s)
    awake = q90 < AWAKE_SLOT_Q90_S
    # The caps are never tighter than the silences this home's own sensors show on an
    # ordinary day: a home whose only sensor is in the hall is quiet while its resident
    # sits in the bedroom, and that is not an alarm.
    longest = np.max(gaps, axis=0)  # -1 (away) never exceeds a real silence
    for shift in range(1, SMOOTHING_SLOTS + 1):
        longest = np.maximum(longest, np.maximum(np.roll(longest, shift), np.roll(longest, -shift)))
    # (A day out nobody declared is not a silence to learn beyond the night cap.)
    own = np.minimum(longest + a.learned_buffer_s, a.night_cap_s)
    thr = np.minimum(thr, np.maximum(np.where(awake, a.awake_cap_s, a.night_cap_s), own))
    if sparse and every_gap is not None:
        # A sparse home's sensors cannot tell a nap in an unseen room, or an outing, from
        # a silence: no limit tighter than the longest silence it showed in the weeks
        # learned from (`every_gap`: days with a finding included, for such a home's
        # long silences are mostly its habits), by night and by day; by day, silences
        # move about (a nap at one o'clock or at four), so none tighter than its longest
        # daytime one. Only a silence of a day or more is never normal.
        every = np.where(every_gap < 0, 0.0, every_gap)
        normal = np.max(every, axis=0)
        for shift in range(1, SMOOTHING_SLOTS + 1):
            normal = np.maximum(normal, np.maximum(np.roll(normal, shift), np.roll(normal, -shift)))
        normal = np.minimum(normal + a.learned_buffer_s, SPARSE_CAP_S)
        slots = np.arange(SLOTS_PER_DAY) * SLOT_S
        day = (slots >= a.cold_day_starts_s) & (slots < a.cold_day_ends_s)
        thr = np.maximum(thr, normal)
        thr = np.where(day, np.maximum(thr, np.max(np.where(day, normal, 0.0))), thr)
    cold = np.asarray(cold_silence_thresholds(settings))
    thr = np.where(enough, thr, cold)
    return tuple(float(v) for v in thr)


def cold_silence_thresholds(
    settings: HomeSettings, pirs: int = 5, entrance: bool = True
) -> tuple[float, ...]:
    """Cold-start per-slot silence thresholds: generous by night, firm by day (less firm
    for a home with one or two motion sensors, which miss much of what the person does,
    or without an entrance sensor, which cannot tell an outing from a silence)."""
    a = settings.activity
    if not entrance:
        pirs = min(pirs, SPARSE_PIRS)
    extra = SPARSE_COLD_EXTRA_S * max(0, SPARSE_PIRS + 1 - pirs) if pirs <= SPARSE_PIRS else 0.0
    day_s = a.cold_day_silence_s + extra
    out = []
    for slot in range(SLOTS_PER_DAY):
        start = slot * SLOT_S
        day = a.cold_day_starts_s <= start < a.cold_day_ends_s
        out.append(day_s if day else a.cold_night_silence_s)
    return tuple(out)


def grown_cold_thresholds(
    cold: tuple[float, ...], history: Sequence[Sequence[float]], settings: HomeSettings
) -> tuple[float, ...]:
    """Cold-start thresholds never tighter than the longest silences of the days seen so
    far (before a baseline can be fitted): the first week of a home learns too."""
    rows = [row for row in history if len(row) > d.F_GAP and row[d.F_FLAGGED] <= 0]
    if not rows:
        return cold
    a = settings.activity
    longest = np.max(np.asarray([row[d.F_GAP : d.F_GAP + SLOTS_PER_DAY] for row in rows]), axis=0)
    smooth = longest.copy()
    for shift in range(1, SMOOTHING_SLOTS + 1):
        smooth = np.maximum(smooth, np.maximum(np.roll(longest, shift), np.roll(longest, -shift)))
    grown = np.minimum(
        smooth * (1.0 + a.learned_relative_buffer) + a.learned_buffer_s, a.night_cap_s
    )
    return tuple(float(v) for v in np.maximum(np.asarray(cold), grown))


def _robust(values: np.ndarray, floor: float) -> tuple[float, float]:
    ordered = _sorted_finite(values)
    if len(ordered) < MIN_FEATURE_DAYS:
        return math.nan, math.nan
    median = _median(ordered)
    mad = _median(sorted(abs(v - median) for v in ordered))
    return median, max(MAD_TO_SIGMA * mad, floor)


def fit_baseline(
    history: Sequence[Sequence[float]] | np.ndarray, settings: HomeSettings, sparse: bool = False
) -> Baseline | None:
    """Fit a home's baseline from its closed day summaries; None until enough days.
    `sparse`: the home has at most SPARSE_PIRS motion sensors (see _silence_thresholds)."""
    if not isinstance(history, np.ndarray):
        # State saved by older versions holds shorter days: pad them.
        history = [
            [*row, *[d.NONE] * (d.SUMMARY_LEN - len(row))]
            if d.OLD_SUMMARY_LEN <= len(row) < d.SUMMARY_LEN
            else row
            for row in history
        ]
    arr = np.asarray(history, dtype=np.float64)
    if arr.ndim != 2 or arr.shape[0] < settings.activity.min_baseline_days:
        return None
    if d.OLD_SUMMARY_LEN <= arr.shape[1] < d.SUMMARY_LEN:  # kept by an older version
        arr = np.hstack([arr, np.full((arr.shape[0], d.SUMMARY_LEN - arr.shape[1]), d.NONE)])
    if arr.shape[1] != d.SUMMARY_LEN:
        raise ValueError(f"day summaries must have {d.SUMMARY_LEN} values")
    every_gap = arr[:, d.F_GAP : d.F_GAP + SLOTS_PER_DAY]
    flagged = arr[:, d.F_FLAGGED] > 0
    if 0 < flagged.sum() <= MAX_FLAGGED_SHARE * arr.shape[0]:
        arr = arr[~flagged]
    # -1 marks "not seen that day"; NaN lets the reductions skip it.
    scalars = np.where(arr[:, : d.F_SCALARS] < 0, np.nan, arr[:, : d.F_SCALARS])
    wake = scalars[:, d.F_WAKE]
    a = settings.activity
    night_end_local = a.cold_night_end_s
    wake_early = _quantile(wake, 0.1)
    if np.isfinite(wake).sum() >= MIN_FEATURE_DAYS:
        # The night ends an hour before the person's early mornings (local clock).
        candidate = (wake_early + CARE_DAY_START_S - 3600.0) % 86400.0
        night_end_local = min(max(candidate, 3.5 * 3600.0), 7 * 3600.0)
    night_start_local = a.cold_night_start_s
    bed = scalars[:, d.F_BED]
    if np.isfinite(bed).sum() >= MIN_FEATURE_DAYS:
        # The night starts half an hour after the person's late bedtimes, by 02:00.
        after_midnight = _quantile(bed, 0.9) + 1800.0 - CARE_DAY_START_S
        night_start_local = min(max(after_midnight, 0.0), 2 * 3600.0)
    hours, at_home = _hour_matrix(arr)
    hourly = _home_rates(hours, at_home)
    low_ratio = _low_activity_ratio(hours, at_home, hourly, a.low_activity_hours)
    night_other = scalars[:, d.F_NIGHT_OTHER]
    other_q = _quantile(night_other, 0.95)
    other_mean = float(np.nanmean(night_other)) if np.isfinite(night_other).any() else 0.0
    other_max = max(
        float(a.cold_night_other_events),
        (0.0 if math.isnan(other_q) else other_q) * 1.5 + 3.0,
        poisson_upper(other_mean, 1e-3),
    )
    medians, scales = [], []
    for index, floor in zip(ROUTINE_FEATURES, ROUTINE_FLOORS, strict=True):
        median, scale = _robust(scalars[:, index], floor)
        medians.append(median)
        scales.append(scale)
    litres = scalars[:, d.F_LITRES]
    litres_max = float(np.nanmax(litres)) if np.isfinite(litres).any() else 0.0
    litres_median = float(np.nanmedian(litres)) if np.isfinite(litres).any() else 0.0
    blocks = arr[:, d.F_WATER : d.F_WATER + d.WATER_BLOCKS].reshape(-1)
    per_window = d.WATER_BLOCKS // 2  # 12 h = 6 blocks of 2 h
    window_sums = np.convolve(blocks, np.ones(per_window), mode="valid")
    bath = scalars[:, d.F_BATH_SILENCE_S]
    bath_q = _quantile(bath, a.learned_quantile)
    bath_thr = a.bathroom_silence_s
    if not math.isnan(bath_q):
        bath_thr = max(bath_thr, bath_q * (1.0 + a.learned_relative_buffer) + a.learned_buffer_s)
    morning_low, morning_usual = _slow_mornings(arr, a.slow_morning_fraction)
    return Baseline(
        days=int(arr.shape[0]),
        silence_threshold_s=_silence_thresholds(
            arr[:, d.F_GAP : d.F_GAP + SLOTS_PER_DAY], settings, sparse, every_gap
        ),
        bathroom_silence_s=min(bath_thr, a.awake_cap_s),
        wake_early_s=wake_early,
        wake_median_s=_quantile(wake, 0.5),
        wake_late_s=_quantile(wake, 0.9),
        bed_early_s=_quantile(scalars[:, d.F_BED], 0.1),
        night_start_s=night_start_local,
        night_end_s=night_end_local,
        night_other_max=other_max,
        low_activity_ratio=min(a.low_activity_fraction * low_ratio, a.low_activity_max_ratio),
        hourly_rate=tuple(float(v) for v in hourly),
        feature_median=tuple(medians),
        feature_scale=tuple(scales),
        litres_high=max(2.0 * litres_max, 3.0 * litres_median, 150.0),
        away_max_s=_quantile(scalars[:, d.F_AWAY_S], 1.0),
        water_window_min_l=_quantile(window_sums, 0.02) if window_sums.size else math.nan,
        morning_low=morning_low,
        morning_usual=morning_usual,
        # A sparse home's sensors see the morning late and unevenly: its latest one.
        first_act_late_s=_quantile(
            arr[:, d.F_FIRST_ACT][arr[:, d.F_FIRST_ACT] >= 0], 1.0 if sparse else 0.9
        )
        if (arr[:, d.F_FIRST_ACT] >= 0).sum() >= MIN_FEATURE_DAYS
        else math.nan,
    )


def _slow_mornings(arr: np.ndarray, fraction: float) -> tuple[tuple[float, ...], tuple[float, ...]]:
    """Per morning window: the "barely moving" bar and the usual count after getting up.

    The bar is a fraction of the person's own slow mornings (a low quantile), and never
    above what a Poisson process at their usual count would make implausible.
    """
    lows, usuals = [], []
    for i in range(len(d.MORNING_WINDOWS_S)):
        counts = sorted(v for v in arr[:, d.F_MORNING + i].tolist() if v >= 0)
        if len(counts) < MIN_FEATURE_DAYS:
            lows.append(math.nan)
            usuals.append(math.nan)
            continue
        usual = _median(counts)
        low = fraction * _linear(counts, SLOW_MORNING_QUANTILE)
        lows.append(min(low, poisson_lower(usual, 1e-3)))
        usuals.append(usual)
    return tuple(lows), tuple(usuals)


def _hour_matrix(arr: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(signs of life, at home) per day and local hour, from the day summaries."""
    hours = arr[:, d.F_HOURLY : d.F_HOURLY + 24]
    away_bits = arr[:, d.F_AWAY_HOURS].astype(np.int64)
    home = ((away_bits[:, None] >> np.arange(24)[None, :]) & 1) == 0
    return hours, home


def _home_rates(hours: np.ndarray, home: np.ndarray) -> np.ndarray:
    """Mean signs of life per local hour, over the hours the person was at home."""
    days_home = home.sum(axis=0)
    return np.where(days_home > 0, (hours * home).sum(axis=0) / np.maximum(days_home, 1), 0.0)


def _low_activity_ratio(hours: np.ndarray, home: np.ndarray, rates: np.ndarray, k: int) -> float:
    """A low quantile of observed/expected signs of life over K-hour windows at home.

    Activity is clustered (naps, a long sit), so the person's own quiet windows set the
    bar rather than a Poisson tail, which would call every nap an alarm.
    """
    order = (np.arange(24) + 12) % 24  # record order: the care day starts at noon
    counts = (hours * home)[:, order].reshape(-1)
    expected = (np.where(home, rates[None, :], 0.0))[:, order].reshape(-1)
    awake = np.tile(rates[order] >= AWAKE_HOUR_MIN_EVENTS, hours.shape[0])
    at_home = home[:, order].reshape(-1)
    if counts.size < k:
        return math.nan

    def window(values: np.ndarray) -> np.ndarray:
        """Sums over every run of K consecutive hours."""
        total = np.concatenate(([0.0], np.cumsum(values, dtype=np.float64)))
        return total[k:] - total[:-k]

    observed = window(counts)
    wanted = window(expected)
    home_hours = window(at_home.astype(np.float64))
    awake_all = window(awake.astype(np.float64)) == k
    usable = awake_all & (home_hours >= k - 1) & (wanted > 0)
    if usable.sum() < MIN_FEATURE_DAYS:
        return math.nan
    return float(np.quantile(observed[usable] / wanted[usable], LOW_ACTIVITY_QUANTILE))


def _logaddexp(x: float, y: float) -> float:
    """np.logaddexp for two finite floats."""
    if x == y:
        return x + math.log(2.0)
    if x > y:
        return x + math.log1p(math.exp(y - x))
    return y + math.log1p(math.exp(x - y))


def poisson_lower(rate: float, tail: float) -> float:
    """Largest count k with P(X ≤ k) < tail for X ~ Poisson(rate); -1 if none."""
    if rate <= 0:
        return -1.0
    # Work in logs: exp(-rate) underflows for the rates of a busy four hours.
    log_term = -rate
    log_cdf = log_term
    k = 0
    while log_cdf < math.log(tail) and k < 100_000:
        k += 1
        log_term += math.log(rate / k)
        log_cdf = _logaddexp(log_cdf, log_term)
    return float(k - 1)


def poisson_upper(rate: float, tail: float) -> float:
    """Smallest count k with P(X > k) < tail for X ~ Poisson(rate)."""
    if rate <= 0:
        return 0.0
    term = math.exp(-rate)
    cumulative = term
    k = 0
    while 1.0 - cumulative >= tail and k < 10_000:
        k += 1
        term *= rate / k
        cumulative += term
    return float(k)
