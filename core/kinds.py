"""Finding categories and alert severities (DESIGN.md: files that travel, alerts)."""

from __future__ import annotations

import enum


class Category(enum.StrEnum):
    """What kind of situation a finding or alert is about."""

    INACTIVITY = "inactivity"  # no sign of life: a fall, illness, no water, no motion
    LEAK = "leak"  # water running: tap left on, leak
    SMOKE = "smoke"
    WANDERING = "wandering"  # unusual night activity
    ROUTINE = "routine"  # a day unlike the person's own
    DEVICE = "device"  # offline, battery, tamper
    SYSTEM = "system"  # our own pipeline


class Severity(enum.StrEnum):
    """How urgent an alert is, most urgent first."""

    CRITICAL = "critical"
    HIGH = "high"
    MEDIUM = "medium"
    LOW = "low"
    INFO = "info"

    @property
    def rank(self) -> int:
        """0 for critical, growing as urgency falls; for sorting."""
        return list(Severity).index(self)
