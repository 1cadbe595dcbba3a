"""The load generator: its command line, and real runs through Mosquitto into ingest."""

from __future__ import annotations

import asyncpg
import pytest

from core.readings import DeviceType
from core.registry import RegistryRow
from eldercare.cli import main
from simulators.load import LoadPlan, meter_device_ids, run_load
from storage.registry import import_registry
from tests.ingest_helpers import running_ingest, wait_until
from tests.services import SIMULATOR_USER, Mosquitto


def _run(argv: list[str]) -> int:
    try:
        return main(argv)
    except SystemExit as exc:  # argparse exits on bad arguments
        return int(exc.code or 0)


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        ([], "--load mode needs --messages"),
        (["--messages", "0"], "--messages: must be a positive integer"),
        (["--messages", "10", "--rate", "-5"], "--rate: must be a finite number >= 0"),
        (["--messages", "10", "--rate", "nan"], "--rate: must be a finite number >= 0"),
        (["--messages", "10", "--rate", "0.5"], "rate must be 0 (flat out) or at least 1"),
        (["--messages", "10", "--processes", "0"], "--processes: must be a positive integer"),
        (["--messages", "10", "--processes", "65"], "--processes: must be a positive integer"),
        (["--messages", "10", "--processes", "4", "--devices", "2"],
         "devices must be from the number of processes (4)"),
        (["--messages", "10", "--prefix", "bad prefix"], "prefix must be 1-58 characters"),
        (["--messages", "10", "--homes", "3"], "--homes cannot be used in --load mode"),
        (["--messages", "10", "--live"], "argument --live: not allowed with argument --load"),
    ],
)  # fmt: skip
def test_load_mode_bad_arguments_exit_2_with_a_clear_message(
    argv: list[str], message: str, monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:  # fmt: skip
    monkeypatch.setenv("ELDERCARE_MQTT_URL", "mqtt://user:pw@127.0.0.1:1")
    assert _run(["simulate", "--load", *argv]) == 2
    assert message in capsys.readouterr().err


def test_load_mode_needs_a_plain_mqtt_broker(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.delenv("ELDERCARE_SIMULATOR_MQTT_URL", raising=False)
    monkeypatch.delenv("ELDERCARE_MQTT_URL", raising=False)
    assert _run(["simulate", "--load", "--messages", "10"]) == 2
    assert "--load needs a broker: set ELDERCARE_SIMULATOR_MQTT_URL" in capsys.readouterr().err
    monkeypatch.setenv("ELDERCARE_MQTT_URL", "mqtts://user:pw@127.0.0.1:1")
    assert _run(["simulate", "--load", "--messages", "10"]) == 2
    assert "plain MQTT" in capsys.readouterr().err


def test_load_plan_splits_devices_and_messages_over_processes() -> None:
    plan = LoadPlan(rate_per_s=0, messages=10, processes=3, devices=8, prefix="p")
    assert plan.shares() == [(0, 3, 4), (3, 3, 3), (6, 2, 3)]


async def test_load_processes_publish_everything_into_ingest(
    db: asyncpg.Connection, db_url: str, mosquitto: Mosquitto
) -> None:
    devices = meter_device_ids("ld", 20)
    await import_registry(
        db, [RegistryRow(d, d, DeviceType.WATER_METER, None, "Asia/Shanghai") for d in devices]
    )
    plan = LoadPlan(rate_per_s=0, messages=5000, processes=2, devices=20, prefix="ld")
    async with running_ingest(db_url, mosquitto.target()):
        summary = await run_load(plan, mosquitto.target(SIMULATOR_USER), "test-load")

        async def all_stored() -> bool:
            return await db.fetchval("SELECT count(*) FROM readings") == 5000

        await wait_until(all_stored, what="5000 load readings stored")
    assert summary.published == 5000 and summary.rate_per_s > 0
    assert [p.published for p in summary.processes] == [2500, 2500]
    assert await db.fetchval("SELECT count(DISTINCT device_id) FROM readings") == 20
    assert await db.fetchval("SELECT count(*) FROM dead_letters") == 0


async def test_fixed_rate_load_keeps_to_its_rate(mosquitto: Mosquitto) -> None:
    plan = LoadPlan(rate_per_s=2000, messages=2000, processes=2, devices=10, prefix="fr")
    summary = await run_load(plan, mosquitto.target(SIMULATOR_USER), "test-rate")
    assert summary.published == 2000
    # 2000 messages at 2000/s take a second, give or take a tick and the last acks.
    assert 0.9 <= summary.seconds <= 1.5
