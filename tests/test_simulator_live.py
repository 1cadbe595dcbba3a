"""Live mode through a real Mosquitto into the real ingest and PostgreSQL."""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import asyncpg
import pytest

from core.clock import CatchUpClock, ManualClock
from eldercare.broker_admin import Credential, DynsecAdmin
from eldercare.cli import main
from eldercare.mosquitto import ADMIN_USER
from simulators.live import LiveOptions, LivePublisher, device_of
from simulators.record import simulate_homes
from storage.registry import import_registry
from tests.ingest_helpers import running_ingest, wait_until
from tests.services import SIMULATOR_USER, Mosquitto, free_port, make_mosquitto

TIMEZONE = "Asia/Shanghai"


def _local_day_before(moment: datetime) -> date:
    """The homes' calendar day before `moment`: a simulation starting then covers it.

    The homes' day, not UTC's: from 16:00 UTC Shanghai is already on the next date.
    """
    return moment.astimezone(ZoneInfo(TIMEZONE)).date() - timedelta(days=1)


def _key(topic: str, payload: bytes) -> tuple[str, datetime, int]:
    fields = json.loads(payload)
    ts = datetime.fromisoformat(fields["ts"]).astimezone(UTC)
    return device_of(topic), ts, fields["seq"]


async def test_what_live_mode_published_is_what_ingest_stored(
    db: asyncpg.Connection, db_url: str, mosquitto: Mosquitto
) -> None:
    # Six simulated hours in about a second, then real time: a short accelerated run.
    origin = datetime.now(UTC) - timedelta(hours=6)
    clock = CatchUpClock(origin, factor=6 * 3600)
    start = _local_day_before(origin)
    simulation = simulate_homes(2, days=3, seed=11, start=start, timezone=TIMEZONE)
    await import_registry(db, simulation.registry())
    published: set[tuple[str, datetime, int]] = set()
    options = LiveOptions(publish_interval_s=0.05, duration_s=1.5)
    async with running_ingest(db_url, mosquitto.target()):
        target = mosquitto.target(SIMULATOR_USER)
        live = LivePublisher(simulation, target, clock, origin, options,
                             on_published=lambda t, p: published.add(_key(t, p)))  # fmt: skip
        stats = await live.run()
        assert stats.published == len(published) > 20
        assert stats.simulated_until is not None and stats.simulated_until > origin

        async def all_stored() -> bool:
            return await db.fetchval("SELECT count(*) FROM readings") >= len(published)

        await wait_until(all_stored, what="every published message stored")
    rows = await db.fetch("SELECT device_id, ts, seq FROM readings")
    assert {(r["device_id"], r["ts"], r["seq"]) for r in rows} == published
    assert await db.fetchval("SELECT count(*) FROM dead_letters") == 0
    assert all(origin <= ts <= datetime.now(UTC) for _, ts, _ in published)


async def test_shared_connections_reconnect_after_a_broker_restart(
    db: asyncpg.Connection, db_url: str, mosquitto: Mosquitto
) -> None:
    origin = datetime.now(UTC) - timedelta(hours=4)
    clock = CatchUpClock(origin, factor=3 * 3600)  # catches up in about 1.3 s
    simulation = simulate_homes(2, days=3, seed=12, start=_local_day_before(origin),
                                timezone=TIMEZONE)  # fmt: skip
    await import_registry(db, simulation.registry())
    published: set[tuple[str, datetime, int]] = set()
    options = LiveOptions(connections=2, publish_interval_s=0.05, duration_s=3.0)
    live = LivePublisher(simulation, mosquitto.target(SIMULATOR_USER), clock, origin, options,
                         on_published=lambda t, p: published.add(_key(t, p)))  # fmt: skip
    async with running_ingest(db_url, mosquitto.target()):
        task = asyncio.create_task(live.run(), name="test-live")

        async def some_stored() -> bool:
            return await db.fetchval("SELECT count(*) FROM readings") > 0

        await wait_until(some_stored, what="the first readings stored")
        await asyncio.to_thread(mosquitto.stop)  # persistent sessions survive for ingest
        await asyncio.to_thread(mosquitto.start)
        stats = await asyncio.wait_for(task, 60)

        async def all_stored() -> bool:
            return await db.fetchval("SELECT count(*) FROM readings") >= len(published)

        await wait_until(all_stored, what="every published message stored")
    assert stats.connects > 2  # both links came back
    rows = await db.fetch("SELECT device_id, ts, seq FROM readings")
    assert {(r["device_id"], r["ts"], r["seq"]) for r in rows} == published


