"""Device identity in the NATS cluster: a device may publish only under its own subject
(real nats-server with the generated users, real ingest and PostgreSQL)."""

from __future__ import annotations

import asyncio
from pathlib import Path

import asyncpg
import pytest

from eldercare.cli import main
from eldercare.nats_cluster import make_cluster
from ingest.nats_client import NatsTarget
from ingest.wire import topic_for
from simulators.publisher import DevicePublisher
from tests.ingest_helpers import CLUSTER_READY_TIMEOUT_S, running_ingest, wait_until
from tests.nats_helpers import motion_messages, readings_count, register_pir_homes
from tests.services import unique_name


async def test_a_device_publishing_under_another_devices_subject_is_refused(
    db: asyncpg.Connection, db_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    await register_pir_homes(db, 2)  # pir-000 and pir-001
    (tmp_path / "devices.csv").write_text("pir-000,secret-0\npir-001,secret-1\n")
    url_user = "nats://eldercare:svc-secret@127.0.0.1:4222"
    monkeypatch.setenv("ELDERCARE_NATS_URL", url_user)
    block = tmp_path / "users.conf"
    assert main(["nats-users", str(tmp_path / "devices.csv"), "--out", str(block)]) == 0
    cluster = make_cluster(tmp_path / "nats", 1, extra=block.read_text())
    await asyncio.to_thread(cluster.start)
    try:
        node = cluster.nodes[0]
        services = node.url.replace("nats://", "nats://eldercare:svc-secret@")
        async with running_ingest(
            db_url, NatsTarget((services,), partitions=4), ready_timeout_s=CLUSTER_READY_TIMEOUT_S
        ):
            pub = DevicePublisher(node.mqtt_target("pir-000", "secret-0"), unique_name("pub"))
            await asyncio.to_thread(pub.connect)
            try:
                own = motion_messages(["pir-000"], 0, 3)
                stolen = [(topic_for("pir-001", "telemetry"), payload) for _, payload in
                          motion_messages(["pir-001"], 10, 3)]  # fmt: skip
                await pub.publish_all_async(stolen + own)
            finally:
                await asyncio.to_thread(pub.close)
            await wait_until(lambda: _stored(db, 3), what="the device's own readings")
            await asyncio.sleep(1.0)  # the refused ones would have arrived by now
        devices = await db.fetch("SELECT DISTINCT device_id FROM readings")
        assert [r["device_id"] for r in devices] == ["pir-000"]
        assert await readings_count(db) == (3, 3)
        assert await db.fetchval("SELECT count(*) FROM dead_letters") == 0
    finally:
        cluster.stop()


async def _stored(db: asyncpg.Connection, n: int) -> bool:
    return (await readings_count(db))[0] >= n


def test_a_bad_device_line_is_one_clear_error(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("ELDERCARE_NATS_URL", "nats://eldercare:svc@127.0.0.1:4222")
    (tmp_path / "devices.csv").write_text("pir-000,secret\npir.001,secret\n")
    assert main(["nats-users", str(tmp_path / "devices.csv")]) == 2
    assert capsys.readouterr().err.strip().endswith("line 2: 'pir.001' is not a device id")
