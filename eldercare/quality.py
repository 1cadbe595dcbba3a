"""What a backtest says about detection quality, per group of homes (a profile, a PIR
count, real meters), in the terms of issue 10's targets:

- false findings per home per 30 days, by rule (`kind`) and by category;
- recall and detection delay (p50/p90) by category, daytime inactivity ≥ 4 h apart;
- leaks: the share found by the second meter report that shows the water running (the
  first report whose reads reach the incident's start makes it visible; the finding must
  come no later than the next report of that meter, plus a minute for the timer tick);
- smoke: the share found at the event (within a minute of the alarm);
- where the false findings (of the budget's categories) fall: during a visit, a holiday,
  a report gap or our outage (the simulator's `context.jsonl`), in a couple's home, or in
  none of these.

Findings about every home (`*`, our pipeline) are reported apart from any group.
"""

from __future__ import annotations

import csv
import io
import json
from collections import Counter
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from core.kinds import Category
from core.registry import RegistryRow
from detectors.findings import Finding
from detectors.scoring import (
    DAYS_PER_MONTH,
    CategoryScore,
    GroupScore,
    Incident,
    daytime_long,
    false_findings,
    first_detections,
    score,
    score_groups,
)

ALL_HOMES = "*"
TICK_TOLERANCE_S = 60.0  # a finding raised by the next minute's timer still counts
SMOKE_AT_EVENT_S = 60.0
TARGET_CATEGORIES = ("inactivity", "leak", "wandering", "routine")  # issue 10's budget
# (arrival, newest measurement) of each meter message, epoch seconds
Reports = dict[str, list[tuple[float, float]]]


@dataclass(frozen=True, slots=True)
class Share:
    """How many of `total` met a bar."""

    total: int
    met: int

    @property
    def rate(self) -> float | None:
        """met / total, None without any."""
        return self.met / self.total if self.total else None


@dataclass(frozen=True, slots=True)
class GroupReport:
    """Quality figures for one group of homes."""

    name: str
    homes: int
    span_days: float
    false_by_kind: dict[str, float]  # "category/kind" → per home per 30 days
    false_by_category: dict[str, float]
    categories: list[CategoryScore]
    daytime: GroupScore
    leak_second_report: Share
    smoke_at_event: Share
    false_context: dict[str, int] = field(default_factory=dict)

    @property
    def false_in_budget(self) -> float:
        """False findings per home per 30 days in the categories of the issue's budget."""
        return sum(self.false_by_category.get(c, 0.0) for c in TARGET_CATEGORIES)

    def to_json(self) -> dict[str, Any]:
        """JSON-ready form."""
        return {
            "name": self.name,
            "homes": self.homes,
            "span_days": round(self.span_days, 2),
            "false_in_budget_per_home_30d": round(self.false_in_budget, 3),
            "false_by_kind": {k: round(v, 3) for k, v in self.false_by_kind.items()},
            "false_by_category": {k: round(v, 3) for k, v in self.false_by_category.items()},
            "categories": [c.to_json() for c in self.categories],
            "daytime_inactivity_4h": self.daytime.to_json(),
            "leak_by_second_report": [self.leak_second_report.total, self.leak_second_report.met],
            "smoke_at_event": [self.smoke_at_event.total, self.smoke_at_event.met],
            "false_context": self.false_context,
        }


def registry_groups(registry_text: str) -> dict[str, set[str]]:
    """Groups of homes from a registry's extra columns: by `profile`, and by profile and
    PIR count when a profile's homes differ in it; {} when it has no `profile` column."""
    rows = list(csv.DictReader(io.StringIO(registry_text)))
    if not rows or "profile" not in rows[0]:
        return {}
    groups: dict[str, set[str]] = {}
    for row in rows:
        groups.setdefault(row["profile"], set()).add(row["home_id"])
    by_pirs: dict[str, set[str]] = {}
    for row in rows:
        if row.get("pirs"):
            by_pirs.setdefault(f"{row['profile']} · {row['pirs']} PIR", set()).add(row["home_id"])
    if len(by_pirs) > len(groups):
        groups.update(dict(sorted(by_pirs.items())))
    return groups


def couples(registry_text: str) -> set[str]:
    """The homes whose registry rows say two people live there."""
    rows = csv.DictReader(io.StringIO(registry_text))
    return {row["home_id"] for row in rows if row.get("household") == "couple"}


def load_context(path: Path) -> list[tuple[str, str, float, float]]:
    """(home, kind, start, end) of a simulator's context.jsonl."""
    out = []
    for line in path.read_text(encoding="utf-8").splitlines():
        if line.strip():
            obj = json.loads(line)
            start = datetime.fromisoformat(obj["start"]).timestamp()
            end = datetime.fromisoformat(obj["end"]).timestamp()
            out.append((str(obj["home_id"]), str(obj["kind"]), start, end))
    return out


