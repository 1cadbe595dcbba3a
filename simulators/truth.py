"""Ground truth and absences as written to files (DESIGN.md: files that travel)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from core.kinds import Category
from ingest.wire import format_ts
from simulators.incidents import Fall, Incident, IncidentKind, StayAway
from simulators.localtime import MS_PER_MINUTE, from_epoch_ms


@dataclass(frozen=True, slots=True)
class TruthRecord:
    """One incident a detector should find: a line of the ground-truth file."""

    home_id: str
    category: Category
    kind: IncidentKind
    start_ms: int
    end_ms: int

    def to_json(self) -> dict[str, Any]:
        """The truth-file object; `kind` is an extra, finer key beside DESIGN.md's four."""
        return {
            "home_id": self.home_id,
            "category": self.category.value,
            "start": format_ts(from_epoch_ms(self.start_ms)),
            "end": format_ts(from_epoch_ms(self.end_ms)),
            "kind": self.kind.value,
        }


@dataclass(frozen=True, slots=True)
class Absence:
    """The resident out of the home for days: staying with family or in hospital."""

    home_id: str
    start_ms: int
    end_ms: int
    declared: bool  # the service was told (so inactivity is expected)
    reason: str  # "stay_with_family", "holiday" or "hospital"

    def to_json(self) -> dict[str, Any]:
        """The absences-file object."""
        return {
            "home_id": self.home_id,
            "start": format_ts(from_epoch_ms(self.start_ms)),
            "end": format_ts(from_epoch_ms(self.end_ms)),
            "declared": self.declared,
            "reason": self.reason,
        }


def truth_records(home_id: str, incidents: tuple[Incident, ...]) -> list[TruthRecord]:
    """The ground truth of one home's incidents (declared stays are not incidents)."""
    records = []
    for inc in incidents:
        category = inc.category
        if category is not None:
            records.append(TruthRecord(home_id, category, inc.kind, inc.start_ms, inc.end_ms))
    return records


def absences(home_id: str, incidents: tuple[Incident, ...]) -> list[Absence]:
    """Multi-day absences: stays with family (declared or not) and hospital stays."""
    out = []
    for inc in incidents:
        if isinstance(inc, StayAway):
            declared = inc.kind is IncidentKind.STAY_AWAY_DECLARED
            reason = "holiday" if inc.kind is IncidentKind.HOLIDAY else "stay_with_family"
            out.append(Absence(home_id, inc.start_ms, inc.end_ms, declared, reason))
        elif isinstance(inc, Fall) and inc.hospital_until_ms:
            # Taken to hospital by whoever found them: the service knows (declared).
            leave = inc.end_ms + inc.help_ms + 2 * MS_PER_MINUTE
            out.append(Absence(home_id, leave, inc.hospital_until_ms, True, "hospital"))
    return out
