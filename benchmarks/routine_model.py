"""Does an outlier model over daily routine features earn scikit-learn its place?
(issue 10, 7). Run: `pip install '.[evaluation]'`, then `python -m benchmarks.routine_model`
(the project itself does not depend on scikit-learn: see the README, "The detectors").

Simulated homes (classic profile, illness at a raised rate) are replayed through the
detectors. Each closed care day (noon to noon) gives the features the detectors keep
(`detectors.daybook`: wake time, first water, litres, night motion, time out, signs of
life, signs of life in the first 45/90 min after getting up, bedtime), each turned into a
robust z-score against the same home's previous 28 days (median and MAD; days a finding
flagged left out; no look-ahead). Three pooled outlier models are trained on half the
homes' ordinary days (IsolationForest, LocalOutlierFactor as a novelty detector, robust
covariance) and judged on the other half, their threshold set so that they flag as many
of the test homes' ordinary days as the routine rule raises false findings there: the
same false budget (set with hindsight, which favours the models). A model speaks when a
care day closes (the next noon); an illness is found by it when a flagged care day
overlaps it.

Compared with what is there: the first finding of the detectors as they run (inactivity,
routine) inside the illness or within 2 h of its end.
"""

from __future__ import annotations

import argparse
import json
import math
import sys
import tempfile
import time
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np

from core.kinds import Category
from core.readings import Reading
from core.registry import parse_registry_csv
from detectors import daybook as d
from detectors.backtest import _Replay, run_backtest
from detectors.engine import Engine
from detectors.findings import Finding
from detectors.localtime import LocalClock
from detectors.recording import decode_recording
from detectors.scoring import Incident, false_findings, load_truth
from detectors.settings import EngineSettings
from simulators.incidents import IncidentRates
from simulators.record import simulate_homes, write_recording

FEATURES = (d.F_WAKE, d.F_FIRST_WATER, d.F_LITRES, d.F_NIGHT_EVENTS, d.F_AWAY_S, d.F_EVENTS,
            d.F_MORNING, d.F_MORNING + 1, d.F_BED)  # fmt: skip
FLOORS = (1800.0, 1800.0, 15.0, 2.0, 2700.0, 10.0, 3.0, 5.0, 1800.0)
WINDOW_DAYS = 28
MIN_DAYS = 10
GRACE_S = 7200.0


def _replay_summaries(rows: list[Any], recording: Path) -> dict[str, list[list[float]]]:
    """Every closed care day's summary per home (history kept whole)."""
    engine = Engine(rows, EngineSettings(history_days=100_000))
    replay = _Replay(engine, ())
    types = {row.device_id: row.type for row in rows}
    for decoded in decode_recording(recording, types.get):
        reading = decoded.result
        if isinstance(reading, Reading):
            replay.advance(reading.ts.timestamp())
            engine.feed_into(reading, replay.out)
    replay.finish()
    return {home: engine.history(home) for home in engine.home_ids}


def _zscores(days: list[list[float]]) -> list[tuple[int, np.ndarray, bool]]:
    """(care day, robust z-vector, flagged) for each day with enough history before it."""
    out = []
    for i, day in enumerate(days):
        past = [p for p in days[max(0, i - WINDOW_DAYS) : i] if p[d.F_FLAGGED] < 0.5]
        if len(past) < MIN_DAYS:
            continue
        vector = []
        for feature, floor in zip(FEATURES, FLOORS, strict=True):
            values = np.array([p[feature] for p in past if p[feature] >= 0])
            if day[feature] < 0 or len(values) < MIN_DAYS // 2:
                vector.append(0.0)
                continue
            median = float(np.median(values))
            mad = float(np.median(np.abs(values - median))) * 1.4826
            vector.append((day[feature] - median) / max(mad, floor))
        out.append((int(day[d.F_DAY]), np.clip(np.array(vector), -10, 10), day[d.F_FLAGGED] > 0.5))
    return out


def _in_any(start: float, end: float, windows: list[tuple[float, float]]) -> bool:
    return any(s < end and start < e for s, e in windows)


