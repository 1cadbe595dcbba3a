"""Scoring findings against ground truth: recall, detection delay, false findings.

A finding detects an incident when it is about the same home, has the incident's
category, and was raised between the incident's start and its end plus a grace
period. A finding is false when it falls inside no incident of its home (start to
end plus grace) that excuses it: an incident of the resident (a fall, a leak, smoke, …)
excuses a finding of any category, since someone calling then does no harm; a device
incident (a device offline, a home's network down, a silent meter) or our pipeline's
outage (home `*`) excuses only device and system findings, because "no sign of life"
raised while a device could not be heard is exactly the false alarm to count. Clears
and informative findings ask nothing of anyone and are not scored.
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import numpy as np

from core.kinds import Category
from detectors.findings import Finding

DAYS_PER_MONTH = 30.0
_EQUIPMENT = (Category.DEVICE, Category.SYSTEM)  # incidents of ours, not the resident's


class TruthError(ValueError):
    """A ground-truth line that cannot be used; the message names the line."""


@dataclass(frozen=True, slots=True)
class Incident:
    """One ground-truth incident."""

    home_id: str
    category: Category
    start: datetime
    end: datetime
    kind: str | None = None  # the truth file's optional finer kind (e.g. `fall`)


def _moment(value: object, field: str, line: int) -> datetime:
    if not isinstance(value, str):
        raise TruthError(f"line {line}: {field} must be an RFC 3339 string")
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        raise TruthError(f"line {line}: {field} {value!r} is not RFC 3339") from None
    if moment.tzinfo is None:
        raise TruthError(f"line {line}: {field} lacks a UTC offset")
    return moment.astimezone(UTC)


def load_truth(path: Path) -> list[Incident]:
    """Read a ground-truth JSON Lines file; TruthError names the first bad line."""
    incidents = []
    with path.open(encoding="utf-8") as handle:
        for number, text in enumerate(handle, start=1):
            if not text.strip():
                continue
            try:
                obj = json.loads(text)
            except ValueError:
                raise TruthError(f"line {number}: not JSON") from None
            if not isinstance(obj, dict) or not isinstance(obj.get("home_id"), str):
                raise TruthError(f"line {number}: expected an object with a home_id")
            try:
                category = Category(str(obj.get("category")))
            except ValueError:
                raise TruthError(
                    f"line {number}: unknown category {obj.get('category')!r}"
                ) from None
            start = _moment(obj.get("start"), "start", number)
            end = _moment(obj.get("end"), "end", number)
            if end < start:
                raise TruthError(f"line {number}: end is before start")
            kind = obj.get("kind")
            incidents.append(
                Incident(
                    obj["home_id"], category, start, end, kind if isinstance(kind, str) else None
                )
            )
    return incidents


def excuses(incident: Incident, finding: Finding) -> bool:
    """Whether an incident (its window already matched) makes the finding not false."""
    return incident.category not in _EQUIPMENT or finding.category in _EQUIPMENT


@dataclass(frozen=True, slots=True)
class CategoryScore:
    """How one category fared."""

    category: str
    incidents: int
    detected: int
    recall: float | None
    delay_p50_min: float | None
    delay_p90_min: float | None
    findings: int
    false_findings: int
    false_per_home_30d: float

    def to_json(self) -> dict[str, Any]:
        """JSON-ready form."""
        return asdict(self)


def _first_hits(
    findings: Iterable[Finding], incidents: Sequence[Incident], grace_s: float
) -> tuple[dict[int, float], dict[str, int], dict[str, int]]:
    """(earliest detection delay by incident index, alerting findings by category, false
    findings by category)."""
    first_hit, counts, false_findings = _judge(findings, incidents, grace_s)
    false: dict[str, int] = {}
    for finding in false_findings:
        false[finding.category.value] = false.get(finding.category.value, 0) + 1
    return first_hit, counts, false


def _judge(
    findings: Iterable[Finding], incidents: Sequence[Incident], grace_s: float
) -> tuple[dict[int, float], dict[str, int], list[Finding]]:
    """(earliest detection delay by incident index, alerting findings by category, the
    false findings)."""
    by_home: dict[str, list[tuple[int, Incident]]] = {}
    for index, incident in enumerate(incidents):
        by_home.setdefault(incident.home_id, []).append((index, incident))
    first_hit: dict[int, float] = {}
    counts: dict[str, int] = {}
    false: list[Finding] = []
    for finding in findings:
        if not finding.alerting:
            continue
        category = finding.category.value
        counts[category] = counts.get(category, 0) + 1
        covered = False
        for index, incident in by_home.get(finding.home_id, ()):
            after_start = (finding.at - incident.start).total_seconds()
            before_end = (incident.end - finding.at).total_seconds() + grace_s
            if after_start < 0 or before_end < 0:
                continue
            covered = covered or excuses(incident, finding)
            if incident.category is finding.category and after_start < first_hit.get(
                index, math.inf
            ):
                first_hit[index] = after_start
        if not covered:
            false.append(finding)
    return first_hit, counts, false


def false_findings(
    findings: Iterable[Finding], incidents: Sequence[Incident], grace_s: float
) -> list[Finding]:
    """The alerting findings that no incident excuses (see the module docstring)."""
    return _judge(findings, incidents, grace_s)[2]


def first_detections(
    findings: Iterable[Finding], incidents: Sequence[Incident], grace_s: float
) -> dict[int, float]:
    """Seconds from each detected incident's start (by index) to its first finding."""
    return _judge(findings, incidents, grace_s)[0]


