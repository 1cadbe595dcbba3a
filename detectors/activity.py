"""Signs of life on the hot path: presence, the care-day record, night wandering.

A sign of life is a motion event or the start of a water draw. Each one closes the
silence before it (accounted into the day record, which is what the baseline learns
from), moves the presence model, and may reveal unusual night activity at once.
"""

from __future__ import annotations

import math

from core.kinds import Category, Severity
from detectors.daybook import MORNING_WINDOWS_S, mark_away
from detectors.findings import Finding, finding_at
from detectors.localtime import SECONDS_PER_DAY, SLOT_S
from detectors.rooms import RoomKind
from detectors.state import NEVER, WATER_ROOM, HomeState

ENTRANCE = int(RoomKind.ENTRANCE)
BATHROOM = int(RoomKind.BATHROOM)
BEDROOM = int(RoomKind.BEDROOM)
# Entrance motions closer than this are one passage through the door (PIR re-arm time).
PASSAGE_S = 120.0
# Silence after entrance motion before we presume the person went out. Shorter makes
# a quick errand count as "out" sooner; longer treats a person who lingers in the hall
# as home (so a fall there is still found) at the price of inactivity checks on outings.
LEAVE_CONFIRM_S = 10 * 60.0
# Morning wake-up: the first activity after 04:00 local that keeps going for
# WAKE_SPAN_S without a pause of WAKE_GAP_S. A night toilet visit is shorter than that.
WAKE_EARLIEST_S = 4 * 3600.0
WAKE_GAP_S = 30 * 60.0
WAKE_SPAN_S = 20 * 60.0
WAKE_MIN_EVENTS = 3
NOON_S = 12 * 3600.0
MORNING_LAST_S = max(MORNING_WINDOWS_S)
INF = math.inf
# Going to bed: the first silence at least this long that starts in the evening window
# (seconds after the care day's noon: 19:00 to 04:00 local).
BED_SILENCE_S = 60 * 60.0
BED_EARLIEST_S = 7 * 3600.0
BED_LATEST_S = 16 * 3600.0


def night_window(home: HomeState) -> tuple[float, float]:
    """Local seconds of day (after midnight) when this person's night starts and ends."""
    if home.baseline is not None:
        return home.baseline.night_start_s, home.baseline.night_end_s
    a = home.settings.activity
    return a.cold_night_start_s, a.cold_night_end_s


def presumed_out(home: HomeState, now: float) -> bool:
    """True when the last sign of life was a departure through the entrance."""
    return (
        home.has_entrance_presence
        and home.leave_at > NEVER
        and home.leave_at == home.last_act
        and now - home.leave_at >= LEAVE_CONFIRM_S
    )


def blind_overlap(windows: list[list[float]], start: float, end: float) -> float:
    """Seconds of [start, end) that fall inside windows we could not see into."""
    total = 0.0
    for w_start, w_end in windows:
        if w_end > start and w_start < end:
            total += min(w_end, end) - max(w_start, start)
    return total


