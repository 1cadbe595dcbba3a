"""How long each kind of stored data is kept (issue 13, point 7): the policy and the
moments before which data is due to go. Pure values; storage/retention.py deletes."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

# What a retention run expires, in the order it goes: what is referenced last goes last.
KINDS = ("readings", "dead_letters", "findings", "alerts", "audit")

# What each kind covers, for `eldercare retention show` and the README.
COVERS = {
    "readings": "raw device readings",
    "dead_letters": "refused messages and their hourly counts",
    "findings": "what the detectors found (taken by the alert stage)",
    "alerts": "resolved alerts, their history and their messages (and digests)",
    "audit": "the audit log of reads (the retention run records itself)",
}

# The defaults, and why. Raw readings: a year of seasons for the baselines, plus a month
# to compare the same month last year. Dead letters only serve to diagnose a device, which
# is done within days. Findings, alerts with what was sent about them, and the audit log:
# the record of the care given and of who looked; 3 years is the general limitation period
# for civil claims (PRC Civil Code art. 188), the longest anyone may ask about them.
DEFAULT_DAYS = {
    "readings": 396,
    "dead_letters": 30,
    "findings": 1095,
    "alerts": 1095,
    "audit": 1095,
}
# Audit entries may not be kept shorter than this, whatever the settings say: the log is
# how the operator shows who read what, and a short period would defeat it.
MIN_AUDIT_DAYS = 365


class RetentionError(ValueError):
    """A policy that cannot be used (a period out of range)."""


@dataclass(frozen=True, slots=True)
class RetentionPolicy:
    """Days each kind of data is kept."""

    readings_days: int = DEFAULT_DAYS["readings"]
    dead_letters_days: int = DEFAULT_DAYS["dead_letters"]
    findings_days: int = DEFAULT_DAYS["findings"]
    alerts_days: int = DEFAULT_DAYS["alerts"]
    audit_days: int = DEFAULT_DAYS["audit"]

    def __post_init__(self) -> None:
        for kind in KINDS:
            if self.days(kind) < 1:
                raise RetentionError(f"{kind}: keep at least 1 day")
        if self.audit_days < MIN_AUDIT_DAYS:
            raise RetentionError(f"audit: keep at least {MIN_AUDIT_DAYS} days")

    def days(self, kind: str) -> int:
        """Days `kind` (one of KINDS) is kept."""
        if kind not in KINDS:
            raise RetentionError(f"no such kind of data: {kind}")
        days: int = getattr(self, f"{kind}_days")
        return days

    def cutoff(self, kind: str, now: datetime) -> datetime:
        """Data of `kind` from before this moment is due to go."""
        if now.tzinfo is None:
            raise RetentionError("now must be timezone-aware")
        return now - timedelta(days=self.days(kind))

    def cutoffs(self, now: datetime) -> dict[str, datetime]:
        """Every kind's cutoff as of `now`."""
        return {kind: self.cutoff(kind, now) for kind in KINDS}
