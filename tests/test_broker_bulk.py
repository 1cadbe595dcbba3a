"""Credentials for 10,000 devices issued in one pass and used (issue 11): written into the
dynamic security plugin's file while the broker is stopped, in Mosquitto's own password
format, then the broker started on that file and the devices logging in."""

from __future__ import annotations

import asyncio
import base64
import hashlib
import json
import random
import time
from pathlib import Path

import asyncpg
import pytest

from core.readings import DeviceType
from eldercare.cli import main
from eldercare.dynsec_file import password_fields
from ingest.wire import topic_for
from tests.ingest_helpers import register_home, running_ingest, ts, wait_until
from tests.mqtt_device import device
from tests.services import Mosquitto, make_mosquitto

FLEET = 10_000
SAMPLE = 50


def test_password_fields_are_pbkdf2_sha512_as_the_plugin_stores_them() -> None:
    fields = password_fields("admin-secret", salt=b"0123456789ab")
    digest = hashlib.pbkdf2_hmac("sha512", b"admin-secret", b"0123456789ab", 101)
    assert fields == {"password": base64.b64encode(digest).decode(),
                      "salt": "MDEyMzQ1Njc4OWFi", "iterations": 101}  # fmt: skip
    assert password_fields("x")["salt"] != password_fields("x")["salt"]  # a salt per login


async def test_ten_thousand_devices_issued_offline_in_one_pass_and_used(
    db: asyncpg.Connection,
    db_url: str,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    broker: Mosquitto = make_mosquitto(tmp_path / "mosquitto")
    await asyncio.to_thread(broker.start)  # the admin, ingest and simulator logins
    await asyncio.to_thread(broker.stop)
    dynsec = broker.workdir / "data" / "dynamic-security.json"
    ids = [f"fleet-{i:05d}" for i in range(FLEET)]
    registry = tmp_path / "devices.csv"
    registry.write_text("home_id,device_id,type,room\n" + "".join(
        f"h{i // 4},{d},pir,hall\n" for i, d in enumerate(ids)))  # fmt: skip

    async def issue(*argv: str) -> tuple[int, str, str]:
        code = await asyncio.to_thread(main, ["devices", "credentials", "issue", *argv])
        out, err = capsys.readouterr()
        return code, out, err

    started = time.perf_counter()
    code, out, _ = await issue("--csv", str(registry), "--offline", str(dynsec))
    elapsed = time.perf_counter() - started
    figures = [f"{FLEET} device logins issued offline in {elapsed:.2f} s"]
    assert code == 0
    lines = out.strip().splitlines()
    assert lines[0] == "device_id,password"
    passwords = dict(line.split(",") for line in lines[1:])
    assert list(passwords) == ids and len(set(passwords.values())) == FLEET

    # Again for one of them: refused, one line, the file untouched.
    before = dynsec.read_bytes()
    code, out, err = await issue(ids[7], "--offline", str(dynsec))
    assert code == 1 and out == "" and f"already has a login for '{ids[7]}'" in err
    assert dynsec.read_bytes() == before
    code, _, err = await issue(ids[7], "--offline", str(registry))
    assert code == 1 and "is not JSON" in err
    code, _, err = await issue(ids[7], "--offline", str(tmp_path / "missing.json"))
    assert code == 1 and "cannot read" in err and "No such file" in err

    started = time.perf_counter()
    await asyncio.to_thread(broker.start)
    figures.append(f"broker started on them in {time.perf_counter() - started:.2f} s")
    try:
        sample = random.Random(11).sample(ids, SAMPLE)
        await register_home(db, "home-fleet", dict.fromkeys(sample, (DeviceType.PIR, "hall")))
        async with running_ingest(db_url, broker.target()):
            for n, device_id in enumerate(sample):
                with device(broker, device_id, passwords[device_id], device_id) as d:
                    assert not d.refused, device_id
                    payload = json.dumps({"ts": ts(), "seq": n + 1, "motion": True}).encode()
                    ack = await asyncio.to_thread(
                        d.publish, topic_for(device_id, "telemetry"), payload
                    )
                    assert not ack.is_failure, (device_id, ack)
                    # Its own topic only, as for a login issued through the broker.
                    other = topic_for(sample[n - 1], "telemetry")
                    assert (await asyncio.to_thread(d.publish, other, payload)).is_failure

            async def all_stored() -> bool:
                return await db.fetchval("SELECT count(*) FROM readings") == SAMPLE

            await wait_until(all_stored, what=f"{SAMPLE} readings from the sampled devices")
        wrong = ids[123]
        with device(broker, wrong, passwords[ids[124]], wrong) as d:
            assert d.refused, "a wrong password was accepted"
    finally:
        await asyncio.to_thread(broker.stop)
    assert set(await db.fetchval("SELECT array_agg(device_id) FROM readings")) == set(sample)
    with capsys.disabled():
        print("\n" + "; ".join(figures))
