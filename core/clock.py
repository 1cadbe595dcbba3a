"""The clock stages are given: wall time live, event time in backtests and replays."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Protocol


class Clock(Protocol):
    """Anything that can say what time it is now, as aware UTC."""

    def now(self) -> datetime:
        """The current time, timezone-aware UTC."""
        ...


class WallClock:
    """The real time."""

    def now(self) -> datetime:
        """The current wall-clock time in UTC."""
        return datetime.now(UTC)


class ManualClock:
    """A clock that moves only when told to: tests, backtests (event time)."""

    def __init__(self, start: datetime) -> None:
        if start.tzinfo is None:
            raise ValueError("ManualClock needs a timezone-aware start")
        self._now = start.astimezone(UTC)

    def now(self) -> datetime:
        """The time last set."""
        return self._now

    def set(self, moment: datetime) -> None:
        """Move to `moment`; a clock never runs backwards."""
        moment = moment.astimezone(UTC)
        if moment > self._now:
            self._now = moment

    def advance(self, delta: timedelta) -> None:
        """Move forward by `delta`."""
        self.set(self._now + delta)


class AcceleratedClock:
    """Wall time scaled by a factor from an origin: the demo's simulated time."""

    def __init__(self, origin: datetime, factor: float, wall: Clock | None = None) -> None:
        if factor <= 0:
            raise ValueError("factor must be positive")
        self._wall = wall or WallClock()
        self._origin = origin.astimezone(UTC)
        self._started = self._wall.now()
        self._factor = factor

    def restart(self) -> None:
        """Start running from the origin again, as of this wall-clock moment."""
        self._started = self._wall.now()

    def now(self) -> datetime:
        """Simulated now: origin + elapsed wall time × factor."""
        elapsed = self._wall.now() - self._started
        return self._origin + elapsed * self._factor


class CatchUpClock:
    """Runs `factor` times faster than the wall clock from `origin` until it reaches the
    present, then keeps to real time: device time may never be ahead of the real now."""

    def __init__(self, origin: datetime, factor: float, wall: Clock | None = None) -> None:
        self._accelerated = AcceleratedClock(origin, factor, wall)
        self._wall = wall or WallClock()

    def restart(self) -> None:
        """Start running from the origin again (the demo's live run begins after its
        history is written)."""
        self._accelerated.restart()

    def now(self) -> datetime:
        """The simulated now, never later than the wall clock."""
        return min(self._accelerated.now(), self._wall.now())
