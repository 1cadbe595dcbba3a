"""Stopping the `eldercare` processes a test started, so none outlives its test.

SIGTERM, never SIGINT: a shell starts its background jobs with SIGINT ignored, and Python
then keeps it ignored, so a suite run in the background (`nohup`, `&`) could not stop
its processes with a SIGINT.
"""

from __future__ import annotations

import asyncio
import subprocess

STOP_GRACE_S = 30


async def stop_process(
    process: asyncio.subprocess.Process | subprocess.Popen[bytes], grace_s: float = STOP_GRACE_S
) -> None:
    """SIGTERM, as `docker stop` sends; a process still running after `grace_s` is killed
    (nothing left behind for the next test) and the test fails: an operator's stop must work."""
    if process.returncode is not None:
        return
    process.terminate()
    try:
        await _wait(process, grace_s)
    except (TimeoutError, subprocess.TimeoutExpired):
        process.kill()
        await _wait(process, None)
        raise AssertionError(
            f"process {process.pid} did not stop within {grace_s} s of SIGTERM; killed"
        ) from None


async def _wait(
    process: asyncio.subprocess.Process | subprocess.Popen[bytes], timeout_s: float | None
) -> None:
    if isinstance(process, subprocess.Popen):
        await asyncio.to_thread(process.wait, timeout_s)
    else:
        await asyncio.wait_for(process.wait(), timeout_s)
