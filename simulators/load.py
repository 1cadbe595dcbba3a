"""The load generator: many water meters' readings at a fixed or maximal rate, over processes.

`run_load(plan, target)` starts `plan.processes` publisher processes (`python -m
simulators.load ...`, devices are other machines: the publishing CPU must not be the
measured process's), lets them start together, and sums up what they sent. Each process
prints one JSON `LoadResult` line.

Why the publisher speaks MQTT itself: profiled with paho-mqtt, one process made about
11,000 QoS 1 publishes/s, and most of the time was paho's, not ours: a `send()` system call
per message, a search of every in-flight message on each PUBACK (`_update_inflight`), and a
`Properties`, a `ReasonCode` and a `threading.Condition` built per message. A load
generator needs none of that. MQTT 3.1.1 CONNECT / PUBLISH (QoS 1) / PUBACK is a few lines:
a burst of publishes becomes one buffer and one `sendall`, PUBACKs are counted straight
from the bytes received. It connects with a clean session and plain TCP only (benchmarks
run on loopback or a private network; use the live simulator for TLS brokers).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import select
import socket
import struct
import sys
import time
from dataclasses import asdict, dataclass
from urllib.parse import quote

from core.readings import DEVICE_ID_PATTERN
from core.settings import MqttTarget, parse_mqtt_url
from ingest.wire import topic_for

# Publishes not yet acknowledged by the broker before we wait: bounds the publisher's
# memory and the broker's queue of PUBACKs to us, and keeps a fixed-rate run from hiding a
# broker that falls behind. Below 65,535 so packet ids in flight are always distinct.
MAX_UNACKED_PUBLISHES = 5000
TICK_SECONDS = 0.01  # fixed-rate runs publish in bursts this far apart
# Publishes per send() when flat out: large enough that system calls and the ack check
# cost little per message, small enough that acks keep flowing while we write.
FLAT_OUT_BURST_MESSAGES = 500
KEEPALIVE_SECONDS = 60
CONNECT_TIMEOUT_SECONDS = 10.0
ACK_WAIT_SECONDS = 120.0  # how long the last acks may take before the run is called failed
RECV_CHUNK_BYTES = 65536
MAX_PROCESSES = 64
MAX_DEVICES = 100_000  # device numbers are printed with five digits
# Processes are told to begin publishing this long after they are spawned, so they start
# together (Python and the connection take ~0.3 s); a late one starts at once.
START_DELAY_SECONDS = 1.5
URL_ENV_VARS = ("ELDERCARE_SIMULATOR_MQTT_URL", "ELDERCARE_MQTT_URL")

_CONNACK_REASONS = {
    1: "unacceptable protocol version",
    2: "client identifier rejected",
    3: "server unavailable",
    4: "bad user name or password",
    5: "not authorized",
}
_PUBACK = 0x40
_PINGRESP = 0xD0
_PINGREQ_PACKET = b"\xc0\x00"
_DISCONNECT_PACKET = b"\xe0\x00"


@dataclass(frozen=True)
class LoadResult:
    """What one publisher process sent; times are epoch seconds (0 when not reported)."""

    published: int
    seconds: float
    rate_per_s: float
    started_at: float = 0.0
    finished_at: float = 0.0


def meter_device_ids(prefix: str, count: int) -> list[str]:
    """The device ids a load run uses (water meters, registered by the caller)."""
    return [f"{prefix}-{i:05d}" for i in range(count)]


def _utf8(text: str) -> bytes:
    data = text.encode()
    return struct.pack("!H", len(data)) + data


def _remaining_length(length: int) -> bytes:
    out = bytearray()
    while True:
        byte, length = length & 0x7F, length >> 7
        out.append(byte | (0x80 if length else 0))
        if not length:
            return bytes(out)


def connect_packet(client_id: str, username: str | None, password: str | None) -> bytes:
    """An MQTT 3.1.1 CONNECT with a clean session."""
    flags = 0x02 | (0x80 if username else 0) | (0x40 if username and password else 0)
    body = _utf8("MQTT") + bytes((4, flags)) + struct.pack("!H", KEEPALIVE_SECONDS)
    body += _utf8(client_id)
    if username:
        body += _utf8(username) + (_utf8(password) if password else b"")
    return b"\x10" + _remaining_length(len(body)) + body


class RawPublisher:
    """One MQTT 3.1.1 connection that publishes QoS 1 and counts PUBACKs (blocking I/O)."""

    def __init__(self, target: MqttTarget, client_id: str) -> None:
        if target.tls:
            raise ValueError("the load generator speaks plain MQTT (mqtt://), not mqtts://")
        self.acked = 0
        self._pending = b""
        self._last_send_s = time.monotonic()
        self._sock = socket.create_connection(
            (target.host, target.port), timeout=CONNECT_TIMEOUT_SECONDS
        )
        # We write whole bursts ourselves; Nagle would only hold back the last packet.
        self._sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self._sock.sendall(connect_packet(client_id, target.username, target.password))
        connack = b""
        while len(connack) < 4:
            chunk = self._sock.recv(4 - len(connack))
            if not chunk:
                raise ConnectionError("the broker closed the connection before CONNACK")
            connack += chunk
        if connack[0] != 0x20 or connack[3] != 0:
            reason = _CONNACK_REASONS.get(connack[3], f"code {connack[3]}")
            raise ConnectionRefusedError(f"the broker refused the connection: {reason}")
        self._sock.settimeout(None)

    def send(self, packets: bytes) -> None:
        """Write packets (blocking until the kernel takes them)."""
        self._sock.sendall(packets)
        self._last_send_s = time.monotonic()

    def keep_alive(self) -> None:
        """Ping if nothing was sent for half the keep-alive interval."""
        if time.monotonic() - self._last_send_s > KEEPALIVE_SECONDS / 2:
            self.send(_PINGREQ_PACKET)

    def read_acks(self, timeout_s: float = 0.0) -> None:
        """Count the PUBACKs that arrived, waiting up to `timeout_s` for some."""
        readable, _, _ = select.select([self._sock], [], [], timeout_s)
        if not readable:
            return
        data = self._sock.recv(RECV_CHUNK_BYTES)
        if not data:
            raise ConnectionError(f"the broker closed the connection after {self.acked} acks")
        buf = self._pending + data if self._pending else data
        pos, end, acked = 0, len(buf), 0
        # A publisher only ever receives PUBACK and PINGRESP: two header bytes and a
        # one-byte remaining length. Anything else is a protocol error.
        while pos + 2 <= end:
            kind, length = buf[pos], buf[pos + 1]
            if length & 0x80 or kind not in (_PUBACK, _PINGRESP):
                raise ConnectionError(f"unexpected packet 0x{kind:02x} from the broker")
            if pos + 2 + length > end:
                break
            acked += kind == _PUBACK
            pos += 2 + length
        self.acked += acked
        self._pending = buf[pos:]

    def close(self) -> None:
        """Send DISCONNECT and close the socket."""
        try:
            self._sock.sendall(_DISCONNECT_PACKET)
        except OSError:
            pass  # the broker is gone already; nothing to tell it
        finally:
            self._sock.close()


def _publish_header(remaining: int) -> bytes:
    """Fixed header of a QoS 1 PUBLISH; payloads here are far below 16 KiB."""
    if remaining < 128:
        return bytes((0x32, remaining))
    return bytes((0x32, (remaining & 0x7F) | 0x80, remaining >> 7))


def _sleep_until(conn: RawPublisher, moment: float) -> None:
    """Sleep until time.monotonic() reaches `moment`, reading acks and pinging meanwhile."""
    while (delay := moment - time.monotonic()) > 0:
        conn.read_acks(min(delay, KEEPALIVE_SECONDS / 4))
        conn.keep_alive()


def publish_load(
    url: str,
    client_id: str,
    device_ids: list[str],
    count: int,
    rate_per_s: float,
    seq_base: int,
    start_at: float | None = None,
) -> LoadResult:
    """Publish `count` QoS 1 readings round-robin over `device_ids`; rate 0 means flat out.

    Each payload's `ts` is the time its burst was written (bursts are at most a few
    milliseconds long), so a consumer can measure latency. `start_at` (epoch seconds)
    holds the first publish back so that several processes begin together.
    """
    conn = RawPublisher(parse_mqtt_url(url), client_id)
    topics = [_utf8(topic_for(d, "telemetry")) for d in device_ids]
    n_topics = len(topics)
    burst = max(1, int(rate_per_s * TICK_SECONDS)) if rate_per_s > 0 else FLAT_OUT_BURST_MESSAGES
    try:
        if start_at is not None:
            _sleep_until(conn, time.monotonic() + (start_at - time.time()))
        started, started_at = time.monotonic(), time.time()
        for first in range(0, count, burst):
            if rate_per_s > 0:
                _sleep_until(conn, started + first / rate_per_s)
            last = min(first + burst, count)
            conn.read_acks()
            while last - conn.acked > MAX_UNACKED_PUBLISHES:
                conn.read_acks(0.01)
            ts_ms = int(time.time() * 1000)
            parts: list[bytes] = []
            for i in range(first, last):
                seq = seq_base + i // n_topics
                topic = topics[i % n_topics]
                payload = f'{{"ts":{ts_ms},"seq":{seq},"volume_l":{seq * 0.5}}}'.encode()
                parts += (
                    _publish_header(len(topic) + 2 + len(payload)),
                    topic,
                    (i % 65535 + 1).to_bytes(2, "big"),  # packet id, never 0
                    payload,
                )
            conn.send(b"".join(parts))
        deadline = time.monotonic() + ACK_WAIT_SECONDS
        while conn.acked < count and time.monotonic() < deadline:
            conn.read_acks(0.05)
        seconds = time.monotonic() - started
    finally:
        conn.close()
    if conn.acked < count:
        raise TimeoutError(f"only {conn.acked} of {count} publishes were acknowledged")
    return LoadResult(
        conn.acked, seconds, conn.acked / seconds if seconds else 0.0, started_at, time.time()
    )


# -- several processes ---------------------------------------------------------------------
@dataclass(frozen=True, slots=True)
class LoadPlan:
    """A load run: `messages` readings from `devices` meters at `rate_per_s` in total
    (0: as fast as possible), split over `processes` publisher processes."""

    rate_per_s: float
    messages: int
    processes: int
    devices: int
    prefix: str
    seq_base: int = 0

    def __post_init__(self) -> None:
        if not (self.rate_per_s == 0 or 1 <= self.rate_per_s < float("inf")):
            raise ValueError(f"rate must be 0 (flat out) or at least 1 message/s, "
                             f"got {self.rate_per_s!r}")  # fmt: skip
        if self.messages < 1:
            raise ValueError(f"messages must be at least 1, got {self.messages}")
        if not 1 <= self.processes <= MAX_PROCESSES:
            raise ValueError(f"processes must be from 1 to {MAX_PROCESSES}, got {self.processes}")
        if not self.processes <= self.devices <= MAX_DEVICES:
            raise ValueError(f"devices must be from the number of processes ({self.processes}) "
                             f"to {MAX_DEVICES}, got {self.devices}")  # fmt: skip
        if not DEVICE_ID_PATTERN.fullmatch(f"{self.prefix}-00000"):
            raise ValueError(f"prefix must be 1-58 characters of A-Z a-z 0-9 _ -, "
                             f"got {self.prefix!r}")  # fmt: skip
        if self.seq_base < 0:
            raise ValueError("seq_base must be non-negative")

    def shares(self) -> list[tuple[int, int, int]]:
        """Per process: (first device, device count, message count), remainders first."""
        out = []
        first = 0
        for i in range(self.processes):
            devices = self.devices // self.processes + (i < self.devices % self.processes)
            messages = self.messages // self.processes + (i < self.messages % self.processes)
            out.append((first, devices, messages))
            first += devices
        return out


@dataclass(frozen=True, slots=True)
class LoadSummary:
    """What a load run sent, all processes together."""

    published: int
    seconds: float  # from the common start to the last process's last ack
    rate_per_s: float
    offered_rate_per_s: float  # 0: flat out
    processes: tuple[LoadResult, ...]

    def to_json(self) -> str:
        """One JSON object, per-process results included."""
        processes = [asdict(p) for p in self.processes]
        return json.dumps({**asdict(self), "processes": processes}, separators=(",", ":"))


class LoadError(RuntimeError):
    """A publisher process failed; the message carries what it said."""


def mqtt_url(target: MqttTarget) -> str:
    """A broker target written back as a URL, for a child process's environment."""
    auth = ""
    if target.username:
        auth = quote(target.username, safe="")
        if target.password:
            auth += ":" + quote(target.password, safe="")
        auth += "@"
    return f"{'mqtts' if target.tls else 'mqtt'}://{auth}{target.host}:{target.port}"


