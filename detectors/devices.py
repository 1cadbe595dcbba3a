"""Device health: offline devices, low batteries, and a whole home going silent.

A device is offline after several of its own reporting intervals without a message
(learned from the gaps it usually leaves, with defaults for mains and battery
devices). When every device of a home goes quiet at once, that is one finding about
the home (power or network down there), not one per device.
"""

from __future__ import annotations

import math

from core.kinds import Category, Severity
from core.readings import DeviceType
from detectors.activity import blind_overlap
from detectors.findings import Finding, finding_at
from detectors.localtime import duration_text
from detectors.state import NEVER, DeviceState, HomeState

INF = math.inf
# A device that reports at least this often (a meter every 15 minutes or hourly, a
# motion sensor's hourly heartbeat) proves, by reporting, that the home can be seen
# into; only devices like that can make a home's data late.
HEARTBEAT_MAX_S = 3 * 3600.0
# A home's silences are judged up to its newest report plus at most this much (or the
# reporting device's own interval, if shorter): after that, its data is late.
SEEN_GRACE_S = 15 * 60.0
# Gaps up to this long are learned as a device's interval even when they were reported
# (a habit of its network, not an outage); longer ones only when nobody noticed them.
LEARN_OUTAGE_MAX_S = 8 * 3600.0
# A device that delivers this many readings at once uploads in batches; its interval
# (up to BATCH_INTERVAL_MAX_S) is learned from its uploads even when one was reported.
BATCH_READINGS = 3
BATCH_INTERVAL_MAX_S = 2 * 86400.0
# How fast a device's typical gap between arrivals follows it (an exponential average).
TYPICAL_WEIGHT = 0.1
# A seq jump larger than this is a device that renumbered (not messages lost).
MAX_SEQ_JUMP = 100_000
# A device's own reporting interval is trusted after this much of its history.
LEARN_INTERVAL_AFTER_S = 24 * 3600.0
# ...and never taken below this (a burst of motion is not a reporting interval).
MIN_INTERVAL_S = 5 * 60.0


def interval_s(home: HomeState, dev: DeviceState) -> float:
    """The device's reporting interval: the longest gap between its arrivals in the last
    weeks once a day of its messages is known, before that a default. Event-driven sensors
    (motion, smoke) and devices that report a battery get the battery default."""
    if dev.last_seen - dev.first_seen >= LEARN_INTERVAL_AFTER_S:
        return max(dev.gap_cur, dev.gap_prev, MIN_INTERVAL_S)
    if dev.gap_typ > 0 and not dev.batched and dev.type is DeviceType.WATER_METER:
        return max(dev.gap_cur, 2 * dev.gap_typ)  # a meter's first gaps already say a lot
    s = home.settings.device
    battery = dev.has_battery or dev.batched or dev.type is not DeviceType.WATER_METER
    return max(s.battery_interval_s if battery else s.mains_interval_s, dev.gap_cur)


def on_battery(
    home: HomeState, dev: DeviceState, ts: float, pct: float, out: list[Finding]
) -> None:
    """Take a battery level; report once per low-battery episode."""
    s = home.settings.device
    dev.has_battery = True
    if pct < s.battery_low_pct and not dev.battery_low_reported:
        dev.battery_low_reported = True
        out.append(
            finding_at(
                home.home_id,
                Category.DEVICE,
                "battery_low",
                Severity.LOW,
                ts,
                f"battery of {dev.type.value.replace('_', ' ')} {dev.device_id} at {pct:.0f}%",
                params={
                    "device_type": dev.type.value,
                    "device_id": dev.device_id,
                    "pct": round(pct),
                },
            )
        )
    elif pct >= s.battery_ok_pct:
        dev.battery_low_reported = False


