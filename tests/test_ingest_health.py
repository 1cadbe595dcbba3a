"""What an ingest worker reports of its pipeline, transition by transition (pure code)."""

from __future__ import annotations

from datetime import UTC, datetime

from core.clock import ManualClock
from core.pipeline import Heartbeat, PipelineProblem, PipelineStatus
from ingest.health import PipelineHealth

NOW = datetime(2026, 11, 29, 12, tzinfo=UTC)


class Ticker:
    """A monotonic clock moved by hand."""

    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def _health() -> tuple[PipelineHealth, list[PipelineStatus], Ticker]:
    statuses: list[PipelineStatus] = []
    ticker = Ticker()
    health = PipelineHealth("w-1", ManualClock(NOW), 10.0, statuses.append, monotonic=ticker)
    health.armed = True
    health.broker_connected = True
    return health, statuses, ticker


def _send_and_commit(health: PipelineHealth, ticker: Ticker, seq: int) -> None:
    health.heartbeat_sent(seq, NOW)
    ticker.now += 0.01
    assert health.heartbeat_committed(Heartbeat("w-1", seq, NOW, NOW)) is not None


def test_heartbeats_flowing_report_nothing() -> None:
    health, statuses, ticker = _health()
    for seq in range(1, 5):
        _send_and_commit(health, ticker, seq)
        ticker.now += 10
        health.evaluate()
    assert statuses == []


def test_a_heartbeat_not_back_in_three_intervals_is_missing_until_one_comes_back() -> None:
    health, statuses, ticker = _health()
    _send_and_commit(health, ticker, 1)
    health.heartbeat_sent(2, NOW)
    ticker.now += 29
    assert health.evaluate() is None  # late, not yet missing
    ticker.now += 2
    assert health.evaluate() is PipelineProblem.HEARTBEAT_MISSING
    # The late one arriving proves nothing newer than the problem; a fresh one does.
    health.heartbeat_committed(Heartbeat("w-1", 2, NOW, NOW))
    assert health.evaluate() is PipelineProblem.HEARTBEAT_MISSING
    ticker.now += 1
    _send_and_commit(health, ticker, 3)
    assert health.evaluate() is None
    assert [s.problem for s in statuses] == [PipelineProblem.HEARTBEAT_MISSING, None]
    assert {s.worker for s in statuses} == {"w-1"} and {s.at for s in statuses} == {NOW}


def test_broker_and_commit_problems_stand_until_a_later_heartbeat_is_committed() -> None:
    health, statuses, ticker = _health()
    _send_and_commit(health, ticker, 1)
    health.broker_connected = False
    health.evaluate()
    ticker.now += 5
    health.broker_connected = True
    health.commits_failing = True
    health.evaluate()
    ticker.now += 5
    health.commits_failing = False
    assert health.evaluate() is PipelineProblem.COMMITS_FAILING  # no proof yet
    _send_and_commit(health, ticker, 2)
    assert health.evaluate() is None
    assert [s.problem for s in statuses] == [
        PipelineProblem.BROKER_DISCONNECTED, PipelineProblem.COMMITS_FAILING, None,
    ]  # fmt: skip


def test_nothing_is_reported_before_the_worker_is_armed() -> None:
    health, statuses, _ = _health()
    health.armed = False
    health.broker_connected = False
    health.evaluate()
    assert statuses == []


def test_a_previous_runs_heartbeat_with_the_same_seq_is_not_ours() -> None:
    health, _, _ = _health()
    health.heartbeat_sent(7, NOW)
    other = Heartbeat("w-1", 7, NOW.replace(year=2025), NOW)
    assert health.heartbeat_committed(other) is None