async def run_load(plan: LoadPlan, target: MqttTarget, client_id_prefix: str) -> LoadSummary:
    """Run the plan's publisher processes to completion and sum up their results."""
    if target.tls:
        raise ValueError("the load generator speaks plain MQTT (mqtt://), not mqtts://")
    # The URL carries the password, so it goes through the environment, not argv (ps).
    env = {**os.environ, URL_ENV_VARS[0]: mqtt_url(target)}
    start_at = time.time() + START_DELAY_SECONDS
    rate_each = plan.rate_per_s / plan.processes
    procs = []
    try:
        for i, (first, devices, messages) in enumerate(plan.shares()):
            procs.append(await asyncio.create_subprocess_exec(
                sys.executable, "-m", "simulators.load", "--client-id", f"{client_id_prefix}-{i}",
                "--prefix", plan.prefix, "--devices", str(plan.devices),
                "--first-device", str(first), "--device-count", str(devices),
                "--count", str(messages), "--rate", repr(rate_each),
                "--seq-base", str(plan.seq_base), "--start-at", repr(start_at),
                env=env, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
            ))  # fmt: skip
        outputs = [await proc.communicate() for proc in procs]
    finally:
        for proc in procs:
            if proc.returncode is None:  # we were cancelled: do not leave publishers behind
                proc.kill()
                await proc.wait()
    results = []
    for proc, (out, err) in zip(procs, outputs, strict=True):
        if proc.returncode != 0:
            last_line = err.decode(errors="replace").strip().splitlines()[-1:] or ["no output"]
            raise LoadError(f"a publisher process failed: {last_line[0]}")
        results.append(LoadResult(**json.loads(out)))
    published = sum(r.published for r in results)
    seconds = max(r.finished_at for r in results) - min(r.started_at for r in results)
    return LoadSummary(published, seconds, published / seconds if seconds > 0 else 0.0,
                       plan.rate_per_s, tuple(results))  # fmt: skip


def main(argv: list[str] | None = None) -> int:
    """Command-line entry for one publisher process."""
    parser = argparse.ArgumentParser(description="publish load readings (one process)")
    parser.add_argument("--url", help="mqtt://user:pass@host:port (default: "
                        f"{' or '.join(URL_ENV_VARS)})")  # fmt: skip
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
    parser.add_argument("--start-at", type=float, help="epoch seconds to begin publishing at")
    args = parser.parse_args(argv)
    url = args.url or next((os.environ[v] for v in URL_ENV_VARS if os.environ.get(v)), None)
    if not url:
        parser.error(f"no broker: pass --url or set {' or '.join(URL_ENV_VARS)}")
    ids = meter_device_ids(args.prefix, args.devices)
    mine = ids[args.first_device : args.first_device + (args.device_count or args.devices)]
    if not mine or args.count < 0:
        parser.error("no devices selected or negative count")
    result = publish_load(
        url, args.client_id, mine, args.count, args.rate, args.seq_base, args.start_at
    )
    print(json.dumps(asdict(result)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
