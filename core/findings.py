"""Findings: what a detector noticed. Shared vocabulary of detectors, storage and alerts."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from core.kinds import Category, Severity


@dataclass(frozen=True, slots=True)
class Finding:
    """One thing a detector noticed about one home, at one event time.

    `kind` is the detector's finer reason (e.g. `motion_inactivity`); `clears` marks a
    finding that says an earlier condition of the same kind has ended (smoke cleared,
    device back online, pipeline flowing again).
    """

    home_id: str
    category: Category
    kind: str
    severity: Severity
    at: datetime
    explanation: str
    clears: bool = False

    def __post_init__(self) -> None:
        if self.at.tzinfo is None:
            raise ValueError("Finding.at must be timezone-aware")
        if not self.kind or not self.explanation:
            raise ValueError("Finding needs a kind and an explanation")

    @property
    def alerting(self) -> bool:
        """True when this finding asks for attention (not a clear, not merely informative)."""
        return not self.clears and self.severity is not Severity.INFO
