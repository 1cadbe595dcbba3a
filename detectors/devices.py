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
# A home has a "heartbeat" when some device reports at least this often (a water meter
# every 15 minutes); only then can a late heartbeat pause the absence rules.
HEARTBEAT_MAX_S = 60 * 60.0
# A device's own reporting interval is trusted after this much of its history.
LEARN_INTERVAL_AFTER_S = 24 * 3600.0
# ...and never taken below this (a burst of motion is not a reporting interval).
MIN_INTERVAL_S = 5 * 60.0


def interval_s(home: HomeState, dev: DeviceState) -> float:
    """The device's reporting interval: the longest gap it left in the last weeks once a
    day of its messages is known, before that a default. Event-driven sensors (motion,
    smoke) and devices that report a battery get the battery default."""
    if dev.last_seen - dev.first_seen >= LEARN_INTERVAL_AFTER_S:
        return max(dev.gap_cur, dev.gap_prev, MIN_INTERVAL_S)
    s = home.settings.device
    battery = dev.has_battery or dev.type is not DeviceType.WATER_METER
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
            )
        )
    elif pct >= s.battery_ok_pct:
        dev.battery_low_reported = False


def on_heard(
    home: HomeState, dev: DeviceState, ts: float, blind: list[list[float]], out: list[Finding]
) -> None:
    """Bookkeeping for any message from a device (before its content is handled)."""
    last = dev.last_seen
    if last > NEVER and ts > last:
        gap = ts - last
        # Gaps that were outages (ours or the device's) are not its reporting interval.
        if gap > dev.gap_cur and not dev.offline_reported and not blind_overlap(blind, last, ts):
            dev.gap_cur = gap
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
            )
        )
    dev.status_offline_since = NEVER
    if ts > last:
        dev.last_seen = ts


def on_status_offline(dev: DeviceState, ts: float) -> None:
    """The device's last will: it lost its connection (confirmed after a grace period)."""
    dev.status_offline_since = max(ts, dev.last_seen)


def check_devices(
    home: HomeState, now: float, blind: list[list[float]], out: list[Finding]
) -> float:
    """Offline devices and a silent home; returns the next due. Also refreshes the
    home's `heartbeat_s` and `silent_after_s`, which the absence rules consult."""
    s = home.settings.device
    factor = s.offline_intervals
    grace = s.offline_status_grace_s
    tightest = beat = due = INF
    overdue: list[tuple[DeviceState, float]] = []
    for dev in home.devices:  # one pass, inlined: this runs for every due home
        gap = dev.gap_cur if dev.gap_cur > dev.gap_prev else dev.gap_prev
        last = dev.last_seen
        if last - dev.first_seen >= LEARN_INTERVAL_AFTER_S:
            interval = gap if gap > MIN_INTERVAL_S else MIN_INTERVAL_S
        else:
            interval = interval_s(home, dev)
        if interval < tightest:
            tightest = interval
        if 0 < gap <= HEARTBEAT_MAX_S and gap < beat and dev.type is DeviceType.WATER_METER:
            beat = gap
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
    home.heartbeat_s = beat
    if home.home_silent_reported or home.last_heard == NEVER:
        return INF  # the first message back re-arms everything
    silent_due = home.last_heard + home.silent_after_s
    if blind:
        silent_due += blind_overlap(blind, home.last_heard, now)
    if silent_due <= now:
        home.home_silent_reported = True
        out.append(
            finding_at(
                home.home_id,
                Category.DEVICE,
                "home_silent",
                Severity.MEDIUM,
                now,
                f"no device of this home heard since {home.clock.clock_text(home.last_heard)} "
                f"({duration_text(now - home.last_heard)}): power or network down at the home?",
            )
        )
        return INF
    due = min(due, silent_due)
    for dev, interval in overdue:
        since = max(dev.last_seen, dev.status_offline_since)
        if home.last_heard <= since + min(interval, grace):
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
            )
        )
    return due


def home_back_findings(home: HomeState, ts: float) -> list[Finding]:
    """The clear that follows a home-silent finding when the home is heard again."""
    return [
        finding_at(
            home.home_id,
            Category.DEVICE,
            "home_silent",
            Severity.INFO,
            ts,
            f"home heard again after {duration_text(ts - home.last_heard)} of silence",
            clears=True,
        )
    ]
