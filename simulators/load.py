"""The load generator: many devices' readings at a fixed or maximal rate, in its own process.

Run as `python -m simulators.load ...` so the publishing CPU is not the measured
process's: real devices are other machines. Prints one JSON summary line.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from dataclasses import asdict, dataclass

import paho.mqtt.client as paho
from paho.mqtt.enums import CallbackAPIVersion

from core.settings import parse_mqtt_url
from ingest.wire import topic_for

# Publishes not yet acknowledged by the broker before we wait: bounds the publisher's
# memory, and keeps a fixed-rate run from hiding a broker that falls behind.
MAX_UNACKED_PUBLISHES = 5000
TICK_SECONDS = 0.01  # fixed-rate runs publish in bursts this far apart


@dataclass(frozen=True)
class LoadResult:
    """What one publisher process sent."""

    published: int
    seconds: float
    rate_per_s: float


def meter_device_ids(prefix: str, count: int) -> list[str]:
    """The device ids a load run uses (water meters, registered by the caller)."""
    return [f"{prefix}-{i:05d}" for i in range(count)]


def publish_load(
    url: str, client_id: str, device_ids: list[str], count: int, rate_per_s: float, seq_base: int
) -> LoadResult:
    """Publish `count` QoS 1 readings round-robin over `device_ids`; rate 0 means flat out.

    Each payload's `ts` is the publish time, so the consumer can measure latency.
    paho is driven from this one thread (no loop_start): handing every publish to a
    network thread costs more than the publish itself.
    """
    target = parse_mqtt_url(url)
    client = paho.Client(CallbackAPIVersion.VERSION2, client_id=client_id, protocol=paho.MQTTv311)
    if target.username:
        client.username_pw_set(target.username, target.password)
    client.max_inflight_messages_set(MAX_UNACKED_PUBLISHES)
    acked = 0

    def on_publish(*_: object) -> None:
        nonlocal acked
        acked += 1

    client.on_publish = on_publish
    client.connect(target.host, target.port, keepalive=60)
    while not client.is_connected():
        client.loop(timeout=0.1)
    topics = [topic_for(d, "telemetry") for d in device_ids]
    burst = max(1, int(rate_per_s * TICK_SECONDS)) if rate_per_s > 0 else 200
    started = time.monotonic()
    for i in range(count):
        if i % burst == 0:
            if rate_per_s > 0:
                delay = started + i / rate_per_s - time.monotonic()
                if delay > 0:
                    time.sleep(delay)
            client.loop(timeout=0)  # read PUBACKs, send what is queued
            while i - acked >= MAX_UNACKED_PUBLISHES:
                client.loop(timeout=0.01)
        seq = seq_base + i // len(topics)
        payload = f'{{"ts":{int(time.time() * 1000)},"seq":{seq},"volume_l":{seq * 0.5}}}'
        client.publish(topics[i % len(topics)], payload, qos=1)
    deadline = time.monotonic() + 120
    while acked < count and time.monotonic() < deadline:
        client.loop(timeout=0.01)
    seconds = time.monotonic() - started
    client.disconnect()
    return LoadResult(acked, seconds, acked / seconds if seconds else 0.0)


def main(argv: list[str] | None = None) -> int:
    """Command-line entry for one publisher process."""
    parser = argparse.ArgumentParser(description="publish load readings (one process)")
    parser.add_argument("--url", required=True, help="mqtt://user:pass@host:port")
    parser.add_argument("--client-id", required=True)
    parser.add_argument("--prefix", required=True, help="device id prefix")
    parser.add_argument("--devices", type=int, required=True)
    parser.add_argument("--first-device", type=int, default=0)
    parser.add_argument("--device-count", type=int, help="devices this process publishes for")
    parser.add_argument("--count", type=int, required=True)
    parser.add_argument(
        "--rate", type=float, default=0.0, help="messages/s; 0 = as fast as possible"
    )
    parser.add_argument("--seq-base", type=int, default=0)
    args = parser.parse_args(argv)
    ids = meter_device_ids(args.prefix, args.devices)
    mine = ids[args.first_device : args.first_device + (args.device_count or args.devices)]
    if not mine or args.count < 0:
        parser.error("no devices selected or negative count")
    result = publish_load(args.url, args.client_id, mine, args.count, args.rate, args.seq_base)
    print(json.dumps(asdict(result)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