def on_heard(
    home: HomeState,
    dev: DeviceState,
    ts: float,
    arrived: float,
    blind: list[list[float]],
    out: list[Finding],
) -> None:
    """Bookkeeping for any message from a device (before its content is handled). Its
    reporting interval is learned from when its messages arrive, so a meter that uploads
    a day's reads at once has a day's interval, not an hour's."""
    last = dev.last_arrival
    if arrived == last and not dev.batched:
        # Several of its readings at once: a device that uploads what it buffered (an
        # NB-IoT meter's day of hourly reads). Its interval is its upload interval.
        dev.same_arrival += 1
        dev.batched = dev.same_arrival >= BATCH_READINGS
    elif last > NEVER and arrived > last:
        dev.same_arrival = 0
        gap = arrived - last
        dev.gap_typ = (
            gap if dev.gap_typ <= 0 else dev.gap_typ + TYPICAL_WEIGHT * (gap - dev.gap_typ)
        )
        # Gaps that were outages (ours, the home's or the device's) are not its interval,
        # unless short enough to be its habit (a meter whose network uploads every few
        # hours at night would otherwise be reported every night and never learned).
        if (
            gap > dev.gap_cur
            and not blind_overlap(blind, last, arrived)
            and (
                gap <= LEARN_OUTAGE_MAX_S
                or (dev.batched and gap <= BATCH_INTERVAL_MAX_S)
                or not (
                    dev.offline_reported
                    or home.home_silent_reported
                    or blind_overlap(home.blind, last, arrived)
                )
            )
        ):
            dev.gap_cur = gap
    if arrived > last:
        dev.last_arrival = arrived
        if arrived > home.last_arrival:
            home.last_arrival = arrived
    if dev.first_seen == NEVER:
        dev.first_seen = ts
    if dev.offline_reported:
        dev.offline_reported = False
        out.append(
            finding_at(
                home.home_id,
                Category.DEVICE,
                "device_offline",
                Severity.INFO,
                ts,
                f"{dev.type.value.replace('_', ' ')} {dev.device_id} is back online",
                clears=True,
                params={"device_type": dev.type.value, "device_id": dev.device_id},
            )
        )
    dev.status_offline_since = NEVER
    if ts > dev.last_seen:
        dev.last_seen = ts


def on_status_offline(dev: DeviceState, ts: float) -> None:
    """The device's last will: it lost its connection (confirmed after a grace period)."""
    dev.status_offline_since = max(ts, dev.last_seen)


def check_devices(
    home: HomeState,
    now: float,
    blind: list[list[float]],
    out: list[Finding],
    silent: list[HomeState],
) -> float:
    """Offline devices and a silent home (appended to `silent`, for the engine to say,
    alone or with its street); returns the next due. Also refreshes the home's
    `silent_after_s` and `seen_until`, which the absence rules consult."""
    s = home.settings.device
    factor = s.offline_intervals
    grace = s.offline_status_grace_s
    tightest = due = INF
    seen = -INF
    regular = learned_any = False
    overdue: list[tuple[DeviceState, float]] = []
    for dev in home.devices:  # one pass, inlined: this runs for every due home
        gap = dev.gap_cur if dev.gap_cur > dev.gap_prev else dev.gap_prev
        last = dev.last_arrival
        learned = dev.last_seen - dev.first_seen >= LEARN_INTERVAL_AFTER_S
        if learned:
            learned_any = True
            interval = gap if gap > MIN_INTERVAL_S else MIN_INTERVAL_S
            typical = dev.gap_typ
            if 0 < typical <= HEARTBEAT_MAX_S:
                regular = True
                reach = last + (typical if typical < SEEN_GRACE_S else SEEN_GRACE_S)
                if reach > seen:
                    seen = reach
        else:
            interval = interval_s(home, dev)
        if interval < tightest:
            tightest = interval
        if dev.offline_reported:
            continue
        dev_due = INF
        if last > NEVER:
            dev_due = last + factor * interval
            if blind:
                dev_due += blind_overlap(blind, last, now)
        if dev.status_offline_since > NEVER and dev.status_offline_since + grace < dev_due:
            dev_due = dev.status_offline_since + grace
        if dev_due > now:
            if dev_due < due:
                due = dev_due
        else:
            overdue.append((dev, interval))
    home.silent_after_s = max(s.home_silent_s, factor * tightest)
    # A home none of whose devices reports within hours (a meter that uploads once a
    # day, alone) cannot be judged in time by the absence rules: they stay silent.
    home.seen_until = seen if regular else -INF if learned_any else INF
    if home.home_silent_reported or home.last_arrival == NEVER:
        return INF  # the first message back re-arms everything
    silent_due = home.last_arrival + home.silent_after_s
    if blind:
        silent_due += blind_overlap(blind, home.last_arrival, now)
    if silent_due <= now:
        silent.append(home)
        return INF
    due = min(due, silent_due)
    for dev, interval in overdue:
        since = max(dev.last_arrival, dev.status_offline_since)
        if home.last_arrival <= since + min(interval, grace):
            # Nothing else heard since this device should have spoken: maybe the whole
            # home is down, which the home-silent rule will say once, for all devices.
            due = min(due, now + grace)
            continue
        dev.offline_reported = True
        out.append(
            finding_at(
                home.home_id,
                Category.DEVICE,
                "device_offline",
                Severity.MEDIUM,
                now,
                f"{dev.type.value.replace('_', ' ')} {dev.device_id} silent since "
                f"{home.clock.clock_text(since)} ({duration_text(now - since)})",
                params={
                    "device_type": dev.type.value,
                    "device_id": dev.device_id,
                    "since_at": round(since),
                },
            )
        )
    return due