def evaluate(homes: int, days: int, seed: int, workers: int) -> dict[str, Any]:
    """Run the comparison; the figures."""
    from sklearn.covariance import EllipticEnvelope  # optional: see the module docstring
    from sklearn.ensemble import IsolationForest
    from sklearn.neighbors import LocalOutlierFactor

    rates = replace(IncidentRates(), illness=1.0)
    sim = simulate_homes(homes, days, seed, rates=rates)
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp)
        write_recording(sim, out)
        rows = parse_registry_csv((out / "homes.csv").read_text(), "Asia/Shanghai")
        truth = load_truth(out / "truth.jsonl")
        result = run_backtest(rows, out / "recording.jsonl", workers=workers)
        summaries = _replay_summaries(rows, out / "recording.jsonl")
    zones = {row.home_id: LocalClock(row.timezone) for row in rows}
    windows: dict[str, list[tuple[float, float]]] = {}
    for inc in truth:
        windows.setdefault(inc.home_id, []).append(
            (inc.start.timestamp(), inc.end.timestamp() + GRACE_S)
        )
    illnesses = [i for i in truth if i.kind == "illness"]
    home_list = sorted(summaries)
    train_homes = set(home_list[::2])
    # The routine rule's false findings set the budget (per ordinary home-day).
    false = false_findings(result.findings, truth, GRACE_S)
    routine_false = sum(f.kind == "routine_outlier" for f in false)
    home_days = homes * days
    budget = routine_false / home_days
    train_x, test_days = [], []
    for home in home_list:
        clock = zones[home]
        for day, vector, flagged in _zscores(summaries[home]):
            start, end = clock.care_day_start(day), clock.care_day_start(day + 1)
            incident = _in_any(start, end, windows.get(home, []))
            if home in train_homes:
                if not incident and not flagged:
                    train_x.append(vector)
            else:
                test_days.append((home, start, end, vector, incident))
    x = np.array(train_x)
    models = {
        "IsolationForest": IsolationForest(n_estimators=200, random_state=seed).fit(x),
        "LocalOutlierFactor": LocalOutlierFactor(n_neighbors=35, novelty=True).fit(x),
        "robust covariance": EllipticEnvelope(random_state=seed, support_fraction=0.9).fit(x),
    }
    existing = _existing(result.findings, illnesses)
    figures: dict[str, Any] = {
        "homes": homes,
        "days": days,
        "illnesses": len(illnesses),
        "illnesses_in_test_homes": sum(i.home_id not in train_homes for i in illnesses),
        "routine_false_per_home_30d": budget * 30,
        "existing": _summary(
            [existing[k] for k, i in enumerate(illnesses) if i.home_id not in train_homes]
        ),
        "models": {},
    }
    test_x = np.array([t[3] for t in test_days])
    ordinary = np.array([not t[4] for t in test_days])
    for name, model in models.items():
        scores = -model.score_samples(test_x)
        # Same false budget: flag as many ordinary days as the rule raised false findings.
        allowed = round(budget * (homes - len(train_homes)) * days)
        ranked = np.sort(scores[ordinary])[::-1]
        threshold = float(ranked[allowed]) if allowed < len(ranked) else -math.inf
        flagged = scores > threshold
        false_days = int(np.sum(flagged & ordinary))
        test_home_days = (homes - len(train_homes)) * days
        delays, earlier, only_model = [], 0, 0
        for k, inc in enumerate(illnesses):
            if inc.home_id in train_homes:
                continue
            hit = [
                t[2] - inc.start.timestamp()  # the model speaks when the care day closes
                for t, f in zip(test_days, flagged, strict=True)
                if f and t[0] == inc.home_id and _in_any(t[1], t[2], [span(inc)])
            ]
            first = min(hit) if hit else None
            delays.append(first)
            before = existing[k]
            if first is not None and (before is None or first < before):
                earlier += 1
                only_model += before is None
        figures["models"][name] = {
            **_summary(delays),
            "false_per_home_30d": false_days / test_home_days * 30,
            "earlier_than_existing": earlier,
            "found_only_by_model": only_model,
        }
    return figures


def span(incident: Incident) -> tuple[float, float]:
    """The incident's window in epoch seconds."""
    return incident.start.timestamp(), incident.end.timestamp()


def _existing(findings: tuple[Finding, ...], illnesses: list[Incident]) -> list[float | None]:
    """Seconds from each illness's start to the detectors' first inactivity or routine
    finding inside it (None: not found)."""
    out: list[float | None] = []
    for inc in illnesses:
        start, end = inc.start.timestamp(), inc.end.timestamp() + GRACE_S
        hits = [
            f.at.timestamp() - start
            for f in findings
            if f.home_id == inc.home_id
            and f.alerting
            and f.category in (Category.INACTIVITY, Category.ROUTINE)
            and start <= f.at.timestamp() <= end
        ]
        out.append(min(hits) if hits else None)
    return out


def _summary(delays: list[float | None]) -> dict[str, Any]:
    found = sorted(x for x in delays if x is not None)
    return {
        "incidents": len(delays),
        "found": len(found),
        "recall": len(found) / len(delays) if delays else None,
        "delay_p50_h": found[len(found) // 2] / 3600 if found else None,
    }


def main(argv: list[str] | None = None) -> int:
    """Command line: the figures as text."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--homes", type=int, default=60)
    parser.add_argument("--days", type=int, default=60)
    parser.add_argument("--seed", type=int, default=3)
    parser.add_argument("--workers", type=int, default=2)
    args = parser.parse_args(argv)
    try:
        import sklearn  # noqa: F401
    except ImportError:
        print("needs scikit-learn: pip install 'scikit-learn>=1.4'", file=sys.stderr)
        return 2
    began = time.perf_counter()
    figures = evaluate(args.homes, args.days, args.seed, args.workers)
    print(json.dumps(figures, indent=2))
    print(f"{time.perf_counter() - began:.0f} s", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
