"""Ingest's sessions on the shipped broker: kept alive while reading is paused, handed
over when a worker retires (`eldercare ingest --drain`), and nothing acknowledged lost
when the broker restarts gracefully mid-stream."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import threading

import asyncpg
import paho.mqtt.client as paho
import pytest
from paho.mqtt.enums import CallbackAPIVersion

from core.readings import DeviceType
from ingest.mqtt_client import InboundMessage, ManualAckSubscriber
from ingest.wire import topic_for
from tests.ingest_helpers import publisher, register_home, running_ingest, ts, wait_until
from tests.services import SIMULATOR_USER, Mosquitto, unique_name


async def _stored(db: asyncpg.Connection, device_id: str) -> int:
    n: int = await db.fetchval("SELECT count(*) FROM readings WHERE device_id = $1", device_id)
    return n


async def _publish(broker: Mosquitto, device_id: str, first: int, count: int) -> None:
    async with publisher(broker) as pub:
        await pub.publish_all_async(
            (topic_for(device_id, "telemetry"), {"ts": ts(), "seq": i, "motion": True})
            for i in range(first, first + count)
        )


async def test_the_connection_stays_up_while_reading_is_paused(mosquitto: Mosquitto) -> None:
    # A 3 s keep-alive: paused for five of them. Before the fix paho closed the connection
    # after one keep-alive without reading the broker's PINGRESP.
    received: list[InboundMessage] = []
    lost: list[bool] = []
    device_id = unique_name("dev")
    subscriber = ManualAckSubscriber(
        mosquitto.target(), client_id=unique_name("ingest"),
        topic_filter="eldercare/v1/devices/#", protocol="3.1.1", receive_maximum=100,
        on_message=received.append, on_connection_lost=lambda: lost.append(True),
        keepalive_s=3,
    )  # fmt: skip
    up = asyncio.Event()
    task = asyncio.create_task(subscriber.run(up))
    try:
        await asyncio.wait_for(up.wait(), 10)
        subscriber.pause_reading()
        await _publish(mosquitto, device_id, 1, 50)
        await asyncio.sleep(15)
        assert lost == [], "the connection was dropped while paused"
        subscriber.resume_reading()

        async def all_received() -> bool:
            return len(received) == 50

        await wait_until(all_received, what="the 50 messages after resuming")
        assert lost == [] and {m.generation for m in received} == {0}
        assert subscriber.ack(received) == 50
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)


async def test_a_retired_worker_is_drained_and_strands_nothing(
    db: asyncpg.Connection, db_url: str, mosquitto: Mosquitto, capfd: pytest.CaptureFixture[str]
) -> None:
    device_id = unique_name("dev")
    await register_home(db, unique_name("home"), {device_id: (DeviceType.PIR, "hall")})
    group, retired, staying = unique_name("grp"), unique_name("old"), unique_name("new")
    async with running_ingest(db_url, mosquitto.target(), client_id=retired, share_group=group):
        pass  # subscribed once, then stopped: its session stays in the group
    async with running_ingest(db_url, mosquitto.target(), client_id=staying, share_group=group):
        await _publish(mosquitto, device_id, 1, 400)

        async def share_stored() -> bool:
            return await _stored(db, device_id) >= 150

        await wait_until(share_stored, what="the staying worker's share stored")
        await asyncio.sleep(1)
        stranded = 400 - await _stored(db, device_id)
        assert stranded > 0, "the broker did not queue a share for the retired worker"

        env = {**os.environ, "ELDERCARE_DATABASE_URL": db_url,
               "ELDERCARE_MQTT_URL": mosquitto.url(),
               "ELDERCARE_INGEST_SHARE_GROUP": group}  # fmt: skip
        done = await asyncio.to_thread(
            subprocess.run, [sys.executable, "-m", "eldercare", "ingest", "--drain", retired],
            env=env, capture_output=True, text=True, timeout=120,
        )  # fmt: skip
        assert done.returncode == 0, done.stderr
        assert f"drained {retired}:" in done.stdout and "session ended" in done.stdout
        assert await _stored(db, device_id) == 400

        # The retired session is gone: everything published now reaches the staying worker.
        await _publish(mosquitto, device_id, 401, 200)

        async def all_stored() -> bool:
            return await _stored(db, device_id) == 600

        await wait_until(all_stored, what="all 600 readings stored")


class _StreamingDevice(threading.Thread):
    """Publishes seq 1..n with QoS 1 through a broker restart (paho reconnects by itself
    and sends again what was not acknowledged) and remembers what the broker acknowledged.
    (Fewer than 65,536 messages, so no packet id is used twice.)"""

    def __init__(self, broker: Mosquitto, device_id: str, n: int) -> None:
        super().__init__(daemon=True)
        self.device_id, self.n = device_id, n
        self._acked_mids: set[int] = set()  # paho's thread adds; read once all is done
        self._seq_of: dict[int, int] = {}
        self.client = paho.Client(CallbackAPIVersion.VERSION2, client_id=unique_name("pub"),
                                  protocol=paho.MQTTv311, clean_session=False)  # fmt: skip
        self.client.username_pw_set(*SIMULATOR_USER)
        self.client.reconnect_delay_set(0.05, 0.5)
        self.client.max_queued_messages_set(0)
        self.client.max_inflight_messages_set(100)
        self.client.on_publish = lambda c, u, mid, reason, props: self._acked_mids.add(mid)
        self.client.connect("127.0.0.1", broker.port, 30)

    @property
    def acked(self) -> set[int]:
        return {self._seq_of[mid] for mid in list(self._acked_mids) if mid in self._seq_of}

    def run(self) -> None:
        self.client.loop_start()
        topic = topic_for(self.device_id, "telemetry")
        pause = threading.Event()
        for seq in range(1, self.n + 1):
            payload = b'{"ts":"%s","seq":%d,"motion":true}' % (ts().encode(), seq)
            self._seq_of[self.client.publish(topic, payload, qos=1).mid] = seq
            pause.wait(0.001)

    def close(self) -> None:
        self.client.disconnect()
        self.client.loop_stop()


async def test_a_graceful_broker_restart_mid_stream_loses_nothing_acknowledged(
    db: asyncpg.Connection, db_url: str, mosquitto: Mosquitto
) -> None:
    device_id = unique_name("dev")
    await register_home(db, unique_name("home"), {device_id: (DeviceType.PIR, "hall")})
    n = 6000
    # One worker, plainly subscribed (ELDERCARE_INGEST_SHARE_GROUP=): Mosquitto 2.0
    # restores a plain subscription of a persistent session on restart (not a $share
    # one), so what devices publish before ingest is back is queued for it.
    async with running_ingest(db_url, mosquitto.target(), share_group="") as ingest:
        stream = _StreamingDevice(mosquitto, device_id, n)
        stream.start()
        try:

            async def some_stored() -> bool:
                return await _stored(db, device_id) >= 1000

            await wait_until(some_stored, what="the stream under way")
            await asyncio.to_thread(mosquitto.stop)  # SIGTERM: the broker saves and exits
            await asyncio.sleep(1)
            await asyncio.to_thread(mosquitto.start)
            await asyncio.to_thread(stream.join, 120)
            assert not stream.is_alive()

            async def most_acked() -> bool:
                return len(stream.acked) >= n - 100

            await wait_until(most_acked, timeout_s=60, what="the publishes acknowledged")
            await asyncio.sleep(2)  # what paho still resends
            acked = stream.acked

            async def acked_stored() -> bool:
                rows = await db.fetch("SELECT seq FROM readings WHERE device_id = $1", device_id)
                return acked <= {r["seq"] for r in rows}

            await wait_until(acked_stored, timeout_s=60, what="every acknowledged reading stored")
            rows = await db.fetchval(
                "SELECT count(*) - count(DISTINCT seq) FROM readings WHERE device_id = $1",
                device_id,
            )
            assert rows == 0, "a reading stored twice"
            assert ingest.subscribed
        finally:
            stream.close()
