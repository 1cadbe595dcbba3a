"""Ingest's transport past one machine: a NATS JetStream cluster (see ingest/transport.py).

Devices publish over the cluster's MQTT listener unchanged; NATS maps the topic
`eldercare/v1/devices/X/telemetry` to the subject `eldercare.v1.devices.X.telemetry`, which
the DEVICES stream (replicated on up to three nodes) keeps. Every ingest worker fetches
from one durable pull consumer, so the workers split the stream; a fetched message not
acked within ACK_WAIT_S goes to another fetch (a worker that died), while a worker still
holding one (the database away) tells the server it is in progress. Reading stops while
too much is unacked: nothing is fetched, the stream holds the rest.

After each commit the batch goes on to the COMMITTED stream split by home partition
(core/committed.py), published and confirmed before the batch's messages are acked.

The worker's heartbeat goes over plain NATS on its own subject (not through the stream,
which every worker shares): it proves the connection to the cluster and the commit path.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Awaitable, Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import TypeVar

import nats
import nats.errors
import nats.js.errors
from nats.aio.client import Client as NatsClient
from nats.aio.msg import Msg
from nats.js import JetStreamContext
from nats.js.api import AckPolicy, ConsumerConfig, DeliverPolicy, StorageType, StreamConfig

from core.backoff import Backoff
from core.committed import COMMITTED_SUBJECT_PREFIX, committed_subject, split_committed
from core.logs import kv
from core.pipeline import CommittedBatch
from core.supervise import cancel_requested
from ingest.mqtt_client import InboundMessage

log = logging.getLogger("eldercare.ingest.nats")

DEVICES_STREAM = "ELDERCARE_DEVICES"
DEVICES_SUBJECTS = "eldercare.v1.devices.>"
COMMITTED_STREAM = "ELDERCARE_COMMITTED"
INGEST_CONSUMER = "ingest"
# A batch commits in well under a second; a worker that has not acked in this long is
# taken for dead and its messages go to the next fetch. A worker that is alive but held
# (the database away) marks what it holds as in progress every third of it.
ACK_WAIT_S = 30.0
# Unacked messages over the whole consumer: room for this many workers each at its limit.
MAX_WORKERS = 16
FETCH_WAIT_S = 0.25  # a fetch returns when its batch is full or after this
# Streams keep what they hold this long (the log to the detectors a week; the devices'
# messages until acked by ingest, bounded in age in case no worker runs for long).
DEVICES_MAX_AGE_S = 7 * 24 * 3600.0
COMMITTED_MAX_AGE_S = 7 * 24 * 3600.0
MAX_REPLICAS = 3


@dataclass(frozen=True, slots=True)
class NatsTarget:
    """Where the cluster is: every node's URL, and the committed stream's partitions."""

    servers: tuple[str, ...]
    partitions: int = 64
    ack_wait_s: float = ACK_WAIT_S

    @property
    def replicas(self) -> int:
        """Replicas of each stream: one per listed node, up to three."""
        return max(1, min(MAX_REPLICAS, len(self.servers)))


def subject_topic(subject: str) -> str:
    """The MQTT topic of a NATS subject (NATS turns each `/` into `.`)."""
    return subject.replace(".", "/")


def topic_subject(topic: str) -> str:
    """The NATS subject of an MQTT topic without dots (ours: ids exclude them)."""
    return topic.replace("/", ".")


async def connect(target: NatsTarget, name: str, **callbacks: object) -> NatsClient:
    """A connection that keeps reconnecting to any node of the cluster."""
    return await nats.connect(
        servers=list(target.servers),
        name=name,
        allow_reconnect=True,
        max_reconnect_attempts=-1,
        reconnect_time_wait=0.5,
        connect_timeout=5,
        **callbacks,
    )


_T = TypeVar("_T")
NOT_READY: tuple[type[Exception], ...] = (
    nats.errors.TimeoutError,
    nats.errors.NoRespondersError,
    nats.js.errors.ServiceUnavailableError,
    nats.js.errors.ServerError,
)


async def when_ready(
    what: str, action: Callable[[], Awaitable[_T]], also: tuple[type[Exception], ...] = ()
) -> _T:
    """`action`, retried while the cluster is still electing its JetStream leaders (the
    first seconds after it starts, or after a node is lost); reported once."""
    backoff = Backoff(base_s=0.2, cap_s=5.0)
    reported = False
    retry = NOT_READY + also
    while True:
        try:
            return await action()
        except retry as exc:
            if not reported:
                log.warning(kv("jetstream_not_ready", action=what, error=type(exc).__name__))
                reported = True
            await asyncio.sleep(backoff.next_delay_s())


async def ensure_streams(js: JetStreamContext, target: NatsTarget) -> None:
    """Create the device and committed streams if they are not there yet."""
    await when_ready("create streams", lambda: _ensure_streams(js, target))


async def _ensure_streams(js: JetStreamContext, target: NatsTarget) -> None:
    for config in (
        StreamConfig(name=DEVICES_STREAM, subjects=[DEVICES_SUBJECTS],
                     num_replicas=target.replicas, storage=StorageType.FILE,
                     max_age=DEVICES_MAX_AGE_S),
        StreamConfig(name=COMMITTED_STREAM, subjects=[f"{COMMITTED_SUBJECT_PREFIX}>"],
                     num_replicas=target.replicas, storage=StorageType.FILE,
                     max_age=COMMITTED_MAX_AGE_S),
    ):  # fmt: skip
        try:
            await js.stream_info(config.name or "")
        except nats.js.errors.NotFoundError:
            with contextlib.suppress(nats.js.errors.BadRequestError):  # another won the race
                await js.add_stream(config)


def _stop_if_asked() -> None:
    """nats-py waits with Python 3.11's wait_for, which now and then returns, or times out,
    instead of passing a cancellation on (seen: a SIGTERMed worker's fetch loop waiting on
    forever): each loop takes up a stop swallowed that way."""
    if cancel_requested():
        raise asyncio.CancelledError


class JetStreamSubscriber:
    """Fetch device messages from the shared durable consumer; see the module doc."""

    def __init__(
        self,
        target: NatsTarget,
        *,
        client_id: str,
        batch_size: int,
        max_inflight: int,
        on_message: Callable[[InboundMessage], None],
        on_connection_lost: Callable[[], None] = lambda: None,
        also_subscribe: Sequence[str] = (),
    ) -> None:
        self._target = target
        self._client_id = client_id
        self._batch_size = batch_size
        self._max_inflight = max_inflight
        self._on_message = on_message
        self._on_connection_lost = on_connection_lost
        self._also_subscribe = tuple(also_subscribe)
        # The consumer is the cluster's, bound by the server config: nothing to refuse here.
        self.refused_filters: tuple[str, ...] = ()
        self._nc: NatsClient | None = None
        self._js: JetStreamContext | None = None
        self._generation = 0
        self._next_mid = 0
        self._held: dict[int, Msg] = {}  # fetched, not yet acked, by our message number
        self._acks: list[Msg] = []
        self._ack_due = asyncio.Event()
        self._reading = asyncio.Event()
        self._reading.set()
        self._connected = asyncio.Event()
        self._ready: asyncio.Event | None = None
        self._publishing: set[asyncio.Task[None]] = set()  # heartbeats on their way

    async def run(self, ready: asyncio.Event | None = None) -> None:
        """Connect, ensure the streams and the consumer, and fetch until cancelled."""
        self._ready = ready
        nc = await connect(self._target, self._client_id,
                           disconnected_cb=self._disconnected, reconnected_cb=self._reconnected,
                           error_cb=self._error)  # fmt: skip
        self._nc = nc
        try:
            js = nc.jetstream()
            self._js = js
            await ensure_streams(js, self._target)
            config = ConsumerConfig(
                durable_name=INGEST_CONSUMER,
                ack_policy=AckPolicy.EXPLICIT,
                deliver_policy=DeliverPolicy.ALL,
                ack_wait=self._target.ack_wait_s,
                max_ack_pending=self._max_inflight * MAX_WORKERS,
                max_waiting=4 * MAX_WORKERS,
            )
            pull = await when_ready(
                "create the ingest consumer",
                lambda: js.pull_subscribe(
                    DEVICES_SUBJECTS, durable=INGEST_CONSUMER, stream=DEVICES_STREAM, config=config
                ),
                also=(nats.js.errors.NotFoundError,),
            )  # a new stream is placed a moment later
            for topic in self._also_subscribe:
                await nc.subscribe(topic_subject(topic), cb=self._plain_message)
            log.info(kv("broker_connected", transport="nats", servers=",".join(
                self._target.servers), client_id=self._client_id))  # fmt: skip
            self._connected.set()
            if ready is not None:
                ready.set()
            async with asyncio.TaskGroup() as tasks:
                tasks.create_task(self._fetch_loop(pull), name="nats-fetch")
                tasks.create_task(self._ack_loop(nc), name="nats-ack")
                tasks.create_task(self._progress_loop(), name="nats-progress")
        finally:
            # Close, not drain: what we hold unacked is redelivered to the other workers.
            with contextlib.suppress(Exception):
                await nc.close()

    # -- connection events --------------------------------------------------------------
    async def _disconnected(self) -> None:
        if not self._connected.is_set():
            return
        self._connected.clear()
        log.warning(kv("broker_connection_lost", transport="nats"))
        # What we hold will come again from the stream: forget it, ack none of it.
        self._generation += 1
        self._held.clear()
        self._on_connection_lost()

    async def _reconnected(self) -> None:
        log.info(kv("broker_recovered", transport="nats"))
        self._connected.set()
        if self._ready is not None:
            self._ready.set()

    async def _error(self, exc: Exception) -> None:
        log.debug(kv("nats_error", error=exc))

    # -- receiving ----------------------------------------------------------------------
    async def _fetch_loop(self, pull: JetStreamContext.PullSubscription) -> None:
        while True:
            _stop_if_asked()
            await self._reading.wait()
            await self._connected.wait()
            room = self._max_inflight - len(self._held)
            if room <= 0:
                await asyncio.sleep(0.05)
                continue
            try:
                msgs = await pull.fetch(min(self._batch_size, room), timeout=FETCH_WAIT_S)
            except (nats.errors.TimeoutError, TimeoutError):
                continue
            except (nats.errors.ConnectionClosedError, nats.errors.NoRespondersError,
                    nats.js.errors.APIError, nats.errors.Error) as exc:  # fmt: skip
                log.debug(kv("nats_fetch_failed", error=exc))
                await asyncio.sleep(FETCH_WAIT_S)
                continue
            now = time.time()
            for msg in msgs:
                self._next_mid += 1
                self._held[self._next_mid] = msg
                topic = subject_topic(msg.subject)
                mid, generation = self._next_mid, self._generation
                self._on_message(InboundMessage(topic, msg.data, mid, 1, now, generation))

    async def _plain_message(self, msg: Msg) -> None:
        self._on_message(InboundMessage(subject_topic(msg.subject), msg.data, 0, 0,
                                        time.time(), self._generation))  # fmt: skip

    def pause_reading(self) -> None:
        """Stop fetching; the stream holds the rest."""
        self._reading.clear()

    def resume_reading(self) -> None:
        """Fetch again."""
        self._reading.set()

    # -- acknowledging ------------------------------------------------------------------
    def ack(self, messages: Iterable[InboundMessage]) -> int:
        """Ack committed messages of the current connection (sent by the ack loop)."""
        count = 0
        for message in messages:
            if message.generation == self._generation and message.qos > 0:
                msg = self._held.pop(message.mid, None)
                if msg is not None:
                    self._acks.append(msg)
                    count += 1
        if count:
            self._ack_due.set()
        return count

    async def _ack_loop(self, nc: NatsClient) -> None:
        while True:
            _stop_if_asked()
            await self._ack_due.wait()
            self._ack_due.clear()
            acks, self._acks = self._acks, []
            try:
                for msg in acks:
                    await msg.ack()
                await nc.flush()
            except nats.errors.Error as exc:  # not acked: redelivered, stored once anyway
                log.debug(kv("nats_ack_failed", error=exc, messages=len(acks)))

    async def _progress_loop(self) -> None:
        """Tell the server that what we hold is still being worked on (a held batch)."""
        while True:
            _stop_if_asked()
            await asyncio.sleep(self._target.ack_wait_s / 3)
            if not self._connected.is_set():
                continue
            cutoff = time.time() - self._target.ack_wait_s / 3
            for msg in list(self._held.values()):
                if msg.metadata.timestamp.timestamp() < cutoff:
                    with contextlib.suppress(nats.errors.Error):
                        await msg.in_progress()

    # -- publishing ---------------------------------------------------------------------
    def publish(self, topic: str, payload: bytes) -> bool:
        """Publish the heartbeat on plain NATS; False while not connected."""
        nc = self._nc
        if nc is None or not nc.is_connected:
            return False
        task = asyncio.get_running_loop().create_task(nc.publish(topic_subject(topic), payload))
        self._publishing.add(task)  # held until done: the loop keeps only weak references
        task.add_done_callback(self._published)
        return True

    def _published(self, task: asyncio.Task[None]) -> None:
        self._publishing.discard(task)
        if not task.cancelled():
            task.exception()  # a lost heartbeat is noticed by its absence, not here

    async def forward(self, batch: CommittedBatch, home_of: Mapping[str, str]) -> None:
        """Publish a committed batch to its partitions and wait for the stream to confirm
        every part (retrying while the cluster elects a leader or we reconnect)."""
        js = self._js
        assert js is not None, "run() first"
        parts = split_committed(batch, home_of, self._target.partitions)
        pending = dict(parts)
        delay_s = 0.1
        while pending:
            results = await asyncio.gather(
                *(
                    js.publish(committed_subject(p), data, timeout=5.0)
                    for p, data in pending.items()
                ),
                return_exceptions=True,
            )
            for partition, result in zip(list(pending), results, strict=True):
                if not isinstance(result, BaseException):
                    del pending[partition]
                elif not isinstance(result, nats.errors.Error | TimeoutError):
                    raise result
            if pending:
                log.warning(kv("committed_publish_retry", parts=len(pending)))
                await asyncio.sleep(delay_s)
                delay_s = min(delay_s * 2, 5.0)
