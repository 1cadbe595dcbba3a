"""Typed readings: what a validated wire-contract message becomes inside the system."""

from __future__ import annotations

import enum
import math
import re
from dataclasses import dataclass
from datetime import datetime

DEVICE_ID_PATTERN = re.compile(r"[A-Za-z0-9_-]{1,64}")


class DeviceType(enum.StrEnum):
    """The kinds of device a home can have (registry `type`)."""

    WATER_METER = "water_meter"
    PIR = "pir"
    SMOKE = "smoke"


class Channel(enum.StrEnum):
    """The last topic level: what a message is about."""

    TELEMETRY = "telemetry"
    STATUS = "status"


def _check_finite_non_negative(name: str, value: float | None) -> None:
    if value is not None and (not math.isfinite(value) or value < 0):
        raise ValueError(f"{name} must be a finite non-negative number, got {value!r}")


@dataclass(frozen=True, slots=True)
class Reading:
    """One accepted message from one device, with typed fields.

    Fields that do not apply to the device type or channel are None.
    `ts` is the device's measurement time and `received_at` our arrival time,
    both timezone-aware UTC. A device's readings are ordered by (ts, seq).
    """

    device_id: str
    device_type: DeviceType
    channel: Channel
    ts: datetime
    seq: int
    received_at: datetime
    battery_pct: float | None = None
    volume_l: float | None = None
    flow_lpm: float | None = None
    motion: bool | None = None
    room: str | None = None
    alarm: bool | None = None
    test: bool | None = None
    online: bool | None = None
    rssi_dbm: float | None = None
    fw: str | None = None

    def __post_init__(self) -> None:
        if not DEVICE_ID_PATTERN.fullmatch(self.device_id):
            raise ValueError(f"bad device_id {self.device_id!r}")
        if self.ts.tzinfo is None or self.received_at.tzinfo is None:
            raise ValueError("ts and received_at must be timezone-aware")
        if self.seq < 0:
            raise ValueError("seq must be non-negative")
        _check_finite_non_negative("volume_l", self.volume_l)
        _check_finite_non_negative("flow_lpm", self.flow_lpm)
        if self.battery_pct is not None and not 0 <= self.battery_pct <= 100:
            raise ValueError("battery_pct must be within 0..100")

    @property
    def order_key(self) -> tuple[datetime, int]:
        """The order of a device's data: measurement time, then sequence number."""
        return (self.ts, self.seq)
