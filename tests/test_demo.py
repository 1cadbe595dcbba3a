"""The README's first command: `eldercare demo` with nothing configured (embedded services)."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest


@pytest.mark.slow
def test_demo_runs_on_embedded_services_stores_readings_and_stops_cleanly(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("ELDERCARE_")}
    env["ELDERCARE_DATA_DIR"] = str(tmp_path / "data")
    result = subprocess.run(
        [sys.executable, "-m", "eldercare", "demo", "--homes", "2", "--duration", "12"],
        env=env, capture_output=True, text=True, timeout=240,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr[-3000:]
    assert "embedded_postgres_started" in result.stderr
    assert "embedded_broker_started" in result.stderr
    stored = [int(n.replace(",", "")) for n in re.findall(r": ([\d,]+) readings", result.stdout)]
    assert len(stored) == 2 and all(n > 0 for n in stored), result.stdout
    assert "embedded_postgres_stopped" in result.stderr
    # The data directory persists for the next run to resume.
    assert (tmp_path / "data" / "postgres" / "PG_VERSION").exists()
