"""Retention on a real database (PostgreSQL, and TimescaleDB with the suite pointed at
it), on an injected clock: what is past its period goes, everything else stays, the audit
log loses entries only through the retention run and says so, and the job runs by itself."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
from datetime import UTC, datetime, timedelta

import asyncpg
import pytest

from core.clock import ManualClock
from core.retention import RetentionError, RetentionPolicy
from eldercare.retention_job import retention_loop
from storage.pool import create_pool
from storage.retention import (
    RETENTION_LOCK_ID,
    RetentionReport,
    due,
    expire,
    readings_hypertable,
)
from tests.api_helpers import add_home
from tests.lifecycle_helpers import (
    add_alert,
    add_audit,
    add_dead_letter,
    add_delivery,
    add_finding,
    add_reading,
)
from tests.services import EXPECT_BACKEND

NOW = datetime(2031, 6, 1, 12, 0, tzinfo=UTC)
HOME = "home-r"


async def _count(conn: asyncpg.Connection, sql: str, *args: object) -> int:
    found: int = await conn.fetchval(f"SELECT count(*) FROM {sql}", *args)
    return found


async def _world(pool: asyncpg.Pool) -> dict[str, int]:
    """Data on both sides of every cutoff; returns the ids the test follows."""
    await add_home(pool, HOME)
    ids: dict[str, int] = {}
    async with pool.acquire() as conn:
        # Readings: a day each of the last 400 days, so there are chunks to drop whole and
        # one straddling the cutoff (396 days).
        for day in range(400):
            await add_reading(conn, HOME, "pir-r", NOW - timedelta(days=day, hours=1))
        await add_dead_letter(conn, "pir-r", NOW - timedelta(days=31))
        await add_dead_letter(conn, "pir-r", NOW - timedelta(days=29))
        ids["old_finding"] = await add_finding(conn, HOME, NOW - timedelta(days=1100))
        ids["old_untaken"] = await add_finding(conn, HOME, NOW - timedelta(days=1101), taken=False)
        ids["new_finding"] = await add_finding(conn, HOME, NOW - timedelta(days=10))
        ids["old_alert"] = await add_alert(conn, HOME, NOW - timedelta(days=1100))
        ids["old_open"] = await add_alert(conn, HOME, NOW - timedelta(days=1100), resolved=False,
                                          kind="leak_continuous_flow")  # fmt: skip
        ids["reopened"] = await add_alert(conn, HOME, NOW - timedelta(days=20),
                                          reopened_from=ids["old_alert"])  # fmt: skip
        ids["old_digest"] = await add_delivery(conn, HOME, NOW - timedelta(days=1100), None)
        # A message that went out inside the old digest, about the alert that stays.
        await conn.execute(
            "UPDATE alert_deliveries SET digest_id = $1, status = 'digested'"
            " WHERE alert_id = $2",
            ids["old_digest"], ids["reopened"],
        )  # fmt: skip
        for days in (1100, 1096, 10):
            await add_audit(conn, HOME, NOW - timedelta(days=days))
    return ids


async def test_retention_deletes_what_is_past_its_period_and_keeps_the_rest(db_url: str) -> None:
    pool = await create_pool(db_url)
    try:
        ids = await _world(pool)
        async with pool.acquire() as conn:
            hypertable = await readings_hypertable(conn)
            before = {d.kind: d.due_rows for d in await due(conn, RetentionPolicy(), NOW)}
        assert hypertable == (EXPECT_BACKEND == "timescaledb")
        assert before == {"readings": 4, "dead_letters": 1, "findings": 1, "alerts": 1,
                          "audit": 2}  # fmt: skip

        report = await expire(pool, RetentionPolicy(), NOW, batch_rows=2)

        async with pool.acquire() as conn:
            cutoff = NOW - timedelta(days=396)
            assert await _count(conn, "readings WHERE ts < $1", cutoff) == 0
            assert await _count(conn, "readings") == 396
            if hypertable:  # whole days dropped as chunks, the straddling one row by row
                assert report.chunks_dropped >= 2
            assert await _count(conn, "dead_letters") == 1
            assert await _count(conn, "dead_letter_counts") == 1
            findings = {r["id"] for r in await conn.fetch("SELECT id FROM findings")}
            assert findings == {ids["old_untaken"], ids["new_finding"]}  # untaken ones stay
            alerts = {r["id"] for r in await conn.fetch("SELECT id FROM alerts")}
            assert alerts == {ids["old_open"], ids["reopened"]}  # open ones stay, whatever age
            assert (
                await conn.fetchval(
                    "SELECT reopened_from FROM alerts WHERE id = $1", ids["reopened"]
                )
                is None
            )
            assert await _count(conn, "alert_history WHERE alert_id = $1", ids["old_alert"]) == 0
            assert await _count(conn, "alert_deliveries WHERE alert_id = $1", ids["old_alert"]) == 0
            assert await _count(conn, "alert_deliveries WHERE alert_id IS NULL") == 0
            assert await _count(conn, "alert_deliveries WHERE alert_id = $1", ids["reopened"]) == 1
            assert await _count(conn, "alert_delivery_attempts") == 2
            # The audit log: the two old reads went; the run recorded itself.
            reads = await conn.fetch("SELECT at FROM audit_log WHERE action = 'home.readings'")
            assert [r["at"] for r in reads] == [NOW - timedelta(days=10)]
            own = await conn.fetch(
                "SELECT username, action, resource, at FROM audit_log"
                " WHERE username = 'retention' ORDER BY id"
            )
            # One entry per batch that deleted any (a batch of 2, then one of none).
            assert [r["action"] for r in own] == ["retention.audit_log", "retention.run"]
            assert all(r["at"] == NOW for r in own)
            assert own[0]["resource"].startswith("deleted 2 entries from before 2028-06-")
            assert "readings=" in own[-1]["resource"] and "audit_log=2" in own[-1]["resource"]
        assert report.rows["audit_log"] == 2 and report.rows["alerts"] == 1

        again = await expire(pool, RetentionPolicy(), NOW)
        assert sum(again.rows.values()) == 0 and again.chunks_dropped == 0
    finally:
        await pool.close()


async def test_the_audit_log_and_alert_history_refuse_changes_outside_retention(
    db: asyncpg.Connection,
) -> None:
    await add_home_conn(db)
    alert_id = await add_alert(db, HOME, NOW)
    await add_audit(db, HOME, NOW - timedelta(days=4000))
    for sql in ("DELETE FROM audit_log", "TRUNCATE audit_log", "UPDATE audit_log SET at = now()",
                "DELETE FROM alert_history", "UPDATE alert_history SET actor = 'x'"):  # fmt: skip
        with pytest.raises(asyncpg.InsufficientPrivilegeError, match="append-only"):
            await db.execute(sql)
    # The sanctioned path deletes only; it never rewrites an entry.
    async with db.transaction():
        await db.execute("SET LOCAL eldercare.lifecycle = 'retention'")
        with pytest.raises(asyncpg.InsufficientPrivilegeError):
            await db.execute("UPDATE audit_log SET username = 'someone else'")
    # And a setting left over outside the transaction allows nothing.
    with pytest.raises(asyncpg.InsufficientPrivilegeError):
        await db.execute("DELETE FROM alert_history WHERE alert_id = $1", alert_id)
    assert await _count(db, "audit_log") == 1


async def add_home_conn(conn: asyncpg.Connection) -> None:
    await conn.execute(
        "INSERT INTO homes (id, street, timezone) VALUES ($1, 'east', 'Asia/Shanghai')", HOME
    )


async def test_one_process_runs_retention_at_a_time(db_url: str) -> None:
    pool = await create_pool(db_url)
    try:
        await add_home(pool, HOME)
        async with pool.acquire() as conn:
            await add_dead_letter(conn, "pir-r", NOW - timedelta(days=40))
        async with pool.acquire() as other:  # another process, mid-run
            await other.execute("SELECT pg_advisory_lock($1)", RETENTION_LOCK_ID)
            try:
                report = await expire(pool, RetentionPolicy(), NOW)
            finally:
                await other.execute("SELECT pg_advisory_unlock($1)", RETENTION_LOCK_ID)
        assert report.skipped and report.summary().startswith("nothing: another process")
        async with pool.acquire() as conn:
            assert await _count(conn, "dead_letters") == 1
        report = await expire(pool, RetentionPolicy(), NOW)
        assert not report.skipped and report.rows["dead_letters"] == 1
    finally:
        await pool.close()


def test_a_policy_keeps_the_audit_log_a_year_at_least() -> None:
    with pytest.raises(RetentionError, match="audit: keep at least 365 days"):
        RetentionPolicy(audit_days=30)
    with pytest.raises(RetentionError, match="readings: keep at least 1 day"):
        RetentionPolicy(readings_days=0)
    assert RetentionPolicy().cutoff("readings", NOW) == NOW - timedelta(days=396)


async def test_the_scheduled_job_runs_again_each_interval_on_its_clock(db_url: str) -> None:
    pool = await create_pool(db_url, max_size=2)
    clock = ManualClock(NOW)
    runs: list[RetentionReport] = []
    ran = asyncio.Event()

    def on_run(report: RetentionReport) -> None:
        runs.append(report)
        ran.set()

    try:
        await add_home(pool, HOME)
        async with pool.acquire() as conn:
            await add_dead_letter(conn, "pir-r", NOW - timedelta(days=20))
        job = asyncio.create_task(
            retention_loop(pool, RetentionPolicy(), clock, 0.05, on_run), name="retention"
        )
        try:
            await asyncio.wait_for(ran.wait(), 30)
            assert runs[0].rows["dead_letters"] == 0  # 20 days old: not yet
            clock.advance(timedelta(days=11))
            ran.clear()
            while not runs[-1].rows["dead_letters"]:
                await asyncio.wait_for(ran.wait(), 30)
                ran.clear()
            assert runs[-1].rows["dead_letters"] == 1
        finally:
            job.cancel()
            with pytest.raises(asyncio.CancelledError):
                await job
        async with pool.acquire() as conn:
            assert await _count(conn, "dead_letters") == 0
            assert await _count(conn, "audit_log WHERE action = 'retention.run'") == len(runs)
    finally:
        await pool.close()


async def test_retention_show_and_run_on_the_command_line(db_url: str) -> None:
    pool = await create_pool(db_url)
    try:
        await add_home(pool, HOME)
        async with pool.acquire() as conn:
            now = datetime.now(UTC)
            await add_dead_letter(conn, "pir-r", now - timedelta(days=40))
            await add_reading(conn, HOME, "pir-r", now - timedelta(days=2))
    finally:
        await pool.close()
    env = {**os.environ, "ELDERCARE_DATABASE_URL": db_url,
           "ELDERCARE_RETENTION_DEAD_LETTERS_DAYS": "35"}  # fmt: skip

    def eldercare(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run([sys.executable, "-m", "eldercare", *args], env=env,
                              capture_output=True, text=True, timeout=120)  # fmt: skip

    shown = await asyncio.to_thread(eldercare, "retention", "show")
    assert shown.returncode == 0, shown.stderr
    lines = {line.split("\t")[0]: line.split("\t") for line in shown.stdout.splitlines()}
    assert lines["dead_letters"][1:2] == ["35"] and lines["dead_letters"][4] == "1"
    assert lines["readings"][1] == "396" and lines["readings"][4] == "0"
    ran = await asyncio.to_thread(eldercare, "retention", "run")
    assert ran.returncode == 0, ran.stderr
    assert "dead_letters=1" in ran.stdout and "readings=0" in ran.stdout
    shown = await asyncio.to_thread(eldercare, "retention", "show")
    assert "\t0\t" in next(line for line in shown.stdout.splitlines() if line.startswith("dead"))
    env["ELDERCARE_RETENTION_AUDIT_DAYS"] = "30"
    refused = await asyncio.to_thread(eldercare, "retention", "show")
    assert refused.returncode == 2
    assert "ELDERCARE_RETENTION_*: audit: keep at least 365 days" in refused.stderr
