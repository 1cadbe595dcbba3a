"""Pipeline health from positive evidence: a dead pipeline must never page about every home.

The pipeline is known to deliver while ingest's heartbeats (published through the broker,
committed like any reading) keep coming back; it is known not to while a heartbeat is
overdue or an ingest worker reports a problem (broker disconnected, commits failing).
Quiet devices say nothing about it: a pilot of five homes with hourly meters is silent
most minutes of the day. Until the first heartbeat is seen (a backtest of a recording
without heartbeat records) the pipeline counts as healthy.

While it is unhealthy the absence rules are paused; it is said once (one `system`
finding) and again when it delivers, and the outage becomes a blind window that no
home's silence counts. Every instant here is on the one clock the engine is ticked with:
heartbeats carry their `sent_at` on it (DESIGN.md, Time).
"""

from __future__ import annotations

from typing import Any

from core.kinds import Category, Severity
from detectors.findings import Finding, finding_at
from detectors.localtime import duration_text, from_epoch

SYSTEM_HOME_ID = "*"  # findings about the pipeline concern every home
PIPELINE_KIND = "pipeline_down"
# Outage windows kept for crediting silences; older ones concern only silences that
# were long since reported.
MAX_BLIND_WINDOWS = 32
# Heartbeat gaps kept to learn the interval (their median: robust to one late beat).
RECENT_GAPS = 9


