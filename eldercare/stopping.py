"""Stopping a long-running asyncio command on SIGTERM or SIGINT: cleanly, and in bounded time.

eldercare/cli.py turns SIGTERM into KeyboardInterrupt, raised by a Python signal handler
at whatever bytecode happens to run. In a busy ingest worker that is often not our code:
in a weakref callback (asyncio's task set dropping a finished task) the interrupt is
printed as "Exception ignored" and lost, and the worker carries on as if never told to
stop; inside the event loop's own bookkeeping it leaves tasks that never wake, and
`asyncio.run` then waits for them forever. Both were seen under load.

Here a signal only wakes the event loop (`loop.add_signal_handler`), which cancels the
main task: everything stops at an await, through its `finally` blocks (batches being
written roll back unacked, so the broker redelivers them). A stop that still has not
finished STOP_GRACE_S later is logged with every thread's stack and the process exits
anyway. A second signal stops at once (KeyboardInterrupt, between two callbacks).
"""

from __future__ import annotations

import asyncio
import contextlib
import faulthandler
import logging
import os
import signal
import sys
import threading
from collections.abc import Coroutine
from typing import Any, TypeVar

from core.logs import kv

log = logging.getLogger("eldercare")

# Within systemd's default 90 s and the 30 s our tests and benches give a stop; the clean
# path takes a second or two (the pool closes within 5 s, the broker gets DISCONNECT).
STOP_GRACE_S = 20.0
STOP_TIMED_OUT_EXIT_CODE = 1
SIGNALS = (signal.SIGTERM, signal.SIGINT)

_T = TypeVar("_T")


def run_until_stopped(main: Coroutine[Any, Any, _T], *, grace_s: float = STOP_GRACE_S) -> _T:
    """`asyncio.run(main)`, stopped by SIGTERM or SIGINT as the module says; a stop ends
    in KeyboardInterrupt once the loop is closed, as Ctrl-C does elsewhere. Outside the
    main thread (tests call the CLI in threads) no signal is touched."""
    stop = _Stop(grace_s)
    with asyncio.Runner() as runner:
        try:
            return runner.run(stop.guard(main))
        except asyncio.CancelledError:
            if not stop.requested:
                raise
    raise KeyboardInterrupt


class _Stop:
    def __init__(self, grace_s: float) -> None:
        self.requested = False
        self._grace_s = grace_s

    async def guard(self, main: Coroutine[Any, Any, _T]) -> _T:
        if threading.current_thread() is not threading.main_thread():
            return await main
        loop = asyncio.get_running_loop()
        task = asyncio.current_task()
        assert task is not None
        previous = {sig: signal.getsignal(sig) for sig in SIGNALS}
        for sig in SIGNALS:
            loop.add_signal_handler(sig, self._on_signal, sig, task, loop)
        try:
            return await main
        finally:
            for sig, handler in previous.items():
                loop.remove_signal_handler(sig)
                signal.signal(sig, handler)

    def _on_signal(
        self, sig: int, task: asyncio.Task[Any], loop: asyncio.AbstractEventLoop
    ) -> None:
        name = signal.Signals(sig).name
        if self.requested:
            log.warning(kv("stopping_now", signal=name, reason="second signal"))
            raise KeyboardInterrupt
        self.requested = True
        log.info(kv("stopping", signal=name, grace_s=self._grace_s))
        task.cancel()
        # A thread, not a loop timer: it must fire even if the loop itself is stuck, or
        # the interpreter is waiting at exit for a thread that never ends.
        timer = threading.Timer(self._grace_s, _give_up, (name, self._grace_s, loop))
        timer.daemon = True
        timer.start()


def _give_up(signal_name: str, grace_s: float, loop: asyncio.AbstractEventLoop) -> None:
    action = "exiting without finishing the stop; what still runs follows"
    log.error(kv("stop_timed_out", signal=signal_name, grace_s=grace_s, action=action))
    faulthandler.dump_traceback(file=sys.stderr, all_threads=True)
    with contextlib.suppress(Exception):  # read from another thread: best effort
        for task in asyncio.all_tasks(loop):
            print(f"task {task.get_name()} awaiting: {_awaiting(task)}", file=sys.stderr)
    sys.stderr.flush()
    os._exit(STOP_TIMED_OUT_EXIT_CODE)


def _awaiting(task: asyncio.Task[Any]) -> str:
    """Where a task waits: each coroutine of its chain (a task's own stack shows one)."""
    where: list[str] = []
    coro: Any = task.get_coro()
    while coro is not None:
        frame = getattr(coro, "cr_frame", None)
        if frame is not None:
            where.append(f"{frame.f_code.co_name} ({frame.f_code.co_filename}:{frame.f_lineno})")
        coro = getattr(coro, "cr_await", None)
    return " > ".join(where) or "-"
