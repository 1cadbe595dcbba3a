"""Per-home rule settings: frozen values with defaults, overridable home by home.

Every constant carries its unit in its name and a sentence on what moving it trades.
Override one field for one home with `dataclasses.replace`, e.g.
`replace(DEFAULT_HOME_SETTINGS, water=replace(WaterSettings(), inactivity_min_l=5.0))`.
"""

from __future__ import annotations

from dataclasses import dataclass, field

HOUR_S = 3600.0
MINUTE_S = 60.0


@dataclass(frozen=True, slots=True)
class WaterSettings:
    """Water-meter rules: too little use, leaks and taps left on, too much use."""

    # The street rule: less than this many litres in the window means "check on them".
    # Lower values miss fewer quiet days but alert on people who simply use little water.
    inactivity_min_l: float = 10.0
    inactivity_window_s: float = 12 * HOUR_S
    # Flow at or above this rate without a stop for `high_flow_s` is a burst or open tap.
    # Lower rates catch a running toilet sooner but also a long shower.
    high_flow_lpm: float = 6.0
    high_flow_s: float = 30 * MINUTE_S
    # Flow without any stop this long is a leak whatever the rate; the longest normal
    # continuous draw (a bath, a garden hose) must stay below it.
    continuous_flow_s: float = 45 * MINUTE_S
    # Some flow in every 15-minute slot for this many slots in a row is a trickle leak
    # (a dripping tap, a cistern that refills); fewer slots alert on busy mornings.
    trickle_slots: int = 12
    trickle_min_l_per_slot: float = 0.05
    # Night flow (01:00–05:00 local) above zero in every slot, this many nights running,
    # is a slow leak; one night can be a guest or a late bath.
    night_flow_nights: int = 3
    # Cold-start ceiling for a day's litres; the learned ceiling replaces it once fitted.
    # Higher values keep shower-heavy households quiet but find a broken pipe later.
    high_daily_l: float = 900.0


@dataclass(frozen=True, slots=True)
class ActivitySettings:
    """Absence-of-activity rules: inactivity, mornings, the bathroom, nights."""

    # Days of history before learned thresholds replace the cold-start defaults.
    # Fewer days adapt sooner but learn from too few mornings and naps.
    min_baseline_days: int = 10
    # Cold start: longest normal silence while home, by local time of day.
    cold_day_silence_s: float = 3 * HOUR_S
    cold_night_silence_s: float = 12 * HOUR_S
    cold_day_starts_s: float = 10 * HOUR_S  # local 10:00: everyone is up by then
    cold_day_ends_s: float = 21 * HOUR_S  # local 21:00: evenings may be quiet
    # Learned threshold = quantile of the day's longest silence in that slot, times
    # (1 + relative buffer), plus the absolute buffer. Higher quantiles and buffers mean
    # fewer false alarms and later detection. The relative buffer grows as sqrt(full /
    # days) while fewer than `learned_full_days` days are known: less data, more margin.
    learned_quantile: float = 0.95
    learned_relative_buffer: float = 0.25
    learned_full_days: int = 28
    learned_buffer_s: float = 30 * MINUTE_S
    learned_floor_s: float = 75 * MINUTE_S
    # Whatever was learned, a silence while home never goes unreported past these caps.
    awake_cap_s: float = 4 * HOUR_S
    night_cap_s: float = 13 * HOUR_S
    # Morning: no sign of life by the usual first-activity time plus this margin.
    morning_margin_s: float = 60 * MINUTE_S
    cold_morning_deadline_s: float = 10 * HOUR_S  # local 10:00 until a baseline exists
    # A silence must also be at least this long before the morning rule speaks, so an
    # early riser sitting quietly is not mistaken for someone who never got up.
    morning_min_silence_s: float = 2 * HOUR_S
    # Bathroom motion followed by nothing anywhere for this long. Shorter finds a fall in
    # the bathroom sooner; a bath or a night visit without a bedroom sensor needs room.
    bathroom_silence_s: float = 75 * MINUTE_S
    # After a declared away period ends, expect a sign of life within this long.
    away_return_grace_s: float = 3 * HOUR_S
    # Night wandering (cold start): more night motion than this outside the bedroom and
    # bathroom. Lower finds wandering sooner and flags a sleepless night spent in the
    # armchair as wandering.
    cold_night_other_events: int = 8
    # Unusually low activity (illness): over the last `low_activity_hours` local hours
    # at home, signs of life below this fraction of the person's own quiet windows
    # (relative to their usual rate), and never above `low_activity_max_ratio` of it.
    # Higher values, or a shorter window, find illness sooner and call a lazy afternoon
    # an illness (3 h rather than 4 h: illness found an hour sooner, false inactivity
    # findings 0.09 → 0.17 per home per 30 days on the simulator).
    low_activity_hours: int = 3
    low_activity_fraction: float = 0.6
    low_activity_max_ratio: float = 0.4
    # Slow morning (illness, found sooner): up, but in the first 45 (or 90) minutes
    # after getting up at most this fraction of the signs of life of the person's own
    # slowest mornings (their 5th percentile). Higher finds illness sooner and calls a
    # lazy morning an illness.
    slow_morning_fraction: float = 0.5
    # The night window (local) before a baseline knows the person's own evenings and
    # mornings; learned, it runs from after their late bedtimes to before their early
    # mornings.
    cold_night_start_s: float = 0.5 * HOUR_S
    cold_night_end_s: float = 4 * HOUR_S
    # A still-active condition is repeated at most this often (0: once per episode).
    renotify_s: float = 0.0


