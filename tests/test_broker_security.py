"""What a device login may do on the shipped broker (deploy/mosquitto, dynamic security):
publish its own topics and nothing else. It cannot join ingest's `$share` group, take
ingest's client id, or write another device's topic; its credentials are issued, rotated
and revoked through `eldercare devices credentials`; an ingest login whose subscription is
refused is not ready instead of silently receiving nothing."""

from __future__ import annotations

import asyncio
import logging
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import aiohttp
import asyncpg
import pytest

from core.readings import DeviceType
from eldercare.broker_admin import INGEST_ACLS, DynsecAdmin
from eldercare.cli import main
from eldercare.mosquitto import ADMIN_USER
from tests.ingest_helpers import publisher, register_home, running_ingest, ts, wait_until
from tests.mqtt_device import device
from tests.processes import stop_process
from tests.services import Mosquitto, free_port, unique_name

# A login that may use its heartbeat topic but not read the devices' topics.
HEARTBEATS_ONLY = [("subscribePattern", "eldercare/v1/ingest/+/heartbeat"),
                   ("publishClientSend", "eldercare/v1/ingest/+/heartbeat")]  # fmt: skip


def _payload(seq: int) -> bytes:
    return b'{"ts":"%s","seq":%d,"motion":true}' % (ts().encode(), seq)


def _issue(broker: Mosquitto, *device_ids: str) -> dict[str, str]:
    with DynsecAdmin(broker.target(ADMIN_USER)) as admin:
        return {c.device_id: c.password for c in admin.issue(device_ids)}


async def _count(db: asyncpg.Connection, device_id: str) -> int:
    n: int = await db.fetchval("SELECT count(*) FROM readings WHERE device_id = $1", device_id)
    return n


async def _stream(broker: Mosquitto, device_id: str, n: int) -> None:
    topic = f"eldercare/v1/devices/{device_id}/telemetry"
    async with publisher(broker) as pub:
        await pub.publish_all_async(
            (topic, {"ts": ts(), "seq": i, "motion": True}) for i in range(1, n + 1)
        )


async def test_a_device_cannot_join_ingests_share_group_and_nothing_is_lost(
    db: asyncpg.Connection, db_url: str, mosquitto: Mosquitto
) -> None:
    hostile, victim = unique_name("dev"), unique_name("dev")
    await register_home(db, unique_name("home"), {victim: (DeviceType.PIR, "hall")})
    password = _issue(mosquitto, hostile)[hostile]
    async with running_ingest(db_url, mosquitto.target()) as ingest:
        group = ingest.config.share_group
        with device(mosquitto, hostile, password, hostile) as d:
            assert not d.refused
            for topic_filter in (f"$share/{group}/eldercare/v1/devices/+/+",
                                 "eldercare/v1/devices/#", "#"):  # fmt: skip
                (code,) = await asyncio.to_thread(d.subscribe, topic_filter)
                assert code.is_failure, f"{topic_filter}: {code}"
            await _stream(mosquitto, victim, 200)

            async def all_stored() -> bool:
                return await _count(db, victim) == 200

            await wait_until(all_stored, what="all 200 readings stored")
            assert d.received == []


async def test_a_device_cannot_take_ingests_client_id(
    db: asyncpg.Connection, db_url: str, mosquitto: Mosquitto
) -> None:
    hostile, victim = unique_name("dev"), unique_name("dev")
    await register_home(db, unique_name("home"), {victim: (DeviceType.PIR, "hall")})
    password = _issue(mosquitto, hostile)[hostile]
    async with running_ingest(db_url, mosquitto.target()) as ingest:
        for _ in range(5):
            with device(mosquitto, hostile, password, ingest.config.client_id) as d:
                assert d.refused, "a device connected under ingest's client id"
        assert ingest.subscribed
        await _stream(mosquitto, victim, 300)

        async def all_stored() -> bool:
            return await _count(db, victim) == 300

        await wait_until(all_stored, what="all 300 readings stored")
        assert ingest.subscribed


