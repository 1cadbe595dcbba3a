"""Live mode: simulated homes published to a real broker on a clock, as their devices would.

`LivePublisher(simulation, target, clock, origin, options)` publishes, every
`publish_interval_s`, the messages whose `ts` the clock has passed (messages before
`origin` are skipped: the devices were not installed yet). The clock is the wall clock
(real time) or a `CatchUpClock`, faster until it reaches the present, since a device may
not report from the future. The run ends when the simulation does, after `duration_s`,
or when cancelled; then it waits for the broker to acknowledge what it sent.

Two ways to connect:

- shared (default): `connections` MQTT clients carry all devices, like a gateway; a device
  always uses the same connection, so its messages stay in order. The simulation's
  `{"online": false}` link-loss messages are published like any other.
- per device (`per_device_clients`): each device is its own client; client id and user
  name are the device id, the password is `password_template` with `{device_id}`
  replaced (None: every device logs in with the broker URL's user). On connect a device
  sets its MQTT last will `{"ts": T, "seq": n + 1, "online": false}` on its status topic
  and publishes `{"ts": T, "seq": n, "online": true}`, with T the clock's time at connect
  and n one past its last sequence number; the will outranks that status by (ts, seq).
  The simulation's link losses are acted out: the device's TCP connection is cut (the
  broker publishes the will) and it reconnects at the simulated "online" message, which
  then serves as its connect status. A device cut by `drop_connection` comes back with
  its next message. Note that the will carries the connect time: a status the device
  sent after connecting outranks it in ingest's (ts, seq) order.

paho does the protocol; the event loop watches its sockets (no thread per client, so
thousands of device clients are cheap); only the TCP connect runs in a worker thread.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import re
import socket
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import paho.mqtt.client as paho
from paho.mqtt.enums import CallbackAPIVersion

from core.backoff import Backoff
from core.clock import Clock
from core.logs import kv
from core.settings import MqttTarget
from ingest.wire import TOPIC_PREFIX, encode_payload, format_ts, topic_for
from simulators.record import Simulation

log = logging.getLogger("eldercare.simulate.live")

KEEPALIVE_SECONDS = 30
CONNECT_TIMEOUT_SECONDS = 10.0
PUBLISH_INTERVAL_SECONDS = 0.2  # how often the clock is read and what is due is published
# Unacknowledged publishes per connection before the simulation waits for the broker:
# bounds memory when the broker is slow or away, at the cost of the clock running ahead
# (it catches up, publishing the backlog, once the broker acks again).
MAX_UNACKED_PER_CONNECTION = 2000
MAINTENANCE_INTERVAL_SECONDS = 1.0  # keep-alive pings and reconnect attempts
FLUSH_TIMEOUT_SECONDS = 30.0
DEFAULT_SHARED_CONNECTIONS = 4
_SEQ = re.compile(rb'"seq":(\d+)')

PublishedListener = Callable[[str, bytes], None]


@dataclass(frozen=True, slots=True)
class LiveOptions:
    """How the simulated devices connect and how often they publish."""

    per_device_clients: bool = False
    connections: int = DEFAULT_SHARED_CONNECTIONS  # shared mode only
    password_template: str | None = None  # per-device mode: "{device_id}" is replaced
    client_id_prefix: str = "eldercare-sim"
    publish_interval_s: float = PUBLISH_INTERVAL_SECONDS
    duration_s: float | None = None  # None: until the simulation ends or we are cancelled

    def __post_init__(self) -> None:
        if self.connections < 1:
            raise ValueError("connections must be at least 1")
        if self.publish_interval_s <= 0:
            raise ValueError("publish_interval_s must be positive")
        if self.duration_s is not None and not self.duration_s > 0:
            raise ValueError("duration_s must be positive")


@dataclass(frozen=True, slots=True)
class LiveStats:
    """What a live run did."""

    published: int  # acknowledged by the broker
    connects: int
    drops: int  # connections cut on purpose (simulated link losses)
    simulated_until: datetime | None


class _Link:
    """One MQTT connection: paho speaks the protocol, the event loop watches the socket."""

    def __init__(self, target: MqttTarget, client_id: str, login: tuple[str | None, str | None],
                 on_acked: Callable[[str, bytes], None]) -> None:  # fmt: skip
        self.client_id = client_id
        self.connected = False
        self.connecting = False
        self.wanted = True  # reconnect when lost; False after drop() until told otherwise
        self.backoff = Backoff()
        self.retry_at = 0.0
        self._target = target
        self._on_acked = on_acked
        self._unacked: dict[int, tuple[str, bytes]] = {}
        self._room = asyncio.Event()  # set while fewer than the limit are unacknowledged
        self._room.set()
        self._drained = asyncio.Event()  # set while nothing is unacknowledged
        self._drained.set()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._loop_thread = 0
        self._connack: asyncio.Future[Any] | None = None
        client = paho.Client(CallbackAPIVersion.VERSION2, client_id=client_id,
                             protocol=paho.MQTTv311, reconnect_on_failure=False)  # fmt: skip
        if login[0]:
            client.username_pw_set(*login)
        if target.tls:
            client.tls_set()
        client.max_inflight_messages_set(0)  # we bound it ourselves; paho's limit is O(n)
        client.max_queued_messages_set(0)
        client.on_connect = self._on_connect
        client.on_disconnect = self._on_disconnect
        client.on_publish = self._on_publish
        client.on_socket_open = lambda _c, _u, sock: self._on_loop(self._watch, sock.fileno())
        client.on_socket_close = lambda _c, _u, sock: self._on_loop(self._forget, sock.fileno())
        client.on_socket_register_write = lambda _c, _u, sock: self._on_loop(
            self._add_writer, sock.fileno()
        )
        client.on_socket_unregister_write = lambda _c, _u, sock: self._on_loop(
            self._remove_writer, sock.fileno()
        )
        self._client = client

    @property
    def unacked(self) -> int:
        """Publishes the broker has not acknowledged yet."""
        return len(self._unacked)

    # connect() runs in a worker thread (the TCP handshake blocks), so paho's socket
    # callbacks may come from there; they are handed to the loop. On the loop thread they
    # act at once, so a closed socket's number is never unwatched after its reuse.
    def _on_loop(self, fn: Callable[[int], None], fd: int) -> None:
        assert self._loop is not None
        if threading.get_ident() == self._loop_thread:
            fn(fd)
        else:
            self._loop.call_soon_threadsafe(fn, fd)

    def _watch(self, fd: int) -> None:
        assert self._loop is not None
        self._loop.add_reader(fd, self._client.loop_read)

    def _forget(self, fd: int) -> None:
        assert self._loop is not None
        self._loop.remove_reader(fd)
        self._loop.remove_writer(fd)

    def _add_writer(self, fd: int) -> None:
        assert self._loop is not None
        self._loop.add_writer(fd, self._client.loop_write)

    def _remove_writer(self, fd: int) -> None:
        assert self._loop is not None
        self._loop.remove_writer(fd)

    def _on_connect(self, _c: Any, _u: Any, _flags: Any, reason: Any, _props: Any) -> None:
        if self._connack is not None and not self._connack.done():
            self._connack.set_result(reason)

    def _on_disconnect(self, _c: Any, _u: Any, _flags: Any, _reason: Any, _props: Any) -> None:
        if self.connected and self.wanted:
            log.warning(kv("device_link_lost", client_id=self.client_id))
        self.connected = False
        if self._connack is not None and not self._connack.done():
            self._connack.set_exception(ConnectionError("the broker closed the connection"))

    def _on_publish(self, _c: Any, _u: Any, mid: int, _reason: Any, _props: Any) -> None:
        item = self._unacked.pop(mid, None)
        if item is not None:
            self._on_acked(*item)
        if len(self._unacked) < MAX_UNACKED_PER_CONNECTION:
            self._room.set()
        if not self._unacked:
            self._drained.set()

    async def drained(self) -> None:
        """Return once the broker has acknowledged everything published so far."""
        await self._drained.wait()

    async def connect(self, will: tuple[str, bytes] | None) -> None:
        """Connect (or reconnect) with this last will; paho resends what was unacked."""
        self._loop = asyncio.get_running_loop()
        self._loop_thread = threading.get_ident()
        self.connecting = True
        try:
            if will is None:
                self._client.will_clear()
            else:
                self._client.will_set(will[0], will[1], qos=1)
            self._connack = self._loop.create_future()
            await asyncio.to_thread(
                self._client.connect, self._target.host, self._target.port, KEEPALIVE_SECONDS
            )
            reason = await asyncio.wait_for(asyncio.shield(self._connack), CONNECT_TIMEOUT_SECONDS)
            if reason.is_failure:
                raise ConnectionRefusedError(f"the broker refused {self.client_id}: {reason}")
            self.connected = self.wanted = True
            self.backoff.reset()
        finally:
            self.connecting = False

    async def publish(self, topic: str, payload: bytes) -> None:
        """Queue one QoS 1 message, waiting while too many are unacknowledged."""
        while len(self._unacked) >= MAX_UNACKED_PER_CONNECTION:
            self._room.clear()
            await self._room.wait()
        info = self._client.publish(topic, payload, qos=1)
        # Not connected: paho keeps the message and sends it after the reconnect.
        if info.rc not in (paho.MQTT_ERR_SUCCESS, paho.MQTT_ERR_NO_CONN):
            raise ConnectionError(f"publish failed: {paho.error_string(info.rc)}")
        self._unacked[info.mid] = (topic, payload)
        self._drained.clear()

    def keep_alive(self) -> None:
        """Let paho send its keep-alive ping when due."""
        if self.connected:
            self._client.loop_misc()

    def drop(self) -> None:
        """Cut the TCP connection without DISCONNECT, so the broker publishes the will."""
        self.wanted = False
        sock = self._client.socket()
        if self.connected and isinstance(sock, socket.socket):
            sock.shutdown(socket.SHUT_RDWR)  # paho sees EOF on the loop and cleans up

    def close(self) -> None:
        """Send DISCONNECT (the broker then discards the will) and unhook the socket."""
        self.wanted = False
        sock = self._client.socket()
        if self.connected:
            self._client.disconnect()
            self._client.loop_write()  # writes DISCONNECT; paho then closes the socket
        if sock is not None and sock.fileno() >= 0:
            self._forget(sock.fileno())
        self._client.on_socket_close = None
        self._client.on_socket_unregister_write = None


@dataclass
class _Device:
    """A device's connection and the last sequence number it used (per-device mode)."""

    device_id: str
    link: _Link
    last_seq: int = -1


