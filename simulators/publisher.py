"""Publishing device messages over MQTT, as real devices (or a gateway for many) would."""

from __future__ import annotations

import asyncio
from collections.abc import Iterable
from typing import Any

import paho.mqtt.client as paho
from paho.mqtt.enums import CallbackAPIVersion

from core.settings import MqttTarget
from ingest.wire import encode_payload

# Unacknowledged QoS 1 publishes one connection keeps in flight; enough to fill the
# pipe on loopback without letting a stalled broker pile up unbounded work.
MAX_INFLIGHT_PUBLISHES = 1000


class DevicePublisher:
    """One MQTT connection publishing QoS 1 messages for any number of devices.

    paho runs its network loop in its own thread here: this is a client of the
    system, not part of it, and the thread keeps publishing off our event loop.
    """

    def __init__(self, target: MqttTarget, client_id: str) -> None:
        self._client = paho.Client(
            CallbackAPIVersion.VERSION2, client_id=client_id, protocol=paho.MQTTv311
        )
        if target.username:
            self._client.username_pw_set(target.username, target.password)
        self._client.max_inflight_messages_set(MAX_INFLIGHT_PUBLISHES)
        self._client.max_queued_messages_set(0)
        self._target = target

    def connect(self) -> None:
        """Connect (blocking) and start the network thread."""
        self._client.connect(self._target.host, self._target.port, keepalive=30)
        self._client.loop_start()

    def close(self) -> None:
        """Disconnect cleanly and stop the network thread."""
        self._client.disconnect()
        self._client.loop_stop()

    def publish(self, topic: str, payload: dict[str, Any] | bytes) -> paho.MQTTMessageInfo:
        """Queue one QoS 1 message; the returned info says when the broker has it."""
        data = payload if isinstance(payload, bytes) else encode_payload(payload)
        info = self._client.publish(topic, data, qos=1)
        if info.rc != paho.MQTT_ERR_SUCCESS:
            raise ConnectionError(f"publish failed: {paho.error_string(info.rc)}")
        return info

    def publish_all(self, messages: Iterable[tuple[str, dict[str, Any] | bytes]]) -> int:
        """Publish every message and wait until the broker acknowledged them all."""
        infos = [self.publish(topic, payload) for topic, payload in messages]
        for info in infos:
            info.wait_for_publish(timeout=60)
            if not info.is_published():
                raise TimeoutError("the broker did not acknowledge a publish within 60 s")
        return len(infos)

    async def publish_all_async(
        self, messages: Iterable[tuple[str, dict[str, Any] | bytes]]
    ) -> int:
        """publish_all in a worker thread, for callers on an event loop."""
        batch = list(messages)
        return await asyncio.to_thread(self.publish_all, batch)
