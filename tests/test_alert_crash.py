"""SIGKILL of a real alert process while it sends: after a restart the message is
delivered exactly once, by its idempotency key, and the record says what happened."""

from __future__ import annotations

import asyncio
import os
import signal
import sys

import asyncpg
import pytest

from core.kinds import Category, Severity
from storage.alerts_outbox import attempts_of_delivery
from storage.findings import insert_findings
from tests.ingest_helpers import wait_until
from tests.processes import stop_process
from tests.test_alert_support import Gateway, finding, register_home

pytestmark = pytest.mark.slow

PRIMARY = "+8613811111111"
LEASE_S = 3  # a short lease, so the restarted process takes the message over quickly


async def _start_alert_process(db_url: str, gateway: Gateway) -> asyncio.subprocess.Process:
    env = {k: v for k, v in os.environ.items() if not k.startswith("ELDERCARE_")}
    env |= {
        "ELDERCARE_DATABASE_URL": db_url,
        "ELDERCARE_SMS_GATEWAY_URL": gateway.base_url,
        "ELDERCARE_DISPATCH_LEASE_S": str(LEASE_S),
        "ELDERCARE_DISPATCH_SEND_TIMEOUT_S": "2",
    }
    return await asyncio.create_subprocess_exec(
        sys.executable, "-m", "eldercare", "alerts", "run", env=env,
        stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.DEVNULL,
    )  # fmt: skip


async def test_sigkill_while_sending_delivers_once_after_restart(
    db: asyncpg.Connection, db_url: str
) -> None:
    await register_home(db)
    # A leak pages the primary advisor by SMS at once: one message to follow.
    await insert_findings(db, [finding("leak_continuous_flow", Category.LEAK, Severity.MEDIUM)])
    gateway = Gateway()
    await gateway.start()
    gateway.hang = asyncio.Event()  # the gateway takes the message and holds its answer
    first = await _start_alert_process(db_url, gateway)
    try:
        await asyncio.wait_for(gateway.received.wait(), timeout=60)
        first.send_signal(signal.SIGKILL)  # sent, but the result never reaches the database
        await first.wait()
        gateway.hang.set()
        gateway.hang = None

        second = await _start_alert_process(db_url, gateway)
        try:
            await wait_until(lambda: _status_is(db, "sent"), 60, "the delivery to be sent")
        finally:
            await stop_process(second)
    finally:
        if first.returncode is None:
            first.kill()
            await first.wait()
        await gateway.stop()

    sms = await db.fetchrow("SELECT id, idempotency_key FROM alert_deliveries")
    assert sms is not None
    keys = [body["idempotency_key"] for _, body in gateway.requests]
    assert keys == [str(sms["idempotency_key"])] * 2  # handed over twice, with one key...
    assert gateway.texts_to(PRIMARY) and len(gateway.messages) == 1  # ...one SMS on the phone
    outcomes = [a["outcome"] for a in await attempts_of_delivery(db, sms["id"])]
    assert outcomes == ["abandoned", "sent"]  # and the record shows the lost attempt


async def _status_is(db: asyncpg.Connection, status: str) -> bool:
    return bool(await db.fetchval("SELECT status = $1 FROM alert_deliveries", status))