def test_live_mode_without_a_reachable_broker_exits_1(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("ELDERCARE_SIMULATOR_MQTT_URL", f"mqtt://u:p@127.0.0.1:{free_port()}")
    argv = ["simulate", "--live", "--homes", "1", "--seed", "1", "--duration", "1"]
    assert _run(argv) == 1
    assert "ConnectionRefusedError" in capsys.readouterr().err


@pytest.fixture
def device_broker(tmp_path: Path) -> Iterator[tuple[Mosquitto, list[str]]]:
    """A broker where each device of one simulated home has its own login."""
    broker = make_mosquitto(tmp_path / "mosquitto")
    devices = [row.device_id for row in simulate_homes(1, 1, seed=5).registry()]
    broker.start()
    with DynsecAdmin(broker.target(ADMIN_USER)) as admin:
        admin.create_devices([Credential(d, f"pw-{d}") for d in devices])
    yield broker, devices
    broker.stop()


async def test_per_device_clients_last_will_marks_the_device_offline(
    db: asyncpg.Connection, db_url: str, device_broker: tuple[Mosquitto, list[str]]
) -> None:
    broker, devices = device_broker
    # A clock that stands still: no simulated status can come after the connect's.
    clock = ManualClock(datetime.now(UTC) - timedelta(minutes=30))
    start = _local_day_before(clock.now())
    simulation = simulate_homes(1, days=2, seed=5, start=start, timezone=TIMEZONE)
    assert [row.device_id for row in simulation.registry()] == devices
    await import_registry(db, simulation.registry())
    # The device logins can write only their own topics (the dynamic security roles).
    options = LiveOptions(per_device_clients=True, password_template="pw-{device_id}")
    target = broker.target(("unused", "unused"))
    live = LivePublisher(simulation, target, clock, clock.now() - timedelta(minutes=1), options)

    async def online(device_id: str) -> bool | None:
        sql = "SELECT online FROM device_state WHERE device_id = $1"
        return await db.fetchval(sql, device_id)  # type: ignore[no-any-return]

    async with running_ingest(db_url, broker.target()):
        task = asyncio.create_task(live.run(), name="test-live")
        try:

            async def all_online() -> bool:
                return all([await online(d) for d in devices])

            await wait_until(all_online, what="every device's online status stored")
            victim = devices[-1]
            live.drop_connection(victim)

            async def victim_offline() -> bool:
                return await online(victim) is False

            await wait_until(victim_offline, what="the last will stored")
            assert all([await online(d) for d in devices[:-1]])
        finally:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
    wills = await db.fetch(
        "SELECT ts, seq FROM readings WHERE device_id = $1 AND online = false", victim
    )
    connects = await db.fetch(
        "SELECT ts, seq FROM readings WHERE device_id = $1 AND online = true", victim
    )
    assert len(wills) == 1 and len(connects) == 1
    # The will was fixed at connect: same time, the next sequence number.
    assert wills[0]["ts"] == connects[0]["ts"] and wills[0]["seq"] == connects[0]["seq"] + 1


def _run(argv: list[str]) -> int:
    try:
        return main(argv)
    except SystemExit as exc:
        return int(exc.code or 0)


@pytest.mark.parametrize(
    ("argv", "env", "message"),
    [
        (["--homes", "2", "--seed", "1"], {}, "--live needs a broker: set"),
        (["--homes", "2"], {"ELDERCARE_MQTT_URL": "mqtt://h"}, "--live mode needs --seed"),
        (["--homes", "1", "--seed", "1", "--out", "x"], {}, "--out cannot be used in --live"),
        (["--homes", "1", "--seed", "1", "--rate", "5"], {}, "--rate cannot be used in --live"),
        (["--homes", "1", "--seed", "1", "--speed", "0.5"], {}, "--speed: must be a finite"),
        (["--homes", "1", "--seed", "1", "--duration", "0"], {}, "--duration: must be a finite"),
        (["--homes", "1", "--seed", "1", "--register"], {"ELDERCARE_MQTT_URL": "mqtt://h"},
         "--register needs ELDERCARE_DATABASE_URL"),
    ],
)  # fmt: skip
def test_live_mode_bad_arguments_exit_2_with_a_clear_message(
    argv: list[str], env: dict[str, str], message: str,
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str],
) -> None:  # fmt: skip
    for name in ("ELDERCARE_MQTT_URL", "ELDERCARE_SIMULATOR_MQTT_URL", "ELDERCARE_DATABASE_URL"):
        monkeypatch.delenv(name, raising=False)
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    assert _run(["simulate", "--live", *argv]) == 2
    assert message in capsys.readouterr().err