def _percentile_min(delays: list[float], q: float) -> float | None:
    return float(np.percentile(delays, q)) / 60.0 if delays else None


def score(
    findings: Iterable[Finding],
    incidents: Sequence[Incident],
    homes: int,
    span_days: float,
    grace_s: float,
) -> list[CategoryScore]:
    """Per-category recall, delay and false-finding rate, categories in Category order."""
    first_hit, counts, false = _first_hits(findings, incidents, grace_s)
    home_months = max(homes, 1) * max(span_days, 1e-9) / DAYS_PER_MONTH
    scores = []
    for category in Category:
        mine = [i for i, inc in enumerate(incidents) if inc.category is category]
        delays = [first_hit[i] for i in mine if i in first_hit]
        if not mine and not counts.get(category.value):
            continue
        scores.append(
            CategoryScore(
                category=category.value,
                incidents=len(mine),
                detected=len(delays),
                recall=len(delays) / len(mine) if mine else None,
                delay_p50_min=_percentile_min(delays, 50),
                delay_p90_min=_percentile_min(delays, 90),
                findings=counts.get(category.value, 0),
                false_findings=false.get(category.value, 0),
                false_per_home_30d=false.get(category.value, 0) / home_months,
            )
        )
    return scores


@dataclass(frozen=True, slots=True)
class GroupScore:
    """Recall and delay for a group of incidents (a truth kind, a target subset)."""

    group: str
    incidents: int
    detected: int
    recall: float | None
    delay_p50_min: float | None
    delay_p90_min: float | None

    def to_json(self) -> dict[str, Any]:
        """JSON-ready form."""
        return asdict(self)


def score_groups(
    findings: Iterable[Finding],
    incidents: Sequence[Incident],
    groups: Mapping[str, Callable[[Incident], bool]],
    grace_s: float,
) -> list[GroupScore]:
    """Recall and delay per named group of incidents (a finding of the incident's
    category between its start and its end plus the grace detects it)."""
    first_hit, _, _ = _first_hits(findings, incidents, grace_s)
    out = []
    for name, member in groups.items():
        mine = [i for i, inc in enumerate(incidents) if member(inc)]
        delays = [first_hit[i] for i in mine if i in first_hit]
        out.append(
            GroupScore(
                group=name,
                incidents=len(mine),
                detected=len(delays),
                recall=len(delays) / len(mine) if mine else None,
                delay_p50_min=_percentile_min(delays, 50),
                delay_p90_min=_percentile_min(delays, 90),
            )
        )
    return out


def daytime_long(
    timezones: Mapping[str, str], min_hours: float = 4.0, day_start_h: int = 7, day_end_h: int = 21
) -> Callable[[Incident], bool]:
    """Membership test for inactivity incidents that start in the local daytime and last
    at least `min_hours` (the issue's headline target)."""
    zones = {home: ZoneInfo(name) for home, name in timezones.items()}

    def member(incident: Incident) -> bool:
        """A daytime inactivity incident long enough to count."""
        zone = zones.get(incident.home_id, UTC)
        local_hour = incident.start.astimezone(zone).hour
        long_enough = (incident.end - incident.start).total_seconds() >= min_hours * 3600
        return (
            incident.category is Category.INACTIVITY
            and long_enough
            and day_start_h <= local_hour < day_end_h
        )

    return member


def kind_groups(incidents: Sequence[Incident]) -> dict[str, Callable[[Incident], bool]]:
    """One group per truth kind present (category/kind), in first-seen order."""
    keys = dict.fromkeys(f"{i.category.value}/{i.kind}" for i in incidents if i.kind)
    return {key: _kind_member(key) for key in keys}


def _kind_member(key: str) -> Callable[[Incident], bool]:
    def member(incident: Incident) -> bool:
        """An incident of this category and kind."""
        return f"{incident.category.value}/{incident.kind}" == key

    return member


def format_groups(groups: Sequence[GroupScore]) -> str:
    """A plain-text table of group scores."""

    def num(value: float | None, spec: str) -> str:
        """A number, or a dash when there is none."""
        return "-" if value is None else format(value, spec)

    lines = [
        f"{'group':<44}{'incidents':>10}{'detected':>9}{'recall':>8}{'p50 min':>9}{'p90 min':>9}"
    ]
    for g in groups:
        lines.append(
            f"{g.group:<44}{g.incidents:>10}{g.detected:>9}{num(g.recall, '.3f'):>8}"
            f"{num(g.delay_p50_min, '.0f'):>9}{num(g.delay_p90_min, '.0f'):>9}"
        )
    return "\n".join(lines)


def format_scores(scores: Sequence[CategoryScore]) -> str:
    """A plain-text table of the scores."""

    def num(value: float | None, spec: str) -> str:
        """A number, or a dash when there is none."""
        return "-" if value is None else format(value, spec)

    lines = [
        f"{'category':<11}{'incidents':>10}{'detected':>9}{'recall':>8}"
        f"{'p50 min':>9}{'p90 min':>9}{'findings':>9}{'false':>7}{'false/home/30d':>16}"
    ]
    for s in scores:
        lines.append(
            f"{s.category:<11}{s.incidents:>10}{s.detected:>9}{num(s.recall, '.3f'):>8}"
            f"{num(s.delay_p50_min, '.0f'):>9}{num(s.delay_p90_min, '.0f'):>9}"
            f"{s.findings:>9}{s.false_findings:>7}{s.false_per_home_30d:>16.3f}"
        )
    return "\n".join(lines)