def meter_reports(recording: Path, rows: Sequence[RegistryRow], homes: set[str]) -> Reports:
    """Each meter message of `homes`' meters: (its arrival = its ts, its newest read)."""
    meters = {
        f"/devices/{r.device_id}/telemetry".encode(): r.home_id
        for r in rows
        if r.home_id in homes and r.type.value == "water_meter"
    }
    out: Reports = {home: [] for home in homes}
    if not meters:
        return out
    with recording.open("rb") as handle:
        for raw in handle:
            at = raw.find(b"/devices/")
            end = raw.find(b'"', at)
            home = meters.get(raw[at:end]) if at > 0 else None
            if home is None:
                continue
            payload = json.loads(raw).get("payload", {})
            ts = datetime.fromisoformat(payload["ts"]).timestamp()
            reads = payload.get("readings")
            newest = (
                max(datetime.fromisoformat(e["ts"]).timestamp() for e in reads) if reads else ts
            )
            out[home].append((ts, newest))
    for reports in out.values():
        reports.sort()
    return out


def _second_report_deadline(reports: list[tuple[float, float]], start: float) -> float | None:
    shown = [arrival for arrival, newest in reports if newest >= start]
    return shown[1] if len(shown) > 1 else None


def group_report(
    name: str,
    findings: Sequence[Finding],
    incidents: Sequence[Incident],
    homes: set[str],
    span_days: float,
    grace_s: float,
    timezones: Mapping[str, str],
    reports: Reports | None = None,
    context: Sequence[tuple[str, str, float, float]] = (),
    couple_homes: set[str] | frozenset[str] = frozenset(),
) -> GroupReport:
    """Quality figures for the homes of one group (findings and truth of other homes,
    and of every home at once, are left out)."""
    mine_f = [f for f in findings if f.home_id in homes]
    mine_i = [i for i in incidents if i.home_id in homes]
    home_months = max(len(homes), 1) * max(span_days, 1e-9) / DAYS_PER_MONTH
    false = false_findings(mine_f, mine_i, grace_s)
    by_kind = Counter(f"{f.category.value}/{f.kind}" for f in false)
    by_category = Counter(f.category.value for f in false)
    daytime = daytime_long(timezones)
    [day_group] = score_groups(mine_f, mine_i, {"daytime inactivity >= 4 h": daytime}, grace_s)
    hits = first_detections(mine_f, mine_i, grace_s)
    return GroupReport(
        name=name,
        homes=len(homes),
        span_days=span_days,
        false_by_kind={k: v / home_months for k, v in sorted(by_kind.items())},
        false_by_category={k: v / home_months for k, v in sorted(by_category.items())},
        categories=score(mine_f, mine_i, len(homes), span_days, grace_s),
        daytime=day_group,
        leak_second_report=_leaks(mine_f, mine_i, reports or {}),
        smoke_at_event=_within(mine_i, hits, Category.SMOKE, lambda _: SMOKE_AT_EVENT_S),
        false_context=dict(_attribute(false, context, couple_homes, grace_s)),
    )


def _within(
    incidents: Sequence[Incident],
    hits: Mapping[int, float],
    category: Category,
    allowed_s: Callable[[Incident], float | None],
) -> Share:
    total = met = 0
    for index, incident in enumerate(incidents):
        if incident.category is not category:
            continue
        total += 1
        limit = allowed_s(incident)
        if limit is not None and index in hits and hits[index] <= limit:
            met += 1
    return Share(total, met)


def _leaks(findings: Sequence[Finding], incidents: Sequence[Incident], reports: Reports) -> Share:
    hits = first_detections(findings, incidents, 0.0)

    def allowed(incident: Incident) -> float | None:
        """Seconds from the start to the second report showing the water."""
        start = incident.start.timestamp()
        deadline = _second_report_deadline(reports.get(incident.home_id, []), start)
        return None if deadline is None else deadline - start + TICK_TOLERANCE_S

    return _within(incidents, hits, Category.LEAK, allowed)


def _attribute(
    false: Iterable[Finding],
    context: Sequence[tuple[str, str, float, float]],
    couple_homes: set[str] | frozenset[str],
    grace_s: float,
) -> Counter[str]:
    by_home: dict[str, list[tuple[str, float, float]]] = {}
    for home, kind, start, end in context:
        by_home.setdefault(home, []).append((kind, start, end))
    counts: Counter[str] = Counter()
    for finding in false:
        if finding.category.value not in TARGET_CATEGORIES:
            continue  # device findings during gaps are expected; the budget is the question
        at = finding.at.timestamp()
        where = next(
            (
                kind
                for home in (finding.home_id, ALL_HOMES)
                for kind, start, end in by_home.get(home, ())
                if start <= at <= end + grace_s
            ),
            None,
        )
        if where is None:
            where = "couple's home" if finding.home_id in couple_homes else "none of these"
        counts[where] += 1
    return counts


