"""Keeping a process's stages alive: a stage that fails is restarted alone, with
jittered exponential backoff, and an outage costs one log line when it starts and one
when it ends — never the other stages, and never a traceback per retry.

A stage is a coroutine function that runs until cancelled and takes an event it sets once
it is up (subscribed, replayed, serving). Stages with nothing to wait for say so
(`signals_ready=False`) and count as up once they have run `settle_s` without failing.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from core.backoff import Backoff
from core.logs import kv

log = logging.getLogger("eldercare.supervisor")

StageRun = Callable[[asyncio.Event], Awaitable[None]]
OutageTest = Callable[[BaseException], bool]


def is_network_outage(error: BaseException) -> bool:
    """The default test: a lost or refused connection, or a timeout."""
    return isinstance(error, OSError | TimeoutError)


def leaf_errors(error: BaseException) -> list[BaseException]:
    """The errors inside (possibly nested) exception groups, or the error itself."""
    if isinstance(error, BaseExceptionGroup):
        return [leaf for inner in error.exceptions for leaf in leaf_errors(inner)]
    return [error]


def error_name(error: BaseException) -> str:
    """The class name of the error a group carries (its first leaf), for a log line."""
    return type(leaf_errors(error)[0]).__name__


@dataclass(frozen=True, slots=True)
class RestartPolicy:
    """How a failed stage is restarted."""

    base_s: float = 1.0  # first delay (full jitter: drawn from half of it up to it)
    # Longest delay: a stage waiting out a long outage tries this often, so it is back
    # within seconds of the database (a failed try is one refused connection).
    cap_s: float = 15.0
    # A stage that does not say when it is up counts as recovered after running this long;
    # long enough that one crashing at every start is not announced as recovered each time.
    settle_s: float = 10.0

    def __post_init__(self) -> None:
        if not 0 < self.base_s <= self.cap_s or self.settle_s <= 0:
            raise ValueError("need 0 < base_s <= cap_s and settle_s > 0")


@dataclass(frozen=True, slots=True)
class Stage:
    """One named, restartable part of a process."""

    name: str
    run: StageRun
    signals_ready: bool = True  # False: `run` never sets its event; up after settle_s

    @classmethod
    def loop(cls, name: str, run: Callable[[], Awaitable[None]]) -> Stage:
        """A stage that has no notion of ready (a polling loop)."""

        async def runner(_: asyncio.Event) -> None:
            await run()

        return cls(name, runner, signals_ready=False)


class Supervisor:
    """Runs one stage until cancelled, restarting it whenever it fails or returns."""

    def __init__(
        self,
        stage: Stage,
        *,
        policy: RestartPolicy | None = None,
        is_outage: OutageTest = is_network_outage,
    ) -> None:
        self.stage = stage
        self._policy = policy or RestartPolicy()
        self._is_outage = is_outage
        self._backoff = Backoff(self._policy.base_s, self._policy.cap_s)
        self._down_since: float | None = None
        self._logged: set[str] = set()  # error classes already logged in this outage
        self.restarts = 0
        self.ready = asyncio.Event()  # set the first time the stage is up

    async def run(self) -> None:
        """Run, and restart, the stage until cancelled."""
        while True:
            up = asyncio.Event()
            watcher = asyncio.create_task(self._when_up(up), name=f"{self.stage.name}-up")
            # The stage runs in a task of its own: a TaskGroup in it whose task fails
            # cancels that task, not ours (and on 3.11 never takes the request back), so
            # a cancellation requested of ours is always a stop.
            stage = asyncio.create_task(self._run_stage(up), name=self.stage.name)
            try:
                await stage  # cancelling us cancels it
                error: BaseException = _Returned()
            except Exception as exc:  # anything but cancellation: this stage alone restarts
                if cancel_requested():
                    # Told to stop while failing: a TaskGroup reports its tasks' errors in
                    # place of the cancellation. Restarting would swallow the stop, and the
                    # process would never exit.
                    await _stopped(watcher)
                    raise asyncio.CancelledError from exc
                error = exc
            except asyncio.CancelledError:
                await _stopped(watcher)
                raise
            except BaseException:
                # Ctrl-C or SIGTERM raised in the stage: leave at once, awaiting nothing,
                # so the interrupt reaches the event loop and the process stops.
                watcher.cancel()
                raise
            await _stopped(watcher)
            delay_s = self._backoff.next_delay_s()
            self._report(error, delay_s)
            await asyncio.sleep(delay_s)
            self.restarts += 1

    async def _run_stage(self, up: asyncio.Event) -> None:
        await self.stage.run(up)

    async def _when_up(self, up: asyncio.Event) -> None:
        if self.stage.signals_ready:
            await up.wait()
        else:
            with contextlib.suppress(TimeoutError):
                # Not wait_for: on 3.11 it can swallow the cancellation (ingest/service.py).
                async with asyncio.timeout(self._policy.settle_s):
                    await up.wait()
        self.ready.set()
        self._backoff.reset()
        if self._down_since is not None:
            log.info(kv("stage_recovered", stage=self.stage.name,
                        down_s=round(time.monotonic() - self._down_since, 1),
                        restarts=self.restarts))  # fmt: skip
            self._down_since = None
            self._logged.clear()

    def _report(self, error: BaseException, delay_s: float) -> None:
        """One line per outage (and per new kind of error in it); repeats go to DEBUG."""
        if self._down_since is None:
            self._down_since = time.monotonic()
        name = error_name(error)
        outage = all(self._is_outage(e) for e in leaf_errors(error))
        # Only a connection error's own words go into the line: others may quote data.
        line = kv("stage_failed", stage=self.stage.name, error=name,
                  detail=_first_line(error) if outage else "-", action="restarting this stage",
                  retry_in_s=round(delay_s, 1))  # fmt: skip
        if name in self._logged:
            log.debug(line, exc_info=error)
        elif outage or isinstance(error, _Returned):
            # An outage we expect (database or broker away): the class says enough.
            log.warning(line, exc_info=error if log.isEnabledFor(logging.DEBUG) else None)
        else:
            # Not foreseen: a bug to fix. The traceback, once.
            log.error(line, exc_info=error)
        self._logged.add(name)


def cancel_requested() -> bool:
    """This task has been asked to stop: for code that catches an error a library may have
    made of the cancellation (Python 3.11's wait_for, used by nats-py, can)."""
    task = asyncio.current_task()
    return task is not None and task.cancelling() > 0


async def _stopped(task: asyncio.Task[None]) -> None:
    task.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await task


class _Returned(Exception):
    """The stage's run returned, which it should never do: restarted like a failure."""

    def __str__(self) -> str:
        return "the stage stopped by itself"


def _first_line(error: BaseException) -> str:
    text = str(leaf_errors(error)[0]).strip().splitlines()
    return text[0][:200] if text else "-"


async def supervise(
    stage: Stage,
    *,
    policy: RestartPolicy | None = None,
    is_outage: OutageTest = is_network_outage,
) -> None:
    """Run `stage` until cancelled, restarting it whenever it fails."""
    await Supervisor(stage, policy=policy, is_outage=is_outage).run()


class OutageLog:
    """For loops that retry on their own: the first failure of an outage at WARNING,
    the retries at DEBUG, and one line when a pass succeeds again."""

    def __init__(self, logger: logging.Logger, event: str, **fields: object) -> None:
        self._log = logger
        self._event = event
        self._fields = fields
        self._since: float | None = None
        self._failures = 0

    @property
    def failing(self) -> bool:
        """True between a failure and the next success."""
        return self._since is not None

    def failed(self, error: BaseException, retrying: str) -> None:
        """A pass failed; `retrying` says what will be tried again."""
        self._failures += 1
        line = kv(self._event + "_failed", **self._fields, error=error_name(error),
                  retrying=retrying)  # fmt: skip
        if self._since is None:
            self._since = time.monotonic()
            self._log.warning(line)
        else:
            self._log.debug(line)

    def succeeded(self) -> None:
        """A pass succeeded: say so once if it ends an outage."""
        if self._since is None:
            return
        self._log.info(kv(self._event + "_recovered", **self._fields,
                          outage_s=round(time.monotonic() - self._since, 1),
                          failed_passes=self._failures))  # fmt: skip
        self._since, self._failures = None, 0
