"""paho-mqtt driven by the asyncio event loop, with manual acknowledgements.

aiomqtt 2.x has no public manual ack, so this is a small wrapper in its spirit:
paho does the protocol, the event loop does the socket I/O (add_reader/add_writer),
and nothing runs in paho's own thread. We ack a message only after its batch is
committed, and we stop reading the socket when too much is unacknowledged, so a
slow database pushes back on the broker instead of filling our memory.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import select
import threading
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import paho.mqtt.client as paho
from paho.mqtt.enums import CallbackAPIVersion
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties
from paho.mqtt.reasoncodes import ReasonCode

from core.backoff import Backoff
from core.logs import kv
from core.pipeline import CommittedBatch
from core.settings import MqttTarget

log = logging.getLogger("eldercare.ingest.mqtt")

KEEPALIVE_SECONDS = 30
# Long enough to ride out an ingest restart or a deploy; the broker keeps our queued
# QoS 1 messages that long. Beyond it an ingest worker is considered gone for good.
SESSION_EXPIRY_SECONDS = 7 * 24 * 3600
MISC_LOOP_INTERVAL_SECONDS = 1.0
# One recv() per this many bytes instead of several per message; a few hundred
# messages' worth, small enough to stay in the CPU cache.
RECV_CHUNK_BYTES = 65536
CONNECT_TIMEOUT_SECONDS = 10.0
# asyncio.timeout, never wait_for, around waits a stop may cancel: Python 3.11's wait_for
# returns normally when cancelled just as what it waits for completes, so the stop is lost
# and the task waits on forever (seen: a SIGTERMed worker never exiting).


@dataclass(frozen=True, slots=True)
class InboundMessage:
    """A message as received, before any decoding. `generation` names the connection."""

    topic: str
    payload: bytes
    mid: int
    qos: int
    received_at_s: float  # time.time() at receipt
    generation: int


class _BufferedClient(paho.Client):
    """paho with a read buffer.

    paho reads a packet's fixed header one byte per recv() call, so on a busy stream
    each message costs several system calls and an event-loop pass. This reads the
    socket RECV_CHUNK_BYTES at a time and serves paho's reads from the buffer;
    `has_buffered_input` tells the reader callback to keep going. paho 2.x routes
    every socket read through `_sock_recv` (hence the pin to paho-mqtt < 3).
    """

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._read_buffer = b""
        self._read_pos = 0

    def _sock_recv(self, bufsize: int) -> bytes:
        if self._read_pos >= len(self._read_buffer):
            data = super()._sock_recv(RECV_CHUNK_BYTES)  # BlockingIOError when none
            if not data:
                return data  # EOF: paho reports the connection lost
            self._read_buffer, self._read_pos = data, 0
        start = self._read_pos
        self._read_pos = min(start + bufsize, len(self._read_buffer))
        return self._read_buffer[start : self._read_pos]

    @property
    def has_buffered_input(self) -> bool:
        """Bytes already read from the socket that paho has not consumed yet."""
        return self._read_pos < len(self._read_buffer)

    def drop_buffered_input(self) -> None:
        """Forget bytes of a closed connection."""
        self._read_buffer, self._read_pos = b"", 0

    def keep_alive_while_paused(self) -> None:
        """While we do not read (backpressure), the broker's PINGRESP waits in the socket
        behind the messages we are not taking yet, and paho, not seeing it, would close
        a healthy connection after one keep-alive. Bytes waiting for us are the broker's
        answer: count them as heard from it. (A broker that sent nothing stays silent
        and is timed out as usual; a dead peer fails our PINGREQ writes.)"""
        sock = self._sock
        if sock is None:
            return
        waiting = self.has_buffered_input or bool(select.select([sock], [], [], 0)[0])
        if waiting:
            with self._msgtime_mutex:
                self._last_bytes_received = paho.time_func()
            self._ping_t = 0


class MqttConnectionError(ConnectionError):
    """The broker refused us or could not be reached."""


class SubscriptionRefused(MqttConnectionError):
    """The broker accepted our login but refused a subscription (its ACL): we would
    receive nothing, so we are not ready."""


class ManualAckSubscriber:
    """Subscribe with QoS 1 and a persistent session; hand messages to `on_message`.

    `on_message` runs synchronously in the event loop and must not block.
    `on_connection_lost` tells the owner that unacknowledged messages of the old
    connection will be redelivered, so it must drop (not ack) what it holds of them.
    """

    def __init__(
        self,
        target: MqttTarget,
        *,
        client_id: str,
        topic_filter: str,
        protocol: str,
        receive_maximum: int,
        on_message: Callable[[InboundMessage], None],
        on_connection_lost: Callable[[], None] = lambda: None,
        also_subscribe: Sequence[str] = (),
        keepalive_s: int = KEEPALIVE_SECONDS,
        session_expiry_s: int = SESSION_EXPIRY_SECONDS,
    ) -> None:
        self._target = target
        self._client_id = client_id
        self._topic_filter = topic_filter
        # Plain (never shared) filters besides the main one: ingest's own heartbeat topic.
        self._also_subscribe = tuple(also_subscribe)
        self._protocol = protocol
        self._receive_maximum = max(1, min(receive_maximum, 65535))
        self._on_message_cb = on_message
        self._on_connection_lost = on_connection_lost
        self._keepalive_s = keepalive_s
        self._session_expiry_s = session_expiry_s
        self._generation = 0
        self._paused = False
        self._fd: int | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._loop_thread: int | None = None
        self._connected: asyncio.Future[ReasonCode] | None = None
        self._subacked: asyncio.Future[list[ReasonCode]] | None = None
        self.refused_filters: tuple[str, ...] = ()  # of the last SUBACK; () when all taken
        self._disconnected = asyncio.Event()
        self._client = self._make_client()

    def _make_client(self) -> _BufferedClient:
        v5 = self._protocol == "5"
        client = _BufferedClient(
            CallbackAPIVersion.VERSION2,
            client_id=self._client_id,
            protocol=paho.MQTTv5 if v5 else paho.MQTTv311,
            clean_session=None if v5 else False,
            manual_ack=True,
            reconnect_on_failure=False,
        )
        if self._target.username:
            client.username_pw_set(self._target.username, self._target.password)
        if self._target.tls:
            client.tls_set()
        client.on_connect = self._on_connect
        client.on_disconnect = self._on_disconnect
        client.on_subscribe = self._on_subscribe
        client.on_message = self._on_paho_message
        client.on_socket_open = self._on_socket_open
        client.on_socket_close = self._on_socket_close
        client.on_socket_register_write = self._on_socket_register_write
        client.on_socket_unregister_write = self._on_socket_unregister_write
        return client

    # -- socket callbacks: paho tells us which socket to watch -------------------------
    # connect() runs in an executor (it blocks on the TCP handshake), so these may be
    # called from that thread; then they hand the work to the loop. On the loop thread
    # they act at once, so a closed socket's number is never unwatched after reuse.
    def _on_loop(self, fn: Callable[..., object], *args: Any) -> None:
        assert self._loop is not None
        if threading.get_ident() == self._loop_thread:
            fn(*args)
        else:
            self._loop.call_soon_threadsafe(fn, *args)

    def _on_socket_open(self, client: paho.Client, userdata: Any, sock: Any) -> None:
        self._on_loop(self._watch_socket, sock.fileno())

    def _watch_socket(self, fd: int) -> None:
        self._client.drop_buffered_input()
        self._fd = fd
        if not self._paused:
            self._add_reader(fd)

    def _add_reader(self, fd: int) -> None:
        assert self._loop is not None
        try:
            self._loop.add_reader(fd, self._read_available)
        except OSError:  # closed before we got to it; paho reports the disconnect
            self._fd = None

    def _read_available(self) -> None:
        """Handle every complete packet we have, not just one per readable event."""
        self._client.loop_read()
        while self._client.has_buffered_input and not self._paused and self._fd is not None:
            self._client.loop_read()

    def _on_socket_close(self, client: paho.Client, userdata: Any, sock: Any) -> None:
        self._on_loop(self._forget_socket, sock.fileno())

    def _forget_socket(self, fd: int) -> None:
        assert self._loop is not None
        self._loop.remove_reader(fd)
        self._loop.remove_writer(fd)
        if self._fd == fd:
            self._fd = None

    def _on_socket_register_write(self, client: paho.Client, userdata: Any, sock: Any) -> None:
        self._on_loop(self._add_writer, sock.fileno())

    def _add_writer(self, fd: int) -> None:
        assert self._loop is not None
        if fd == self._fd or self._fd is None:
            with contextlib.suppress(OSError):
                self._loop.add_writer(fd, self._client.loop_write)

    def _on_socket_unregister_write(self, client: paho.Client, userdata: Any, sock: Any) -> None:
        assert self._loop is not None
        self._on_loop(self._loop.remove_writer, sock.fileno())

    # -- protocol callbacks (always on the loop thread, from loop_read) -----------------
    def _on_connect(
        self, client: paho.Client, userdata: Any, flags: Any, reason: Any, props: Any
    ) -> None:
        if self._connected is not None and not self._connected.done():
            self._connected.set_result(reason)

    def _on_subscribe(
        self, client: paho.Client, userdata: Any, mid: int, codes: Any, props: Any
    ) -> None:
        if self._subacked is not None and not self._subacked.done():
            self._subacked.set_result(list(codes))

    def _on_disconnect(
        self, client: paho.Client, userdata: Any, flags: Any, reason: Any, props: Any
    ) -> None:
        self._disconnected.set()

    def _on_paho_message(self, client: paho.Client, userdata: Any, msg: paho.MQTTMessage) -> None:
        try:
            topic = msg.topic
        except UnicodeDecodeError:  # brokers should refuse these, but never trust the wire
            topic = "<topic not UTF-8>"
        self._on_message_cb(
            InboundMessage(
                topic, bytes(msg.payload), msg.mid, msg.qos, time.time(), self._generation
            )
        )

    # -- flow control and acknowledgements ---------------------------------------------
    def pause_reading(self) -> None:
        """Stop reading from the broker; TCP and the broker's queue hold the rest."""
        if not self._paused:
            self._paused = True
            if self._fd is not None and self._loop is not None:
                self._loop.remove_reader(self._fd)

    def resume_reading(self) -> None:
        """Read again after pause_reading."""
        if self._paused:
            self._paused = False
            if self._fd is not None and self._loop is not None:
                self._add_reader(self._fd)
                # Packets already in our buffer will not make the socket readable again.
                self._loop.call_soon(self._read_available)

    @property
    def generation(self) -> int:
        """The current connection's number; messages of older ones cannot be acked."""
        return self._generation

    def ack(self, messages: Iterable[InboundMessage]) -> int:
        """PUBACK each QoS 1 message of the current connection; returns how many."""
        count = 0
        for message in messages:
            if message.generation == self._generation and message.qos > 0:
                self._client.ack(message.mid, message.qos)
                count += 1
        return count

    async def forward(self, batch: CommittedBatch, home_of: Mapping[str, str]) -> None:
        """Nothing to do: on one machine the detectors take the batch in-process."""

    def publish(self, topic: str, payload: bytes) -> bool:
        """Publish with QoS 1 on the current connection (ingest's heartbeat); False, and
        nothing queued, while not connected."""
        if not self._client.is_connected():
            return False
        return self._client.publish(topic, payload, qos=1).rc == paho.MQTT_ERR_SUCCESS

    # -- connection lifetime ------------------------------------------------------------
    async def run(self, ready: asyncio.Event | None = None) -> None:
        """Connect, subscribe and keep reconnecting with jittered backoff until cancelled."""
        self._loop = asyncio.get_running_loop()
        self._loop_thread = threading.get_ident()
        backoff = Backoff()
        outage_started: float | None = None
        try:
            while True:
                try:
                    await self._connect_and_subscribe()
                except SubscriptionRefused as exc:
                    if outage_started is None:
                        outage_started = time.monotonic()
                        log.error(kv(
                            "subscription_refused", host=self._target.host,
                            user=self._target.username, refused=exc,
                            meanwhile="not ready; nothing is received; retrying",
                            action="let this login subscribe: eldercare broker init",
                        ))  # fmt: skip
                    await asyncio.sleep(backoff.next_delay_s())
                    continue
                except (OSError, MqttConnectionError, TimeoutError) as exc:
                    if outage_started is None:
                        outage_started = time.monotonic()
                        log.warning(kv("broker_unavailable", host=self._target.host, error=exc))
                    await asyncio.sleep(backoff.next_delay_s())
                    continue
                if outage_started is not None:
                    log.info(
                        kv("broker_recovered", outage_s=round(time.monotonic() - outage_started, 1))
                    )
                    outage_started = None
                backoff.reset()
                self.refused_filters = ()
                if ready is not None:
                    ready.set()
                await self._serve_until_disconnected()
                outage_started = time.monotonic()
                log.warning(kv("broker_connection_lost", host=self._target.host))
        finally:
            self._close()

    def _close(self) -> None:
        """Leave cleanly: send DISCONNECT now (the session stays) and unhook the socket."""
        self._client.disconnect()
        self._client.loop_write()  # writes DISCONNECT; paho then closes the socket
        if self._fd is not None:
            self._forget_socket(self._fd)
        # paho may touch the socket again when garbage-collected, after our loop is gone.
        self._client.on_socket_close = None
        self._client.on_socket_unregister_write = None

    async def _connect_and_subscribe(self) -> None:
        assert self._loop is not None
        self._disconnected.clear()
        self._connected = self._loop.create_future()
        properties = None
        kwargs: dict[str, Any] = {}
        if self._protocol == "5":
            properties = Properties(PacketTypes.CONNECT)
            properties.SessionExpiryInterval = self._session_expiry_s
            properties.ReceiveMaximum = self._receive_maximum
            kwargs["clean_start"] = False
        await self._loop.run_in_executor(
            None,
            lambda: self._client.connect(
                self._target.host, self._target.port, self._keepalive_s,
                properties=properties, **kwargs,
            ),
        )  # fmt: skip
        try:
            async with asyncio.timeout(CONNECT_TIMEOUT_SECONDS):  # not wait_for: see the top
                reason = await asyncio.shield(self._connected)
        except TimeoutError:
            self._client.disconnect()
            raise
        if reason.is_failure:
            self._client.disconnect()
            raise MqttConnectionError(f"broker refused the connection: {reason}")
        await self._subscribe()
        log.info(kv("broker_connected", host=self._target.host, port=self._target.port,
                    client_id=self._client_id, topic=self._topic_filter))  # fmt: skip

    async def _subscribe(self) -> None:
        """Subscribe and read the SUBACK: a refused filter (reason code 0x80 or more,
        e.g. the broker's ACL) is a failed connection, retried with backoff, never a
        worker that looks connected and receives nothing."""
        assert self._loop is not None
        filters = [(f, 1) for f in (self._topic_filter, *self._also_subscribe)]
        self._subacked = self._loop.create_future()
        result, _ = self._client.subscribe(filters)
        if result != paho.MQTT_ERR_SUCCESS:
            raise MqttConnectionError(f"subscribe failed: {paho.error_string(result)}")
        try:
            async with asyncio.timeout(CONNECT_TIMEOUT_SECONDS):
                codes = await asyncio.shield(self._subacked)
        except TimeoutError:
            self._client.disconnect()
            raise
        refused = [
            (f, code) for (f, _), code in zip(filters, codes, strict=False) if code.is_failure
        ]
        self.refused_filters = tuple(f for f, _ in refused)
        if refused:
            self._client.disconnect()
            raise SubscriptionRefused(
                "; ".join(f"{f} refused ({code}, 0x{code.value:02x})" for f, code in refused)
            )

    async def _serve_until_disconnected(self) -> None:
        """Drive paho's timers (keepalive pings, retries) until the connection drops."""
        while not self._disconnected.is_set():
            if self._paused:
                self._client.keep_alive_while_paused()
            if self._client.loop_misc() != paho.MQTT_ERR_SUCCESS:
                break
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(MISC_LOOP_INTERVAL_SECONDS):
                    await self._disconnected.wait()
        # From here on, nothing received on the old connection may be acked: the broker
        # will redeliver it on the next one.
        self._generation += 1
        self._on_connection_lost()


