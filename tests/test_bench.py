"""The benchmark commands keep working (figures printed); speed itself is never asserted."""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
from pathlib import Path

import asyncpg
import pytest

from tests.services import ADMIN_URL, EXPECT_BACKEND


@pytest.mark.slow
async def test_bench_ingest_runs_every_phase_and_cleans_up(tmp_path: Path) -> None:
    out = tmp_path / "figures.json"
    result = await asyncio.to_thread(
        subprocess.run,
        [sys.executable, "-m", "eldercare", "bench", "ingest", "--messages", "2000",
         "--devices", "20", "--live-rate", "500", "--live-seconds", "2",
         "--rss-messages", "2000", "--json", str(out)],
        env={**os.environ, "ELDERCARE_DATABASE_URL": ADMIN_URL},
        capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr[-3000:]
    figures = json.loads(out.read_text())
    assert figures["end_to_end_committed_per_s"] > 0
    assert figures["copy_limit_rows_per_s"] > 0 and figures["bare_subscriber_msgs_per_s"] > 0
    assert figures["messages_stored"] == 2000
    conn = await asyncpg.connect(ADMIN_URL)
    try:
        left = await conn.fetchval(
            "SELECT count(*) FROM pg_database WHERE datname LIKE 'eldercare_bench_%'"
        )
    finally:
        await conn.close()
    assert left == 0


@pytest.mark.slow
async def test_bench_nats_measures_both_brokers_and_cleans_up(tmp_path: Path) -> None:
    out = tmp_path / "nats.json"
    result = await asyncio.to_thread(
        subprocess.run,
        [sys.executable, "-m", "eldercare", "bench", "nats", "--messages", "5000",
         "--devices", "20", "--nodes", "1", "--json", str(out)],
        env={**os.environ, "ELDERCARE_DATABASE_URL": ADMIN_URL},
        capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr[-3000:]
    figures = json.loads(out.read_text())
    assert figures["mosquitto_1_worker_committed_per_s"] > 0
    assert all(figures[f"nats_r1_{n}_workers_backlog_drain_per_s"] > 0 for n in (1, 2))
    conn = await asyncpg.connect(ADMIN_URL)
    try:
        left = await conn.fetchval(
            "SELECT count(*) FROM pg_database WHERE datname LIKE 'eldercare_bench_nats_%'"
        )
    finally:
        await conn.close()
    assert left == 0


def test_bench_detectors_prints_its_figures(tmp_path: Path) -> None:
    out = tmp_path / "detectors.json"
    result = subprocess.run(
        [sys.executable, "-m", "eldercare", "bench", "detectors", "--homes", "3", "--days", "3",
         "--sweep-homes", "1000", "--fit-homes", "20", "--json", str(out)],
        capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr[-3000:]
    figures = json.loads(out.read_text())
    assert figures["sweep_homes"] == 1000 and figures["fit_homes"] == 20


@pytest.mark.slow
async def test_bench_alerts_measures_every_alarm_and_cleans_up(tmp_path: Path) -> None:
    out = tmp_path / "alerts.json"
    result = await asyncio.to_thread(
        subprocess.run,
        [sys.executable, "-m", "eldercare", "bench", "alerts", "--homes", "6", "--alarms", "2",
         "--gap", "0.2", "0.3", "--warmup", "1", "--history-hours", "0.25", "--speed", "5",
         "--json", str(out)],
        env={**os.environ, "ELDERCARE_DATABASE_URL": ADMIN_URL, "ELDERCARE_LOG_LEVEL": "WARNING"},
        capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr[-3000:]
    figures = json.loads(out.read_text())
    assert figures["alarms_measured"] == 2 and figures["alarms_missing"] == 0
    assert figures["notifications_per_alarm"] == 5  # four SMS and the resident's call
    assert figures["commit_to_last_ms"]["max"] >= figures["commit_to_first_ms"]["max"] > 0
    conn = await asyncpg.connect(ADMIN_URL)
    try:
        left = await conn.fetchval(
            "SELECT count(*) FROM pg_database WHERE datname LIKE 'eldercare_bench_alerts_%'"
        )
    finally:
        await conn.close()
    assert left == 0


async def test_bench_api_measures_every_phase_and_cleans_up(tmp_path: Path) -> None:
    out = tmp_path / "api.json"
    result = await asyncio.to_thread(
        subprocess.run,
        [sys.executable, "-m", "eldercare", "bench", "api", "--homes", "200", "--readings",
         "20000", "--alerts", "2000", "--open-alerts", "100", "--connections", "2",
         "--saturate-connections", "4", "--seconds", "0.5", "--warmup", "0.2",
         "--json", str(out)],
        env={**os.environ, "ELDERCARE_DATABASE_URL": ADMIN_URL, "ELDERCARE_LOG_LEVEL": "WARNING"},
        capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr[-3000:]
    figures = json.loads(out.read_text())
    assert figures["homes"] == 200 and figures["readings"] == 20000
    assert figures["alerts"] == 2000 and figures["active_alerts"] == 100
    assert figures["http_errors"] == 0
    for phase in ("alerts_bearer", "alerts_cookie", "readings_48h_bearer",
                  "alerts_bearer_saturated", "alerts_cookie_saturated"):  # fmt: skip
        assert figures[f"http_{phase}"]["requests"] > 0
    assert figures["db_alert_list_ms"]["p50"] > 0
    conn = await asyncpg.connect(ADMIN_URL)
    try:
        left = await conn.fetchval(
            "SELECT count(*) FROM pg_database WHERE datname LIKE 'eldercare_bench_api_%'"
        )
    finally:
        await conn.close()
    assert left == 0


def test_bench_wire_times_the_decoder_and_fuzzes_it(tmp_path: Path) -> None:
    out = tmp_path / "wire.json"
    result = subprocess.run(
        [sys.executable, "-m", "eldercare", "bench", "wire", "--messages", "2000", "--fuzz",
         "500", "--json", str(out)],
        capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr[-3000:]
    figures = json.loads(out.read_text())
    assert figures["decode_us_per_msg"] > 0 and figures["fuzz_inputs"] == 500
    assert figures["fuzz_uncaught_errors"] == 0


async def test_bench_retention_expires_while_writing_and_cleans_up(tmp_path: Path) -> None:
    out = tmp_path / "retention.json"
    result = await asyncio.to_thread(
        subprocess.run,
        [sys.executable, "-m", "eldercare", "bench", "retention", "--readings", "20000",
         "--days", "20", "--keep-days", "10", "--json", str(out)],
        env={**os.environ, "ELDERCARE_DATABASE_URL": ADMIN_URL, "ELDERCARE_LOG_LEVEL": "WARNING"},
        capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr[-3000:]
    figures = json.loads(out.read_text())
    assert figures["backend"] == (EXPECT_BACKEND or figures["backend"])
    # Half the backlog was older than 10 days and went; what ingest wrote meanwhile stayed.
    assert abs(figures["readings_due"] - 20000 // 2) <= 1  # the one at the cutoff itself
    assert figures["readings_due_left"] == 0
    kept = figures["readings_left"] - figures["ingest_commits"] * 100
    assert kept == 20000 - figures["readings_due"]
    assert figures["ingest_commits"] > 0 and figures["export_home_readings"] > 0
    conn = await asyncpg.connect(ADMIN_URL)
    try:
        left = await conn.fetchval(
            "SELECT count(*) FROM pg_database WHERE datname LIKE 'eldercare_bench_retention_%'"
        )
    finally:
        await conn.close()
    assert left == 0
