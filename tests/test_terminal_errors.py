"""What an operator sees when a setting is wrong: one line saying what to do, a non-zero
exit, no traceback."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from pathlib import Path

import pytest

from storage.pool import with_database
from tests.services import ADMIN_URL, Mosquitto, unique_name

TIMEOUT_S = 60


def eldercare(args: list[str], tmp_path: Path, **env: str) -> subprocess.CompletedProcess[str]:
    """Run the command line as an operator would."""
    environment = {**os.environ, "ELDERCARE_DATA_DIR": str(tmp_path / "data"), **env}
    return subprocess.run(
        [sys.executable, "-m", "eldercare", *args],
        env=environment,
        capture_output=True,
        text=True,
        timeout=TIMEOUT_S,
        stdin=subprocess.DEVNULL,
    )


def _one_clear_line(result: subprocess.CompletedProcess[str], *words: str) -> str:
    assert result.returncode == 1, result.stderr
    assert "Traceback" not in result.stderr, result.stderr
    lines = [line for line in result.stderr.splitlines() if line.startswith("eldercare: ")]
    assert len(lines) == 1, result.stderr
    for word in words:
        assert word in lines[0], lines[0]
    return lines[0]


def test_a_database_that_does_not_exist_is_one_line_naming_it(tmp_path: Path) -> None:
    missing = unique_name("no_such_db")
    url = with_database(ADMIN_URL, missing)
    for command in (["db", "migrate"], ["run"]):
        result = eldercare(command, tmp_path, ELDERCARE_DATABASE_URL=url, ELDERCARE_API_PORT="0",
                           ELDERCARE_MQTT_URL="mqtt://127.0.0.1:1")  # fmt: skip
        _one_clear_line(result, repr(missing), "ELDERCARE_DATABASE_URL")


def test_a_refused_login_is_one_line_naming_the_role(tmp_path: Path) -> None:
    role = unique_name("nobody")
    url = ADMIN_URL.replace("postgresql://postgres@", f"postgresql://{role}@", 1)
    assert role in url, "the suite's database URL is not postgresql://postgres@host..."
    result = eldercare(["run"], tmp_path, ELDERCARE_DATABASE_URL=url, ELDERCARE_API_PORT="0",
                       ELDERCARE_MQTT_URL="mqtt://127.0.0.1:1")  # fmt: skip
    line = _one_clear_line(result, role, "ELDERCARE_DATABASE_URL")
    assert "login" in line


def test_a_database_url_with_a_bad_port_is_a_bad_setting(tmp_path: Path) -> None:
    bad = "postgresql://postgres@127.0.0.1:54x2/db"
    result = eldercare(["db", "migrate"], tmp_path, ELDERCARE_DATABASE_URL=bad)
    assert result.returncode == 2 and "Traceback" not in result.stderr, result.stderr
    assert "ELDERCARE_DATABASE_URL" in result.stderr


@pytest.mark.parametrize("command", [["run"], ["demo", "--homes", "1", "--backfill-days", "1"]])
def test_a_busy_api_port_is_one_line_naming_the_port_and_the_setting(
    command: list[str], db_url: str, mosquitto: Mosquitto, tmp_path: Path
) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        result = eldercare(command, tmp_path, ELDERCARE_DATABASE_URL=db_url,
                           ELDERCARE_MQTT_URL=mosquitto.url(),
                           ELDERCARE_API_PORT=str(port))  # fmt: skip
    _one_clear_line(result, f"port {port}", "ELDERCARE_API_PORT")
    assert result.stdout == "", "nothing is printed before the error (no data summary)"