def account_silence(home: HomeState, upto: float, blind: list[list[float]]) -> None:
    """Record the current silence up to `upto` as per-slot longest-silence in the day."""
    start = home.gap_acc
    if upto <= start:
        return
    home.gap_acc = upto
    p = home.last_act
    day = home.day
    if p <= NEVER or day is None:
        return
    # Silences we could not see (outages, declared absences) teach nothing about the person.
    if home.declared_until > start and home.declared_from < upto:
        return
    if (blind or home.blind) and (
        blind_overlap(blind, start, upto) or blind_overlap(home.blind, start, upto)
    ):
        return
    gap_max = day.gap_max
    offset = home.clock.offset_s(start)
    t = start
    while t < upto:
        sod = (t + offset) % SECONDS_PER_DAY
        seg_end = min(upto, t + SLOT_S - sod % SLOT_S)
        slot = int(sod // SLOT_S)
        elapsed = seg_end - p
        if elapsed > gap_max[slot]:
            gap_max[slot] = elapsed
        t = seg_end


def note_activity(
    home: HomeState,
    ts: float,
    room: int,
    room_bit: int,
    blind: list[list[float]],
    out: list[Finding],
    arrived: float = 0.0,
) -> float:
    """Take one sign of life (arrived at `arrived`: later than `ts` for late data);
    returns when the home's timers must look next (INF: no earlier than planned)."""
    day = home.day
    assert day is not None  # the engine opens a day record before any event
    previous = home.last_act
    if home.inact_notified_at > ts > home.inact_reported_for >= 0:
        # Late data: the person showed a sign of life inside a silence already reported.
        withdraw_inactivity(home, ts, max(arrived, ts), out)
    if ts <= previous:  # another device's older reading: count it, do not move time back
        day.events += 1
        return INF
    if room == WATER_ROOM and home.leave_at == previous > NEVER and home.has_entrance_presence:
        # Water after a departure is a washing machine or a leak, not the person back:
        # they come in through the entrance, where a sensor sees them.
        return INF
    went_out = home.leave_at == previous and previous > NEVER and ts - previous >= LEAVE_CONFIRM_S
    went_out = went_out and home.has_entrance_presence
    if went_out:
        day.away_s += ts - max(previous, day.start)
        mark_away(day, home.clock.offset_s(ts), previous, ts)
        home.gap_acc = ts
    else:
        account_silence(home, ts, blind)
        if day.bed < 0 and ts - previous >= BED_SILENCE_S:
            since_noon = previous - day.start
            if BED_EARLIEST_S <= since_noon < BED_LATEST_S:
                day.bed = since_noon
        if home.last_act_room == BATHROOM:
            silence = ts - previous
            if silence > day.bath_silence_max:
                day.bath_silence_max = silence
    if room == ENTRANCE and home.has_entrance_presence:
        same_passage = ts - home.last_entrance < PASSAGE_S
        if not went_out and (not same_passage or home.leave_at == previous):
            home.leave_at = ts  # maybe leaving; confirmed by the silence that follows
        home.last_entrance = ts
    # Timers to bring forward: a return home or a new episode after a reported one (look
    # now), a bathroom visit (look when its shorter limit runs out).
    if went_out or home.inact_reported_for >= previous:
        wake_at = ts
    elif room == BATHROOM:
        b = home.baseline
        wake_at = ts + (b.bathroom_silence_s if b else home.settings.activity.bathroom_silence_s)
    else:
        wake_at = INF
    home.last_act = ts
    home.gap_acc = ts
    if room != WATER_ROOM:
        # Water says someone is home, not where: the last room seen stays the last room.
        home.last_act_room = room
        home.last_motion = ts
    sod = home.clock.second_of_day(ts)
    day.events += 1
    day.hourly[int(sod // 3600)] += 1
    if day.first_act < 0 and WAKE_EARLIEST_S <= sod < NOON_S:
        day.first_act = ts - day.start
    if day.wake >= 0:
        since_wake = ts - day.start - day.wake
        if since_wake < MORNING_LAST_S:
            morning = day.morning
            for i, span in enumerate(MORNING_WINDOWS_S):
                if since_wake < span:
                    morning[i] += 1
    elif WAKE_EARLIEST_S <= sod < NOON_S:
        since_noon = ts - day.start
        if day.wake_cand < 0 or ts - previous > WAKE_GAP_S:
            day.wake_cand = since_noon
            day.wake_cand_n = 1
        else:
            day.wake_cand_n += 1
            if day.wake_cand_n >= WAKE_MIN_EVENTS and since_noon - day.wake_cand >= WAKE_SPAN_S:
                day.wake = day.wake_cand
                # The chain that showed they are up is the start of the morning's count.
                day.morning = [day.wake_cand_n] * len(MORNING_WINDOWS_S)
                if home.baseline is not None:
                    # The slow-morning rule looks when its first window closes.
                    wake_at = min(wake_at, day.start + day.wake + MORNING_WINDOWS_S[0])
    night_start, night_end = night_window(home)
    if room != WATER_ROOM and night_start <= sod < night_end:
        day.night_events += 1
        day.night_rooms |= room_bit
        if room != BATHROOM and room != BEDROOM:
            day.night_other += 1
        _check_wandering(home, ts, out)
    return wake_at


def _check_wandering(home: HomeState, ts: float, out: list[Finding]) -> None:
    """Night motion outside the bedroom and bathroom, beyond this person's own nights."""
    day = home.day
    assert day is not None
    if home.wander_reported_day == day.day:
        return
    b = home.baseline
    a = home.settings.activity
    other_limit = b.night_other_max if b is not None else float(a.cold_night_other_events)
    if day.night_other <= other_limit:
        return
    rooms = bin(day.night_rooms).count("1")
    home.wander_reported_day = day.day
    day.flagged = True
    usual = "" if b is None else f"; usually at most {int(other_limit)} outside bed- and bathroom"
    out.append(
        finding_at(
            home.home_id,
            Category.WANDERING,
            "night_wandering",
            Severity.MEDIUM,
            ts,
            f"up and about at night: {day.night_events} movements in {rooms} rooms since "
            f"midnight, {day.night_other} of them outside the bedroom and bathroom{usual}",
            params={"movements": day.night_events, "rooms": rooms, "outside": day.night_other}
            | ({} if b is None else {"usual_max": int(other_limit)}),
        )
    )


def withdraw_inactivity(home: HomeState, ts: float, at: float, out: list[Finding]) -> None:
    """Withdraw the inactivity finding of the current episode: data that arrived late
    shows a sign of life at `ts`, inside the silence it reported."""
    kind = home.inact_kind or "motion_inactivity"
    out.append(
        finding_at(
            home.home_id,
            Category.INACTIVITY,
            kind,
            Severity.INFO,
            at,
            f"withdrawn: data that arrived late shows activity at "
            f"{home.clock.clock_text(ts)}, inside the silence reported at "
            f"{home.clock.clock_text(home.inact_notified_at)}",
            clears=True,
            withdrawn=True,
            params={
                "variant": "withdrawn",
                "seen_at": round(ts),
                "reported_at": round(home.inact_notified_at),
            },
        )
    )
    home.inact_reported_for = -1.0
    home.inact_notified_at = NEVER
    home.inact_kind = ""
    home.water_inact_reported_for = -1.0
    if home.day is not None:
        home.day.flagged = False
