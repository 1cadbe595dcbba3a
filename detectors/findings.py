"""What detectors say: a Finding (defined in core), and its JSON Lines form (DESIGN.md)."""

from __future__ import annotations

__all__ = ["Finding", "finding_at", "finding_from_json", "finding_to_json", "format_at"]

from datetime import UTC, datetime
from typing import Any

from core.findings import Finding
from core.kinds import Category, Severity


def format_at(at: datetime) -> str:
    """RFC 3339 in UTC with millisecond precision, as findings files carry it."""
    return at.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def finding_to_json(finding: Finding) -> dict[str, Any]:
    """The DESIGN.md findings-file object; `clears` appears only when true."""
    obj: dict[str, Any] = {
        "home_id": finding.home_id,
        "category": finding.category.value,
        "kind": finding.kind,
        "severity": finding.severity.value,
        "at": format_at(finding.at),
        "explanation": finding.explanation,
    }
    if finding.clears:
        obj["clears"] = True
    if finding.withdrawn:
        obj["withdrawn"] = True
    if finding.params:
        obj["params"] = dict(finding.params)
    return obj


def finding_from_json(obj: dict[str, Any]) -> Finding:
    """Parse one findings-file object; raises ValueError (or KeyError) when malformed."""
    at = datetime.fromisoformat(str(obj["at"]))
    if at.tzinfo is None:
        raise ValueError("finding 'at' lacks a UTC offset")
    return Finding(
        home_id=str(obj["home_id"]),
        category=Category(obj["category"]),
        kind=str(obj["kind"]),
        severity=Severity(obj["severity"]),
        at=at.astimezone(UTC),
        explanation=str(obj["explanation"]),
        clears=bool(obj.get("clears", False)),
        withdrawn=bool(obj.get("withdrawn", False)),
        params=dict(obj.get("params") or {}),
    )


def finding_at(
    home_id: str,
    category: Category,
    kind: str,
    severity: Severity,
    ts: float,
    explanation: str,
    clears: bool = False,
    withdrawn: bool = False,
    params: dict[str, Any] | None = None,
) -> Finding:
    """A Finding raised at UTC epoch seconds `ts` (the detectors' internal time), with
    the params its kind's texts are rendered from."""
    return Finding(
        home_id=home_id,
        category=category,
        kind=kind,
        severity=severity,
        at=datetime.fromtimestamp(ts, UTC),
        explanation=explanation,
        clears=clears,
        withdrawn=withdrawn,
        params=params or {},
    )
