"""Past one machine, the detectors' input: their partitions of the committed-readings
stream on the NATS cluster (an I/O shell; ingest publishes to it, core/committed.py).

Each partition is one durable pull consumer, read in order by the one worker that owns it
(ELDERCARE_DETECTOR_SHARE: index/count); its batches go to `on_batch` (the detector
service's queue) and are acked once handed over. A crash loses nothing: the service
restores each home's saved state and replays what storage holds since, and the stream
redelivers what was not acked; readings seen twice are dropped by the engine.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable

import nats.errors
import nats.js.errors
from nats.js import JetStreamContext
from nats.js.api import AckPolicy, ConsumerConfig, DeliverPolicy

from core.committed import committed_subject, decode_committed
from core.logs import kv
from core.pipeline import CommittedBatch
from ingest.nats_client import COMMITTED_STREAM, NatsTarget, connect, ensure_streams, when_ready

log = logging.getLogger("eldercare.detectors.feed")

FETCH_BATCH = 100
FETCH_WAIT_S = 0.25
ACK_WAIT_S = 60.0


def consumer_name(partition: int) -> str:
    """The durable consumer of one partition (the same whichever worker owns it)."""
    return f"detectors-{partition}"


class CommittedFeed:
    """Follow the owned partitions until cancelled; `ready` is set once subscribed."""

    def __init__(
        self,
        target: NatsTarget,
        partitions: list[int],
        on_batch: Callable[[CommittedBatch], None],
        *,
        name: str = "detectors",
    ) -> None:
        self._target = target
        self._partitions = partitions
        self._on_batch = on_batch
        self._name = name
        self.batches = 0
        self.undecodable = 0

    async def run(self, ready: asyncio.Event | None = None) -> None:
        """Connect, subscribe to every owned partition and follow them."""
        nc = await connect(self._target, self._name)
        try:
            js = nc.jetstream()
            await ensure_streams(js, self._target)
            subs = [await self._subscribe(js, p) for p in self._partitions]
            log.info(kv("detector_feed_ready", partitions=len(subs), name=self._name))
            if ready is not None:
                ready.set()
            async with asyncio.TaskGroup() as tasks:
                for partition, sub in zip(self._partitions, subs, strict=True):
                    tasks.create_task(self._follow(partition, sub), name=f"feed-{partition}")
        finally:
            with contextlib.suppress(Exception):
                await nc.close()

    async def _subscribe(
        self, js: JetStreamContext, partition: int
    ) -> JetStreamContext.PullSubscription:
        config = ConsumerConfig(
            durable_name=consumer_name(partition),
            ack_policy=AckPolicy.EXPLICIT,
            deliver_policy=DeliverPolicy.ALL,
            ack_wait=ACK_WAIT_S,
            filter_subject=committed_subject(partition),
            max_ack_pending=FETCH_BATCH * 4,
        )
        return await when_ready(
            f"subscribe to partition {partition}",
            lambda: js.pull_subscribe(
                committed_subject(partition),
                durable=consumer_name(partition),
                stream=COMMITTED_STREAM,
                config=config,
            ),
            also=(nats.js.errors.NotFoundError,),
        )

    async def _follow(self, partition: int, sub: JetStreamContext.PullSubscription) -> None:
        while True:
            try:
                msgs = await sub.fetch(FETCH_BATCH, timeout=FETCH_WAIT_S)
            except (nats.errors.TimeoutError, TimeoutError):
                continue
            except nats.errors.Error as exc:
                log.debug(kv("detector_feed_fetch_failed", partition=partition, error=exc))
                await asyncio.sleep(FETCH_WAIT_S)
                continue
            for msg in msgs:
                try:
                    batch = decode_committed(msg.data)
                except ValueError as exc:
                    self.undecodable += 1
                    log.error(kv("committed_batch_undecodable", partition=partition, error=exc))
                else:
                    self._on_batch(batch)
                    self.batches += 1
                with contextlib.suppress(nats.errors.Error):
                    await msg.ack()