class PipelineHealth:
    """What the detectors know of the pipeline's health (mutable, owned by the engine)."""

    __slots__ = (
        "blind",
        "down_since",
        "down_why",
        "gaps",
        "interval_s",
        "last_beat",
        "min_timeout_s",
        "problems",
        "quiet_until",
        "reported",
        "timeout_intervals",
        "transits",
    )

    def __init__(self, interval_s: float, timeout_intervals: float, min_timeout_s: float) -> None:
        self.interval_s = interval_s  # learned from the heartbeats; this until then
        self.timeout_intervals = timeout_intervals
        self.min_timeout_s = min_timeout_s
        self.last_beat = 0.0  # newest committed heartbeat's sent_at; 0: none yet, not armed
        self.gaps: list[float] = []
        # Recent heartbeats' sent → committed times on this clock: a heartbeat is late
        # only past its usual cadence AND its usual transit (a clock that runs many times
        # faster than the wall, as in a demo or a stepped test, makes transits long).
        self.transits: list[float] = []
        self.problems: dict[str, list[Any]] = {}  # worker → [problem, since]
        self.down_since = 0.0  # 0: delivering; else the last moment known good
        self.down_why = ""
        self.reported = False
        self.quiet_until = 0.0  # no finding before this (a restart waits for a heartbeat)
        self.blind: list[list[float]] = []

    @property
    def armed(self) -> bool:
        """True once a heartbeat has been seen: from then on one is expected."""
        return self.last_beat > 0

    @property
    def suspended(self) -> bool:
        """True while the absence rules are paused."""
        return self.down_since > 0

    def timeout_s(self) -> float:
        """How late a heartbeat may be before the pipeline is known not to deliver."""
        transit = sorted(self.transits)[len(self.transits) // 2] if self.transits else 0.0
        cadence = max(self.timeout_intervals * self.interval_s, self.min_timeout_s)
        return cadence + self.timeout_intervals * transit

    def horizon(self, now: float) -> float:
        """The latest moment silences may be judged up to: what the pipeline has proved."""
        return min(now, self.last_beat) if self.armed else now

    def heartbeat(
        self, worker: str, sent_at: float, out: list[Finding], transit_s: float = 0.0
    ) -> None:
        """A committed heartbeat: the pipeline delivered what was sent before `sent_at`;
        `transit_s` it took from being sent to being committed."""
        if transit_s > 0:
            self.transits.append(transit_s)
            del self.transits[:-RECENT_GAPS]
        problem = self.problems.get(worker)
        if problem is not None and sent_at > problem[1]:
            del self.problems[worker]  # it delivers again, whatever it said before
        last = self.last_beat
        if sent_at <= last:
            return  # an older one (several workers, a redelivery)
        if last > 0 and not self.suspended:
            self.gaps.append(sent_at - last)
            del self.gaps[:-RECENT_GAPS]
            ordered = sorted(self.gaps)
            self.interval_s = ordered[len(ordered) // 2]
        self.last_beat = sent_at
        if self.suspended and not self.problems:
            self._resume(sent_at, out)

    def status(self, worker: str, at: float, problem: str | None, out: list[Finding]) -> None:
        """An ingest worker's own report: `problem` None means delivering again."""
        if problem is None:
            self.problems.pop(worker, None)
            fresh = not self.armed or at - self.last_beat <= self.timeout_s()
            if self.suspended and not self.problems and self.last_beat >= self.down_since and fresh:
                self._resume(at, out)
            return
        self.problems[worker] = [problem, at]
        if not self.suspended:
            self._down(at, at, f"ingest worker {worker} reports {problem.replace('_', ' ')}", out)

    def check(self, now: float, out: list[Finding]) -> bool:
        """At a tick: True while the pipeline is known to deliver (or not yet watched)."""
        if self.suspended:
            if not self.reported and now >= self.quiet_until:
                self._report(now, out)
            return False
        if self.armed and now - self.last_beat > self.timeout_s():
            self._down(self.last_beat, now, "no ingest heartbeat has come back", out)
            return False
        return True

    def restarted(self, now: float) -> None:
        """The detectors restarted: until a heartbeat comes back, nothing is known, but a
        restart is not an outage worth a finding unless it lasts."""
        if self.armed and not self.suspended:
            self.down_since = self.last_beat
            self.down_why = "no ingest heartbeat since the detectors restarted"
            self.reported = False
            self.quiet_until = now + self.timeout_s()

    def _down(self, since: float, now: float, why: str, out: list[Finding]) -> None:
        self.down_since = since
        self.down_why = why
        self.reported = False
        self.quiet_until = 0.0
        self._report(now, out)

    def _report(self, now: float, out: list[Finding]) -> None:
        self.reported = True
        out.append(
            finding_at(
                SYSTEM_HOME_ID,
                Category.SYSTEM,
                PIPELINE_KIND,
                Severity.HIGH,
                now,
                f"{self.down_why} since {from_epoch(self.down_since):%Y-%m-%d %H:%M:%S} UTC "
                f"({duration_text(now - self.down_since)}): data from homes is not arriving. "
                "Absence rules are paused until it does.",
                params={"since_at": round(self.down_since)} | _variant(self.down_why),
            )
        )

    def _resume(self, at: float, out: list[Finding]) -> None:
        since = self.down_since
        self.down_since = 0.0
        self.blind.append([since, at])
        del self.blind[:-MAX_BLIND_WINDOWS]
        if self.reported:
            out.append(
                finding_at(
                    SYSTEM_HOME_ID,
                    Category.SYSTEM,
                    PIPELINE_KIND,
                    Severity.INFO,
                    at,
                    f"data arriving again after {duration_text(at - since)} "
                    f"(since {from_epoch(since):%Y-%m-%d %H:%M} UTC); absence rules re-armed, "
                    "and that time counts as nobody's silence",
                    clears=True,
                    params={"since_at": round(since), "silent_s": round(at - since)},
                )
            )
        self.reported = False

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready state."""
        return {name: getattr(self, name) for name in _PERSISTED}

    def restore(self, data: dict[str, Any]) -> None:
        """Load `to_dict` output (state of the old guard is ignored: it proved nothing)."""
        for name in _PERSISTED:
            if name in data:
                setattr(self, name, data[name])


_PERSISTED = (
    "blind",
    "down_since",
    "down_why",
    "gaps",
    "interval_s",
    "last_beat",
    "problems",
    "quiet_until",
    "reported",
    "transits",
)


def _variant(why: str) -> dict[str, str]:
    """Which template says why (core/explain.py): an ingest worker's own report names
    its problem; a missing heartbeat is the plain form."""
    for problem in ("broker_disconnected", "commits_failing"):
        if problem.replace("_", " ") in why:
            return {"variant": problem}
    return {}
