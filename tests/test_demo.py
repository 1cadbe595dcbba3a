"""The README's first command: `eldercare demo` with nothing configured (embedded services)."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import urllib.request
from pathlib import Path

import pytest

from eldercare.demo import DEMO_PASSWORD


def _post_json(url: str, body: dict[str, str]) -> int:
    request = urllib.request.Request(
        url, json.dumps(body).encode(), {"Content-Type": "application/json"}
    )
    with urllib.request.urlopen(request, timeout=10) as response:
        return int(response.status)


@pytest.mark.slow
def test_demo_serves_the_console_raises_each_scheduled_alert_stops_and_resumes(
    tmp_path: Path,
) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("ELDERCARE_")}
    env["ELDERCARE_DATA_DIR"] = str(tmp_path / "data")
    env["ELDERCARE_API_PORT"] = "0"  # any free port; the demo prints the one it got
    demo = subprocess.Popen(
        [sys.executable, "-m", "eldercare", "demo", "--homes", "3", "--backfill-days", "2",
         "--speed", "120", "--duration", "100"],
        env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    try:
        assert demo.stdout is not None
        lines: list[str] = []
        console = None
        for line in demo.stdout:
            lines.append(line)
            if line.startswith("console: "):
                console = line.removeprefix("console: ").strip()
                break
        if console is None:  # the demo ended before serving: say why
            demo.wait(timeout=30)
            err_text = demo.stderr.read() if demo.stderr else ""
            printed = "".join(lines)[-2000:]
            raise AssertionError(
                f"demo exited {demo.returncode} before serving the console:\n"
                f"{printed}{err_text[-3000:]}"
            )
        # The console answers at once, before the history is written.
        with urllib.request.urlopen(console, timeout=10) as page:
            assert page.status == 200 and "<html" in page.read().decode().lower()
        assert _post_json(console + "api/v1/auth/login",
                          {"username": "advisor.li", "password": DEMO_PASSWORD}) == 200  # fmt: skip
        out, err = demo.communicate(timeout=240)
    finally:
        demo.kill()
        demo.wait()
        for pipe in (demo.stdout, demo.stderr):  # an open one warns in a later test
            if pipe is not None:
                pipe.close()
    out = "".join(lines) + out
    assert demo.returncode == 0, err[-3000:]
    assert "embedded_postgres_started" in err and "embedded_broker_started" in err
    stored = [int(n.replace(",", "")) for n in re.findall(r": ([\d,]+) readings \(", out)]
    assert len(stored) == 3 and all(n > 0 for n in stored), out
    assert re.search(r"\| open alerts \d+", out), out
    # Each scheduled incident became an alert: smoke, the tap left on, the fall.
    raised = set(re.findall(r"^  #\d+ .* \w+ (\w+)/\w+ \[", out, re.MULTILINE))
    assert {"smoke", "leak", "inactivity"} <= raised, out
    assert "embedded_postgres_stopped" in err

    # The next run resumes the same homes from where the first one stopped.
    again = subprocess.run(
        [sys.executable, "-m", "eldercare", "demo", "--homes", "3", "--backfill-days", "2",
         "--speed", "120", "--duration", "15"],
        env=env, capture_output=True, text=True, timeout=240,
    )  # fmt: skip
    assert again.returncode == 0, again.stderr[-3000:]
    assert "resuming the simulation from" in again.stdout, again.stdout
    later = [int(n.replace(",", "")) for n in re.findall(r": ([\d,]+) readings \(", again.stdout)]
    assert len(later) == 3 and sum(later) > sum(stored), (stored, later)