def pipeline_report(
    findings: Sequence[Finding], incidents: Sequence[Incident], span_days: float, grace_s: float
) -> dict[str, Any]:
    """Findings about every home at once (our pipeline): outages found, false ones."""
    mine_f = [f for f in findings if f.home_id == ALL_HOMES]
    mine_i = [i for i in incidents if i.home_id == ALL_HOMES]
    hits = first_detections(mine_f, mine_i, grace_s)
    false = false_findings(mine_f, mine_i, grace_s)
    months = max(span_days, 1e-9) / DAYS_PER_MONTH
    return {
        "outages": len(mine_i),
        "found": len(hits),
        "delay_p50_min": sorted(hits.values())[len(hits) // 2] / 60 if hits else None,
        "false_per_30d": len(false) / months,
        "findings": len(mine_f),
    }


def _num(value: float | None, spec: str = ".2f") -> str:
    return "–" if value is None else format(value, spec)


def _recall(score: CategoryScore | GroupScore | None) -> str:
    if score is None or not score.incidents:
        return "–"
    delays = f"{_num(score.delay_p50_min, '.0f')} / {_num(score.delay_p90_min, '.0f')}"
    return f"{score.incidents}: {_num(score.recall)}, {delays} min"


def _category(report: GroupReport, name: str) -> CategoryScore | None:
    return next((c for c in report.categories if c.category == name), None)


def markdown_tables(pairs: Sequence[tuple[GroupReport, GroupReport | None]]) -> str:
    """The README's tables: each group by the detectors, beside the 12 h street rule."""
    out = [
        "False findings per home per 30 days (categories of the issue's budget: inactivity, "
        "leak, wandering, routine; device apart):",
        "",
        "| homes | homes × days | inactivity | leak | wandering | routine | **budget total** "
        "| device | 12 h rule |",
        "| --- | --- | --- | --- | --- | --- | --- | --- | --- |",
    ]
    for report, street in pairs:
        f = report.false_by_category
        out.append(
            f"| {report.name} | {report.homes} × {report.span_days:.0f} "
            + "".join(f"| {f.get(c, 0.0):.2f} " for c in TARGET_CATEGORIES)
            + f"| **{report.false_in_budget:.2f}** | {f.get('device', 0.0):.2f} "
            f"| {_num(street.false_in_budget if street else None)} |"
        )
    out += [
        "",
        "Recall and delay (incidents: recall, p50 / p90 of the delay), leaks found by the "
        "second report that shows them, smoke at the event:",
        "",
        "| homes | daytime inactivity ≥ 4 h | 12 h rule, same | inactivity (all) | leak "
        "| leak by 2nd report | smoke | smoke at event | wandering | routine |",
        "| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |",
    ]
    for report, street in pairs:
        out.append(
            f"| {report.name} | {_recall(report.daytime)} "
            f"| {_recall(street.daytime if street else None)} "
            f"| {_recall(_category(report, 'inactivity'))} | {_recall(_category(report, 'leak'))} "
            f"| {_num(report.leak_second_report.rate)} | {_recall(_category(report, 'smoke'))} "
            f"| {_num(report.smoke_at_event.rate)} | {_recall(_category(report, 'wandering'))} "
            f"| {_recall(_category(report, 'routine'))} |"
        )
    out += ["", "False findings by rule (kind), per home per 30 days (≥ 0.05 shown):", ""]
    out += ["| homes | rules |", "| --- | --- |"]
    for report, street in pairs:
        ranked = sorted(report.false_by_kind.items(), key=lambda kv: -kv[1])
        kinds = [f"{k} {v:.2f}" for k, v in ranked if v >= 0.05]
        if street is not None:
            kinds += [f"(12 h rule: {k} {v:.2f})" for k, v in street.false_by_kind.items()]
        out.append(f"| {report.name} | {', '.join(kinds) or '–'} |")
    contexts = sorted({k for report, _ in pairs for k in report.false_context})
    if contexts:
        out += ["", "Where the false findings of the budget's categories fall (counts):", ""]
        out += ["| homes | " + " | ".join(contexts) + " |", "|" + " --- |" * (len(contexts) + 1)]
        for report, _ in pairs:
            cells = " | ".join(str(report.false_context.get(k, 0)) for k in contexts)
            out.append(f"| {report.name} | {cells} |")
    return "\n".join(out)