def home_silent_finding(home: HomeState, now: float) -> Finding:
    """One home silent on its own (its street's other homes are heard)."""
    return finding_at(
        home.home_id,
        Category.DEVICE,
        "home_silent",
        Severity.MEDIUM,
        now,
        f"no device of this home heard since {home.clock.clock_text(home.last_arrival)} "
        f"({duration_text(now - home.last_arrival)}): power or network down at the home?",
        params={"since_at": round(home.last_arrival)},
    )


def count_seq(home: HomeState, dev: DeviceState, ts: float, seq: int, out: list[Finding]) -> None:
    """Account a device's newest message by its number: numbers skipped are messages lost
    on the way (a device that restarted its numbering, after a reboot, lost none)."""
    last = dev.seq_last
    if last >= 0 and last < seq <= last + MAX_SEQ_JUMP:
        skipped = seq - last - 1
        if skipped:
            day = home.day.day if home.day is not None else -1
            if day != dev.missing_day:
                dev.missing_day = day
                dev.missing = 0
                dev.missing_reported = False
            dev.missing += skipped
            dev.missing_total += skipped
            limit = home.settings.device.missing_messages
            if dev.missing >= limit and not dev.missing_reported:
                dev.missing_reported = True
                out.append(
                    finding_at(
                        home.home_id,
                        Category.DEVICE,
                        "messages_missing",
                        Severity.LOW,
                        ts,
                        f"{dev.type.value.replace('_', ' ')} {dev.device_id}: {dev.missing} of "
                        "its numbered messages today never arrived (lost between the device "
                        "and us: its connection, the broker or ingest)",
                        params={
                            "device_type": dev.type.value,
                            "device_id": dev.device_id,
                            "count": dev.missing,
                        },
                    )
                )
    dev.seq_last = seq
    dev.seq_ts = ts


def late_fill(dev: DeviceState, seq: int) -> bool:
    """An older message of a device: True when it fills a gap in its numbering (late
    data to take in), False when it is a duplicate already seen."""
    if seq < dev.seq_last and dev.missing_total > 0:
        dev.missing_total -= 1
        if dev.missing > 0:
            dev.missing -= 1
        return True
    return False


def on_rejected(
    home: HomeState, dev: DeviceState, count: int, at: float, out: list[Finding]
) -> None:
    """Messages of a device that became dead letters: a device that keeps sending what
    cannot be read is broken (or hostile), which is a finding, once a care day."""
    day = home.day.day if home.day is not None else -1
    if day != dev.rejected_day:
        dev.rejected_day = day
        dev.rejected = 0
        dev.rejected_reported = False
    dev.rejected += count
    if dev.rejected >= home.settings.device.rejected_messages and not dev.rejected_reported:
        dev.rejected_reported = True
        out.append(
            finding_at(
                home.home_id,
                Category.DEVICE,
                "messages_rejected",
                Severity.MEDIUM,
                at,
                f"{dev.type.value.replace('_', ' ')} {dev.device_id}: {dev.rejected} of its "
                "messages today could not be read (kept as dead letters): faulty firmware "
                "or a device that is not ours?",
                params={
                    "device_type": dev.type.value,
                    "device_id": dev.device_id,
                    "count": dev.rejected,
                },
            )
        )


def home_back_findings(home: HomeState, ts: float) -> list[Finding]:
    """The clear that follows a home-silent finding when the home is heard again."""
    return [
        finding_at(
            home.home_id,
            Category.DEVICE,
            "home_silent",
            Severity.INFO,
            ts,
            f"home heard again after {duration_text(ts - home.last_arrival)} of silence",
            clears=True,
            params={"silent_s": round(ts - home.last_heard)},
        )
    ]