def _end_session_blocking(target: MqttTarget, client_id: str, protocol: str) -> None:
    v5 = protocol == "5"
    client = paho.Client(
        CallbackAPIVersion.VERSION2,
        client_id=client_id,
        protocol=paho.MQTTv5 if v5 else paho.MQTTv311,
        clean_session=None if v5 else True,
    )
    if target.username:
        client.username_pw_set(target.username, target.password)
    if target.tls:
        client.tls_set()
    answered = threading.Event()
    outcome: list[Any] = []

    def on_connect(c: paho.Client, u: Any, flags: Any, reason: Any, props: Any) -> None:
        outcome.append(reason)
        answered.set()

    client.on_connect = on_connect
    kwargs: dict[str, Any] = {"clean_start": True} if v5 else {}
    properties = None
    if v5:
        properties = Properties(PacketTypes.CONNECT)
        properties.SessionExpiryInterval = 0
    client.connect(target.host, target.port, KEEPALIVE_SECONDS, properties=properties, **kwargs)
    client.loop_start()
    try:
        if not answered.wait(CONNECT_TIMEOUT_SECONDS):
            raise MqttConnectionError("the broker did not answer")
        if outcome[0].is_failure:
            raise MqttConnectionError(f"broker refused the connection: {outcome[0]}")
    finally:
        client.disconnect()
        client.loop_stop()


async def end_session(target: MqttTarget, client_id: str, protocol: str) -> None:
    """Discard the broker's session of `client_id` (its subscriptions, its `$share`
    membership and its queue): connect with a clean start and no session expiry."""
    await asyncio.to_thread(_end_session_blocking, target, client_id, protocol)
