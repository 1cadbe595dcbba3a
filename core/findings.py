"""Findings: what a detector noticed. Shared vocabulary of detectors, storage and alerts."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from core.kinds import Category, Severity


@dataclass(frozen=True, slots=True)
class Finding:
    """One thing a detector noticed about one home, at one event time.

    `kind` is the detector's finer reason (e.g. `motion_inactivity`); `clears` marks a
    finding that says an earlier condition of the same kind has ended (smoke cleared,
    device back online, pipeline flowing again); `withdrawn` (always with `clears`) says
    the earlier finding of this kind was wrong: data that arrived late contradicts it.

    `params` are the figures behind the explanation, one stable set of keys per kind
    (times as UTC epoch seconds in keys ending `_at`, durations in seconds in keys
    ending `_s`), so every reader gets the text in their own language (core/explain.py);
    `explanation` stays the English fallback for kinds or params a reader cannot render.
    """

    home_id: str
    category: Category
    kind: str
    severity: Severity
    at: datetime
    explanation: str
    clears: bool = False
    withdrawn: bool = False
    params: Mapping[str, Any] = field(default_factory=dict, hash=False)

    def __post_init__(self) -> None:
        if self.at.tzinfo is None:
            raise ValueError("Finding.at must be timezone-aware")
        if not self.kind or not self.explanation:
            raise ValueError("Finding needs a kind and an explanation")
        if self.withdrawn and not self.clears:
            raise ValueError("a withdrawal is a clearing finding (clears=True)")
        check_params(self.params)

    @property
    def alerting(self) -> bool:
        """True when this finding asks for attention (not a clear, not merely informative)."""
        return not self.clears and self.severity is not Severity.INFO


PARAM_TYPES = (str, int, float, bool, type(None))


def check_params(params: Mapping[str, Any]) -> None:
    """Refuse params that JSON cannot carry as they are: string keys, flat scalar values
    (or lists of strings, e.g. rooms)."""
    for key, value in params.items():
        if not isinstance(key, str) or not key:
            raise ValueError(f"finding param names must be non-empty strings: {key!r}")
        if isinstance(value, list | tuple):
            if not all(isinstance(v, str) for v in value):
                raise ValueError(f"finding param {key} must be a list of strings")
        elif not isinstance(value, PARAM_TYPES):
            raise ValueError(f"finding param {key} has a value JSON cannot carry: {value!r}")
