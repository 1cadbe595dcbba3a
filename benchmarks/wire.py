"""`eldercare bench wire`: what the wire decoder costs a message, on ingest's own path.

A fixed mix of the messages a fleet sends (meter telemetry, PIR motion, smoke, status),
decoded as ingest decodes them (`decode_payload` with the registry's type), best of
several rounds of CPU time so a busy machine disturbs it less. A batched upload is timed
on its own, per element.
"""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta
from typing import Any

from core.readings import Channel, DeviceType
from ingest.wire import Topic, decode_payload, encode_payload, format_ts

ROUNDS = 5


def _mix(count: int, now: datetime) -> list[tuple[Topic, bytes, DeviceType]]:
    """`count` messages in the proportions of a simulated home's traffic."""
    out: list[tuple[Topic, bytes, DeviceType]] = []
    for i in range(count):
        ts = format_ts(now - timedelta(seconds=count - i))
        kind = i % 10
        if kind < 4:
            payload: dict[str, Any] = {"ts": ts, "seq": i, "volume_l": 1234.5 + i * 0.1,
                                       "flow_lpm": 0.0}  # fmt: skip
            out.append((Topic(f"m-{i % 500}", Channel.TELEMETRY), encode_payload(payload),
                        DeviceType.WATER_METER))  # fmt: skip
        elif kind < 8:
            payload = {"ts": ts, "seq": i, "motion": True, "room": "kitchen"}
            out.append((Topic(f"p-{i % 500}", Channel.TELEMETRY), encode_payload(payload),
                        DeviceType.PIR))  # fmt: skip
        elif kind == 8:
            payload = {"ts": ts, "seq": i, "online": True, "battery_pct": 80, "rssi_dbm": -70,
                       "fw": "1.4.2"}  # fmt: skip
            out.append((Topic(f"p-{i % 500}", Channel.STATUS), encode_payload(payload),
                        DeviceType.PIR))  # fmt: skip
        else:
            payload = {"ts": ts, "seq": i, "alarm": False, "test": True}
            out.append((Topic(f"s-{i % 500}", Channel.TELEMETRY), encode_payload(payload),
                        DeviceType.SMOKE))  # fmt: skip
    return out


def _upload(now: datetime, elements: int) -> bytes:
    start = now - timedelta(hours=elements)
    reads = [{"ts": format_ts(start + timedelta(hours=n)), "seq": 100 + n,
              "volume_l": 120000.5 + n} for n in range(elements)]  # fmt: skip
    return encode_payload({"ts": format_ts(now), "seq": 99, "battery_pct": 71, "readings": reads})


def _best_cpu_s(run: Any) -> float:
    best = float("inf")
    for _ in range(ROUNDS):
        started = time.process_time()
        run()
        best = min(best, time.process_time() - started)
    return best


def decode_cost(messages: int = 100_000) -> dict[str, Any]:
    """Microseconds of CPU per decoded message (plain mix) and per upload element."""
    now = datetime.now(UTC)
    mix = _mix(messages, now)

    def plain() -> None:
        for topic, payload, device_type in mix:
            decode_payload(topic, payload, device_type, now)

    upload = _upload(now, 24)
    meter = Topic("m-1", Channel.TELEMETRY)
    uploads = max(1, messages // 24)

    def batched() -> None:
        for _ in range(uploads):
            decode_payload(meter, upload, DeviceType.WATER_METER, now)

    plain_s = _best_cpu_s(plain)
    batched_s = _best_cpu_s(batched)
    return {
        "decode_us_per_msg": round(plain_s / messages * 1e6, 2),
        "decode_us_per_upload_element": round(batched_s / (uploads * 24) * 1e6, 2),
    }


def run(messages: int = 100_000) -> dict[str, Any]:
    """Measure, print and return the figures."""
    figures = decode_cost(messages)
    for key, value in figures.items():
        print(f"  {key:<34} {value}", flush=True)
    return figures


if __name__ == "__main__":
    run()