@dataclass(frozen=True, slots=True)
class RoutineSettings:
    """Daily-routine outlier scoring against the person's own days."""

    # Robust z-score a feature must exceed; higher means fewer, surer routine findings.
    z_threshold: float = 5.0
    # ...and the deviation must be this large in plain units, so a very regular person
    # is not flagged for waking 20 minutes late or an afternoon with the family.
    min_wake_shift_s: float = 2.5 * HOUR_S
    min_first_water_shift_s: float = 3 * HOUR_S
    high_litres_ratio: float = 2.5  # today ≥ this × usual
    low_litres_ratio: float = 0.3  # today ≤ this × usual
    min_events_ratio: float = 0.6
    min_time_out_s: float = 10 * HOUR_S
    # Out this long without a declared absence is worth a call (cold start), or this
    # many times the longest day out the person usually has. Shorter asks sooner and
    # bothers families about long day trips.
    cold_long_absence_s: float = 14 * HOUR_S
    long_absence_factor: float = 1.5


@dataclass(frozen=True, slots=True)
class DeviceSettings:
    """Device health: offline, battery, whole home silent."""

    # Cold-start reporting intervals (until a day of a device's messages teaches its
    # own): meters report every 15 minutes to hourly, battery devices sleep longer.
    mains_interval_s: float = 2 * HOUR_S
    battery_interval_s: float = 25 * HOUR_S
    # Offline after this many (learned or default) reporting intervals of silence.
    # More intervals mean fewer false "offline" findings and later ones.
    offline_intervals: float = 3.0
    # An explicit `online: false` (the MQTT last will) must persist this long; devices
    # drop and reconnect briefly all the time.
    offline_status_grace_s: float = 15 * MINUTE_S
    # Battery low below this; re-armed once it is back above `battery_ok_pct` (replaced).
    battery_low_pct: float = 20.0
    battery_ok_pct: float = 30.0
    # Every device of one home silent this long (while others report) is a home outage.
    home_silent_s: float = 60 * MINUTE_S
    # Messages a device numbered but that never arrived (gaps in its `seq`) within a
    # care day before it is a finding; a few are lost anywhere, a run of them is a fault.
    missing_messages: int = 20
    # Messages of a device that became dead letters within a care day before it is a
    # finding (a broken or hostile device).
    rejected_messages: int = 20


@dataclass(frozen=True, slots=True)
class HomeSettings:
    """All rule settings of one home."""

    water: WaterSettings = field(default_factory=WaterSettings)
    activity: ActivitySettings = field(default_factory=ActivitySettings)
    routine: RoutineSettings = field(default_factory=RoutineSettings)
    device: DeviceSettings = field(default_factory=DeviceSettings)


@dataclass(frozen=True, slots=True)
class EngineSettings:
    """Settings of the engine as a whole (not per home)."""

    # Pipeline health comes from ingest's heartbeats (never from quiet devices): one
    # overdue by this many of its learned intervals (and at least the minimum) means the
    # pipeline is not delivering. Fewer intervals pause the absence rules sooner and
    # risk a pause (and a system finding) for one slow round trip.
    heartbeat_interval_s: float = 30.0  # assumed until two heartbeats have been seen
    heartbeat_timeout_intervals: float = 3.0
    heartbeat_min_timeout_s: float = 90.0
    # Homes of one street (or one deployment, without streets) going silent within this
    # long of each other, at least `group_silent_homes` of them, are one event (a power
    # or network cut), said once for the group rather than home by home.
    group_silent_window_s: float = 20 * MINUTE_S
    group_silent_homes: int = 3
    # Days of day records kept per home for refitting (4–8 weeks).
    history_days: int = 42
    # Refit each home's baseline inline at its day close (backtests, small fleets); a
    # service sets this False and refits in a worker pool with `fit_baseline`.
    auto_refit: bool = True
    # Refit every this many days once a baseline exists (fitting daily adds nothing).
    refit_every_days: int = 1
    # Run only the fixed street rule (< V litres in W hours, no presence, no learning),
    # for side-by-side comparison in backtests.
    only_street_rule: bool = False


DEFAULT_HOME_SETTINGS = HomeSettings()
