"""The pipeline guard: a dead ingest pipeline must never page advisors about every home.

When nothing at all has been heard for `silence_s`, the guard raises one `system`
finding and suspends the absence rules. When data flows again it records the outage
as a blind window, so no home's silence counts the time we could not see, and the
rules re-arm without alerting for it.
"""

from __future__ import annotations

from typing import Any

from core.kinds import Category, Severity
from detectors.findings import Finding, finding_at
from detectors.localtime import duration_text, from_epoch

SYSTEM_HOME_ID = "*"  # findings about the pipeline concern every home
# Outage windows kept for crediting silences; older ones concern only silences that
# were long since reported.
MAX_BLIND_WINDOWS = 32


class PipelineGuard:
    """Watches the arrival of any message at all (mutable, owned by the engine)."""

    __slots__ = ("blind", "last_heard", "silence_s", "suspended")

    def __init__(self, silence_s: float) -> None:
        self.silence_s = silence_s
        self.last_heard = 0.0  # latest arrival time of any message (UTC epoch seconds)
        self.suspended = False
        self.blind: list[list[float]] = []

    def heard(self, at: float) -> Finding | None:
        """Note an arrival; returns the "flowing again" finding when resuming."""
        if at <= self.last_heard:
            return None
        resumed = None
        if self.suspended:
            self.suspended = False
            self.blind.append([self.last_heard, at])
            del self.blind[:-MAX_BLIND_WINDOWS]
            resumed = finding_at(
                SYSTEM_HOME_ID,
                Category.SYSTEM,
                "pipeline_silent",
                Severity.INFO,
                at,
                f"data flowing again after {duration_text(at - self.last_heard)} of silence "
                f"since {from_epoch(self.last_heard):%Y-%m-%d %H:%M} UTC; absence rules re-armed",
                clears=True,
            )
        self.last_heard = at
        return resumed

    def check(self, now: float) -> Finding | None:
        """At a tick: suspend (and say so once) when the whole fleet has gone quiet."""
        if self.suspended or self.last_heard <= 0 or now - self.last_heard <= self.silence_s:
            return None
        self.suspended = True
        return finding_at(
            SYSTEM_HOME_ID,
            Category.SYSTEM,
            "pipeline_silent",
            Severity.HIGH,
            now,
            f"no message from any device since {from_epoch(self.last_heard):%H:%M:%S} UTC "
            f"({duration_text(now - self.last_heard)}): ingest or broker down? "
            "Absence rules are paused.",
        )

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready state."""
        return {"last_heard": self.last_heard, "suspended": self.suspended, "blind": self.blind}

    def restore(self, data: dict[str, Any]) -> None:
        """Load `to_dict` output."""
        self.last_heard = float(data["last_heard"])
        self.suspended = bool(data["suspended"])
        self.blind = [list(map(float, w)) for w in data["blind"]]
