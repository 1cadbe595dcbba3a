"""Smoke alarms: critical at once, cleared when the alarm says so, self-tests only noted."""

from __future__ import annotations

from core.kinds import Category, Severity
from detectors.findings import Finding, finding_at
from detectors.localtime import duration_text
from detectors.state import NEVER, DeviceState, HomeState


def on_smoke(
    home: HomeState,
    dev: DeviceState,
    ts: float,
    alarm: bool | None,
    test: bool | None,
    room: str,
    out: list[Finding],
) -> None:
    """Take one smoke-alarm telemetry message."""
    where = f" in the {room}" if room else ""
    if test:
        # A self-test proves the alarm works; it is kept as an informative record only.
        out.append(
            finding_at(
                home.home_id,
                Category.DEVICE,
                "smoke_test",
                Severity.INFO,
                ts,
                f"smoke alarm{where} self-test received",
                params={"room": room},
            )
        )
        return
    if alarm and not dev.alarm_on:
        dev.alarm_on = True
        dev.alarm_since = ts
        out.append(
            finding_at(
                home.home_id,
                Category.SMOKE,
                "smoke_alarm",
                Severity.CRITICAL,
                ts,
                f"smoke alarm sounding{where}",
                params={"room": room},
            )
        )
    elif alarm is False and dev.alarm_on:
        dev.alarm_on = False
        lasted = f" after {duration_text(ts - dev.alarm_since)}" if dev.alarm_since > NEVER else ""
        params: dict[str, object] = {"room": room}
        if dev.alarm_since > NEVER:
            params["lasted_s"] = round(ts - dev.alarm_since)
        dev.alarm_since = NEVER
        out.append(
            finding_at(
                home.home_id,
                Category.SMOKE,
                "smoke_alarm",
                Severity.INFO,
                ts,
                f"smoke alarm{where} cleared{lasted}",
                clears=True,
                params=params,
            )
        )
