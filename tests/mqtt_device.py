"""A device's own MQTT 5 connection in a test, to see the broker's answers (CONNACK,
SUBACK and PUBACK reason codes)."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import paho.mqtt.client as paho
from paho.mqtt.enums import CallbackAPIVersion

from tests.services import Mosquitto

TIMEOUT_S = 10


class Device:
    """A device's own MQTT 5 connection (paho's thread), to see the broker's answers."""

    def __init__(self, broker: Mosquitto, user: str, password: str, client_id: str) -> None:
        self.client = paho.Client(CallbackAPIVersion.VERSION2, client_id=client_id,
                                  protocol=paho.MQTTv5)  # fmt: skip
        self.client.username_pw_set(user, password)
        self._connack = threading.Event()
        self._suback = threading.Event()
        self.connect_reason: Any = None
        self.suback_codes: list[Any] = []
        self.received: list[str] = []
        self.disconnected = threading.Event()
        self.client.on_connect = self._on_connect
        self.client.on_subscribe = self._on_subscribe
        self.client.on_message = lambda c, u, m: self.received.append(m.topic)
        self.client.on_disconnect = lambda *a: self.disconnected.set()
        self.client.connect("127.0.0.1", broker.port, 30)
        self.client.loop_start()
        assert self._connack.wait(TIMEOUT_S), "no CONNACK"

    def _on_connect(self, c: Any, u: Any, flags: Any, reason: Any, props: Any) -> None:
        self.connect_reason = reason
        self._connack.set()

    def _on_subscribe(self, c: Any, u: Any, mid: Any, codes: Any, props: Any) -> None:
        self.suback_codes = list(codes)
        self._suback.set()

    @property
    def refused(self) -> bool:
        return bool(self.connect_reason.is_failure)

    def subscribe(self, topic_filter: str) -> list[Any]:
        self._suback.clear()
        self.client.subscribe(topic_filter, qos=1)
        assert self._suback.wait(TIMEOUT_S), "no SUBACK"
        return self.suback_codes

    def publish(self, topic: str, payload: bytes) -> Any:
        """Publish with QoS 1 and return the PUBACK's reason code."""
        codes: list[Any] = []
        done = threading.Event()

        def on_publish(c: Any, u: Any, mid: Any, reason: Any, props: Any) -> None:
            codes.append(reason)
            done.set()

        self.client.on_publish = on_publish
        self.client.publish(topic, payload, qos=1)
        assert done.wait(TIMEOUT_S), "no PUBACK"
        return codes[0]

    def close(self) -> None:
        self.client.disconnect()
        self.client.loop_stop()
        # Our callbacks make a cycle (client -> callback -> self -> client), which only the
        # garbage collector frees, in any order: it may drop paho's wake-up socket pair
        # before paho closes it (a ResourceWarning, an error here). Without the cycle the
        # client goes as soon as we do, and closes its sockets itself.
        for callback in ("on_connect", "on_subscribe", "on_message", "on_disconnect",
                         "on_publish"):  # fmt: skip
            setattr(self.client, callback, None)


@contextmanager
def device(broker: Mosquitto, user: str, password: str, client_id: str) -> Iterator[Device]:
    d = Device(broker, user, password, client_id)
    try:
        yield d
    finally:
        d.close()