async def test_credentials_are_issued_rotated_and_revoked_from_the_command_line(
    db: asyncpg.Connection,
    db_url: str,
    mosquitto: Mosquitto,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    mine, other = unique_name("dev"), unique_name("dev")
    await register_home(db, unique_name("home"), {mine: (DeviceType.PIR, "hall"),
                                                  other: (DeviceType.PIR, "bed")})  # fmt: skip
    monkeypatch.setenv("ELDERCARE_BROKER_ADMIN_URL", mosquitto.url(ADMIN_USER))

    err = ""

    async def cli(*argv: str) -> tuple[int, str]:
        nonlocal err
        code = await asyncio.to_thread(main, ["devices", "credentials", *argv])
        out, err = capsys.readouterr()
        return code, out

    code, out = await cli("issue", mine)
    assert code == 0
    header, row = out.strip().splitlines()
    assert header == "device_id,password"
    device_id, first = row.split(",")
    assert device_id == mine and len(first) >= 24

    async with running_ingest(db_url, mosquitto.target()):
        with device(mosquitto, mine, first, mine) as d:
            assert not d.refused
            ok = await asyncio.to_thread(d.publish, f"eldercare/v1/devices/{mine}/telemetry",
                                         _payload(1))  # fmt: skip
            spoofed = await asyncio.to_thread(
                d.publish, f"eldercare/v1/devices/{other}/telemetry", _payload(1)
            )
            assert not ok.is_failure and spoofed.is_failure  # 0x87: not authorized

        async def mine_stored() -> bool:
            return await _count(db, mine) == 1

        await wait_until(mine_stored, what="the device's own reading stored")
        # The spoofed reading went nowhere; and another client id is refused too.
        assert await _count(db, other) == 0
        with device(mosquitto, mine, first, unique_name("not-mine")) as d:
            assert d.refused

    code, out = await cli("rotate", mine)
    assert code == 0
    second = out.strip().splitlines()[1].split(",")[1]
    assert second != first
    with device(mosquitto, mine, first, mine) as d:
        assert d.refused, "the old password still works"
    with device(mosquitto, mine, second, mine) as d:
        assert not d.refused

    code, out = await cli("revoke", mine)
    assert code == 0 and "revoked 1" in out
    with device(mosquitto, mine, second, mine) as d:
        assert d.refused, "a revoked login still works"

    # Bad input: one clear line, nothing done.
    code, _ = await cli("issue", "bad/id")
    assert code == 2 and "device id must match" in err
    code, _ = await cli("rotate", unique_name("nobody"))
    assert code == 1 and "Client not found" in err


async def test_credentials_for_many_devices_in_one_pass(
    mosquitto: Mosquitto,
    tmp_path: Any,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    # (Mosquitto 2.0.11's plugin rewrites its whole file per change: quadratic, so a few
    # hundred here; README "Provisioning devices" has the figures.)
    ids = [f"bulk-{i:05d}" for i in range(500)]
    registry = tmp_path / "devices.csv"
    registry.write_text("home_id,device_id,type,room\n" + "".join(
        f"h{i // 10},{d},pir,hall\n" for i, d in enumerate(ids)))  # fmt: skip
    monkeypatch.setenv("ELDERCARE_BROKER_ADMIN_URL", mosquitto.url(ADMIN_USER))
    code = await asyncio.to_thread(
        main, ["devices", "credentials", "issue", "--csv", str(registry)]
    )
    rows = [line.split(",") for line in capsys.readouterr().out.strip().splitlines()[1:]]
    assert code == 0 and [r[0] for r in rows] == ids
    assert len({r[1] for r in rows}) == len(ids)  # each its own secret
    for device_id, password in (rows[0], rows[-1]):
        with device(mosquitto, device_id, password, device_id) as d:
            assert not d.refused


async def test_an_ingest_whose_subscription_is_refused_is_not_ready(
    db_url: str, mosquitto: Mosquitto, caplog: pytest.LogCaptureFixture
) -> None:
    narrow = ("narrow-ingest", "narrow-secret")
    with DynsecAdmin(mosquitto.target(ADMIN_USER)) as admin:
        # May read its heartbeats, but not the devices' topics.
        admin.ensure_role("narrow", HEARTBEATS_ONLY)
        admin.ensure_client(*narrow, ["narrow"])
    caplog.set_level(logging.ERROR, "eldercare.ingest.mqtt")
    with pytest.raises(TimeoutError):
        async with running_ingest(db_url, mosquitto.target(narrow), ready_timeout_s=3):
            pass
    lines = [r.getMessage() for r in caplog.records if "subscription_refused" in r.getMessage()]
    assert len(lines) == 1, lines
    assert "eldercare/v1/devices/" in lines[0] and "eldercare broker init" in lines[0]


async def test_eldercare_run_is_not_ready_while_its_subscription_is_refused(
    db_url: str, mosquitto: Mosquitto, tmp_path: Path
) -> None:
    login = ("late-ingest", "late-secret")
    with DynsecAdmin(mosquitto.target(ADMIN_USER)) as admin:
        admin.ensure_role("late", HEARTBEATS_ONLY)
        admin.ensure_client(*login, ["late"])
    port = free_port()
    env = {**os.environ, "ELDERCARE_DATABASE_URL": db_url,
           "ELDERCARE_MQTT_URL": mosquitto.url(login), "ELDERCARE_API_PORT": str(port),
           "ELDERCARE_DATA_DIR": str(tmp_path / "data"),
           "ELDERCARE_INGEST_CLIENT_ID": unique_name("ingest"),
           "ELDERCARE_LOG_LEVEL": "INFO"}  # fmt: skip
    log_path = tmp_path / "run.log"
    with log_path.open("ab") as log:
        process = subprocess.Popen(  # noqa: ASYNC220 (started once, not awaited)
            [sys.executable, "-m", "eldercare", "run"], env=env, stdout=log, stderr=log
        )
    readyz = f"http://127.0.0.1:{port}/readyz"
    try:
        async with aiohttp.ClientSession() as session:

            async def status() -> tuple[int, Any] | None:
                try:
                    async with session.get(readyz) as response:
                        return response.status, await response.json()
                except aiohttp.ClientError:
                    return None

            async def refused_and_saying_so() -> bool:
                answer = await status()
                return (answer is not None and answer[0] == 503
                        and "subscription_refused" in log_path.read_text())  # fmt: skip

            await wait_until(refused_and_saying_so, timeout_s=60, what="/readyz 503 and a log line")
            answer = await status()
            assert answer is not None and answer[1]["broker"] is False
            # The operator lets the login read the devices' topics: ready on the next try.
            with DynsecAdmin(mosquitto.target(ADMIN_USER)) as admin:
                admin.ensure_role("late", INGEST_ACLS)

            async def ready() -> bool:
                answer = await status()
                return answer is not None and answer[0] == 200

            await wait_until(ready, timeout_s=90, what="/readyz 200 once allowed")
    finally:
        await stop_process(process)
    text = log_path.read_text()
    assert text.count("subscription_refused") == 1, text


async def test_broker_init_makes_a_working_ingest_login_and_can_run_again(
    db_url: str,
    mosquitto: Mosquitto,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    login = ("ingest-b", "b-secret")
    monkeypatch.setenv("ELDERCARE_MQTT_URL", mosquitto.url(login))
    monkeypatch.delenv("ELDERCARE_BROKER_ADMIN_URL", raising=False)
    assert await asyncio.to_thread(main, ["broker", "init"]) == 1
    assert "set ELDERCARE_BROKER_ADMIN_URL" in capsys.readouterr().err
    monkeypatch.setenv("ELDERCARE_BROKER_ADMIN_URL", mosquitto.url(ADMIN_USER))
    for _ in range(2):  # idempotent
        assert await asyncio.to_thread(main, ["broker", "init"]) == 0
        assert "ingest login 'ingest-b'" in capsys.readouterr().out
    async with running_ingest(db_url, mosquitto.target(login)) as ingest:
        assert ingest.subscribed
    monkeypatch.setenv("ELDERCARE_BROKER_ADMIN_URL", mosquitto.url(("admin", "wrong")))
    assert await asyncio.to_thread(main, ["broker", "init"]) == 1
    assert "refused the admin login" in capsys.readouterr().err