def device_of(topic: str) -> str:
    """The device id in a wire-contract topic."""
    return topic[len(TOPIC_PREFIX) : topic.rindex("/")]


class LivePublisher:
    """Publishes a simulation's messages on a clock; `await run()` until it is over."""

    def __init__(self, simulation: Simulation, target: MqttTarget, clock: Clock,
                 origin: datetime, options: LiveOptions | None = None, *,
                 on_published: PublishedListener | None = None) -> None:  # fmt: skip
        self.options = options or LiveOptions()
        self._clock = clock
        self._origin = origin
        self._cursor = simulation.cursor()
        self._on_published = on_published
        self._published = self._connects = self._drops = 0
        self._simulated_until: datetime | None = None
        self._target = target
        device_ids = [row.device_id for row in simulation.registry()]
        if self.options.per_device_clients:
            self._devices = {
                d: _Device(d, self._link(d, self._device_login(d))) for d in device_ids
            }
            self._links = [device.link for device in self._devices.values()]
        else:
            count = min(self.options.connections, len(device_ids))
            login = (target.username, target.password)
            prefix = self.options.client_id_prefix
            self._links = [self._link(f"{prefix}-{i}", login) for i in range(count)]
            self._route = {d: self._links[i % count] for i, d in enumerate(device_ids)}

    def _device_login(self, device_id: str) -> tuple[str | None, str | None]:
        """User = device id and a templated password, or the broker URL's own login."""
        template = self.options.password_template
        if template is None:
            return (self._target.username, self._target.password)
        return (device_id, template.replace("{device_id}", device_id))

    def _link(self, client_id: str, login: tuple[str | None, str | None]) -> _Link:
        return _Link(self._target, client_id, login, self._acked)

    def _acked(self, topic: str, payload: bytes) -> None:
        self._published += 1
        if self._on_published is not None:
            self._on_published(topic, payload)

    @property
    def stats(self) -> LiveStats:
        """What has happened so far."""
        return LiveStats(self._published, self._connects, self._drops, self._simulated_until)

    async def run(self, ready: asyncio.Event | None = None) -> LiveStats:
        """Connect, publish on the clock until done, wait for the acks, disconnect."""
        loop = asyncio.get_running_loop()
        duration = self.options.duration_s
        deadline = None if duration is None else loop.time() + duration
        # Skipping to the origin computes up to a day of messages: not on the loop.
        skipped = await asyncio.to_thread(self._cursor.advance_encoded, self._origin)
        self._note_seqs(skipped)
        upkeep: asyncio.Task[None] | None = None
        try:
            # All connects finish (or fail) before we go on, so none is left running.
            results = await asyncio.gather(
                *(self._revive(i) for i in range(len(self._links))), return_exceptions=True
            )
            if errors := [r for r in results if isinstance(r, BaseException)]:
                raise errors[0]
            if ready is not None:
                ready.set()
            upkeep = asyncio.create_task(self._maintain(), name="live-mqtt-upkeep")
            await self._publish_until(deadline)
            await self._flush()
        finally:
            if upkeep is not None:
                upkeep.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await upkeep
            for link in self._links:
                link.close()
        return self.stats

    def drop_connection(self, device_id: str) -> None:
        """Cut a device's connection abruptly (per-device mode): its will is published."""
        self._drops += 1
        self._devices[device_id].link.drop()

    def _note_seqs(self, messages: list[tuple[str, bytes]]) -> None:
        if self.options.per_device_clients:
            for topic, payload in messages:
                found = _SEQ.search(payload)
                if found:
                    self._devices[device_of(topic)].last_seq = int(found[1])

    async def _revive(self, index: int) -> None:
        """(Re)connect link `index`; a device announces itself and sets its will."""
        link = self._links[index]
        if not self.options.per_device_clients:
            await link.connect(None)
        else:
            await self._connect_device(self._devices[link.client_id], None)
        self._connects += 1

    async def _connect_device(self, device: _Device, online: bytes | None) -> None:
        """Connect with a will fixed now; publish `online` (or a made-up one) as status."""
        topic = topic_for(device.device_id, "status")
        if online is None:
            seq = device.last_seq + 1
            ts = format_ts(self._clock.now())
            online = encode_payload({"ts": ts, "seq": seq, "online": True})
        else:
            fields = json.loads(online)
            ts, seq = fields["ts"], fields["seq"]
        will = encode_payload({"ts": ts, "seq": seq + 1, "online": False})
        await device.link.connect((topic, will))
        await device.link.publish(topic, online)
        device.last_seq = seq

    async def _publish_until(self, deadline: float | None) -> None:
        loop = asyncio.get_running_loop()
        while True:
            now = self._clock.now()
            batch = await asyncio.to_thread(self._cursor.advance_encoded, now)
            for topic, payload in batch:
                await self._send(topic, payload)
            self._simulated_until = now
            if self._cursor.next_ts is None:
                log.info(kv("live_simulation_over", published=self._published))
                return
            if deadline is not None and loop.time() >= deadline:
                return
            await asyncio.sleep(self.options.publish_interval_s)

    async def _send(self, topic: str, payload: bytes) -> None:
        if not self.options.per_device_clients:
            await self._route[device_of(topic)].publish(topic, payload)
            return
        device = self._devices[device_of(topic)]
        if topic.endswith("/status"):
            fields = json.loads(payload)
            if fields.get("online") is False:  # a simulated link loss: act it out
                device.link.drop()
                self._drops += 1
                return
            if not device.link.connected and "fw" in fields:  # back online after the loss
                await self._connect_device(device, payload)
                self._connects += 1
                return
        if not device.link.connected and not device.link.connecting:
            await self._connect_device(device, None)
            self._connects += 1
        await device.link.publish(topic, payload)
        found = _SEQ.search(payload)
        if found:
            device.last_seq = int(found[1])

    async def _maintain(self) -> None:
        """Keep-alive pings; reconnect links lost against our will, with backoff."""
        async with asyncio.TaskGroup() as retries:  # cancelled with us, retries and all
            while True:
                await asyncio.sleep(MAINTENANCE_INTERVAL_SECONDS)
                now = time.monotonic()
                for index, link in enumerate(self._links):
                    link.keep_alive()
                    if link.connected or link.connecting or not link.wanted or now < link.retry_at:
                        continue
                    link.retry_at = now + link.backoff.next_delay_s()
                    retries.create_task(self._retry(index), name=f"live-reconnect-{link.client_id}")

    async def _retry(self, index: int) -> None:
        try:
            await self._revive(index)
        except (OSError, ConnectionError, TimeoutError) as exc:
            link = self._links[index]
            if link.backoff.failures == 1:
                log.warning(kv("device_reconnect_failed", client_id=link.client_id, error=exc))
            return
        log.info(kv("device_reconnected", client_id=self._links[index].client_id))

    async def _flush(self) -> None:
        """Wait until the broker has acknowledged everything (or give up after a while)."""
        # A link cut on purpose and not back yet keeps its messages for its reconnect.
        live = [link for link in self._links if link.connected or link.wanted]
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(FLUSH_TIMEOUT_SECONDS):
                for link in live:
                    await link.drained()
        left = sum(link.unacked for link in live)
        if left:
            log.warning(kv("live_unacknowledged_at_stop", messages=left))
