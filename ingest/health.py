"""What an ingest worker knows of its own health: its writes, its broker link and its
heartbeats, told to the operator in one line per outage and to the next stage as
PipelineStatus transitions (core/pipeline.py).

Delivering is proven, never assumed: after any problem, the worker is delivering again
only once a heartbeat sent after the problem was last seen has come back through the
broker and been committed.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from datetime import datetime

from core.clock import Clock
from core.logs import kv
from core.pipeline import Heartbeat, PipelineProblem, PipelineStatus
from storage.write_failures import FailureKind, WriteFailure

log = logging.getLogger("eldercare.ingest")

StatusListener = Callable[[PipelineStatus], None]
# A heartbeat not back after this many intervals is missing: one late one is noise
# (a batch waiting on a slow commit); three in a row is a pipeline that does not deliver.
MISSING_AFTER_INTERVALS = 3
# Heartbeats sent and not yet back are remembered up to this many (oldest forgotten).
MAX_OUTSTANDING = 1000


class WriteOutages:
    """The write loop's failures for the operator: one line when an outage starts (and
    one more if its cause changes), retries at DEBUG, one line when writes succeed again."""

    def __init__(self) -> None:
        self._since: float | None = None
        self._causes: set[str] = set()
        self._failures = 0

    @property
    def failing(self) -> bool:
        """True from a failed write (other than a conflict) until one succeeds."""
        return self._since is not None

    def failed(self, failure: WriteFailure, holding: int) -> None:
        """A write failed; the batch of `holding` messages is held for a retry."""
        if failure.kind is FailureKind.CONFLICT:
            log.debug(kv("ingest_write_conflict", detail=failure.detail))
            return
        self._failures += 1
        event = "database_refuses_writes" if failure.kind is FailureKind.REFUSED else (
            "database_unavailable")  # fmt: skip
        line = kv(event, cause=failure.cause, detail=failure.detail, action=failure.action,
                  holding=holding,
                  meanwhile="nothing acknowledged; retrying with backoff")  # fmt: skip
        if self._since is None:
            self._since = time.monotonic()
        if failure.cause in self._causes:
            log.debug(line)
            return
        self._causes.add(failure.cause)
        log.warning(line)

    def succeeded(self) -> None:
        """A write committed: end the outage, if there was one, with one line."""
        if self._since is None:
            return
        log.info(kv("database_writes_recovered", outage_s=round(time.monotonic() - self._since, 1),
                    failed_attempts=self._failures))  # fmt: skip
        self._since = None
        self._causes.clear()
        self._failures = 0


class PipelineHealth:
    """The worker's current PipelineProblem, reported to `listener` on transitions."""

    def __init__(
        self,
        worker: str,
        clock: Clock,
        heartbeat_s: float,
        listener: StatusListener | None,
        monotonic: Callable[[], float] = time.monotonic,  # tests pass their own
    ) -> None:
        self._worker = worker
        self._monotonic = monotonic
        self._clock = clock
        self._missing_after_s = heartbeat_s * MISSING_AFTER_INTERVALS
        self._listener = listener
        self.broker_connected = False
        self.commits_failing = False
        # Heartbeats sent and not yet committed: seq → (sent_at, monotonic, wall) send times.
        self._outstanding: dict[int, tuple[datetime, float, float]] = {}
        self.armed = False  # nothing is reported until the worker has had time to connect
        self._last_bad: float | None = None  # when a problem was last seen (monotonic)
        self._proven_at: float | None = None  # send time of the newest committed heartbeat
        self.reported: PipelineProblem | None = None

    def heartbeat_sent(self, seq: int, sent_at: datetime) -> None:
        """A heartbeat went out (`sent_at` as written in it)."""
        self._outstanding[seq] = (sent_at, self._monotonic(), time.time())
        if len(self._outstanding) > MAX_OUTSTANDING:
            del self._outstanding[min(self._outstanding)]

    def heartbeat_committed(self, beat: Heartbeat) -> float | None:
        """A heartbeat came back and is committed; returns its wall-clock send time, None
        if it is not one this run sent (a previous run's, redelivered). Older outstanding
        ones are forgotten: lost or late, they prove nothing newer."""
        sent = self._outstanding.get(beat.seq)
        if sent is None or sent[0] != beat.sent_at:
            return None
        for old in [s for s in self._outstanding if s <= beat.seq]:
            del self._outstanding[old]
        if self._proven_at is None or sent[1] > self._proven_at:
            self._proven_at = sent[1]
        return sent[2]

    def current(self) -> PipelineProblem | None:
        """The problem right now (a reported one stands until delivery is proven again)."""
        now = self._monotonic()
        problem: PipelineProblem | None = None
        if not self.broker_connected:
            problem = PipelineProblem.BROKER_DISCONNECTED
        elif self.commits_failing:
            problem = PipelineProblem.COMMITS_FAILING
        elif self._overdue(now):
            problem = PipelineProblem.HEARTBEAT_MISSING
        if problem is not None:
            self._last_bad = now
            return problem
        unproven = self._proven_at is None or (
            self._last_bad is not None and self._proven_at < self._last_bad
        )
        if self.reported is not None and unproven:
            return self.reported
        return None

    def _overdue(self, now: float) -> bool:
        """A heartbeat sent since the last known problem is long overdue (one sent during
        a problem is late for a reason already reported)."""
        since = self._last_bad if self._last_bad is not None else float("-inf")
        return any(
            since < sent < now - self._missing_after_s for _, sent, _ in self._outstanding.values()
        )

    def evaluate(self) -> PipelineProblem | None:
        """Recompute the problem and report it if it changed; returns it."""
        problem = self.current()
        if problem != self.reported and self.armed:
            self.reported = problem
            status = PipelineStatus(self._worker, self._clock.now(), problem)
            level = logging.INFO if problem is None else logging.WARNING
            log.log(level, kv("pipeline_status", worker=self._worker, problem=problem or "none"))
            if self._listener is not None:
                self._listener(status)
        return problem
