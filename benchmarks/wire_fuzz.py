"""Fuzzing the wire decoder: hostile topics and payloads, as a broken or hostile device
would send them. Nothing may raise; every result is a Reading or a Rejection.

The strategies serve the CI test (tests/test_wire_fuzz.py, a bounded number of examples)
and the long run outside CI, one command:

    python -m benchmarks.wire_fuzz --inputs 1000000

which counts uncaught errors (and `internal:` rejections, the decoder's own catch-all)
instead of stopping at the first, and prints the first few failing inputs.
Needs the `test` extra (hypothesis).
"""

from __future__ import annotations

import argparse
import json
import random
import string
import sys
import time
import traceback
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st

from core.pipeline import heartbeat_topic
from core.readings import DeviceType, Reading
from ingest.wire import (
    MAX_BATCHED_READINGS,
    TOPIC_PREFIX,
    Rejection,
    decode,
    decode_heartbeat,
    encode_payload,
)

DEVICE_IDS = ("m-1", "pir_2", "S-3", "x" * 64)
# Numbers that broke or could break float(), timedelta and datetime arithmetic, written
# as JSON text so they reach the decoder exactly as a device would send them.
HOSTILE_NUMBER_TEXT = (
    "0", "-0", "1", "-1", "0.0", "-0.0", "1e308", "-1e308", "1e309", "-1e309", "1e999",
    "1E-400", "4.9e-324", "9" * 30, "-" + "9" * 30, "1" + "0" * 400, "-1" + "0" * 400,
    "100", "101", "-200", "1e9", "1000000001", "253402300799999", "253402300800000",
    "-62135596800000", "-62135596800001", "9223372036854775807", "9223372036854775808",
    "18446744073709551616", "1.5", "2e-5", "12345678901234567890.5", "NaN", "Infinity",
    "-Infinity", "1_000", "0x10", "01", ".5", "5.", "+1",
)  # fmt: skip
HOSTILE_TS_TEXT = (
    "0001-01-01T00:00:00+01:00", "0001-01-01T00:00:00-23:59", "9999-12-31T23:59:59-01:00",
    "9999-12-31T23:59:59.999999+00:00", "2026-11-29T10:00:00Z", "2026-11-29T10:00:00",
    "2026-02-30T10:00:00Z", "2026-11-29 10:00:00+08:00", "2026-11-29T10:00:00+25:00",
    "1999-12-31T23:59:59Z", "2000-01-01T00:00:00Z", "", "T", "2026", "2026-11-29",
    "2026-11-29T10:00:00.123456789Z", "２０２６-11-29T10:00:00Z", "2026-11-29T10:00:00\x00Z",
)  # fmt: skip
# Large inputs are the point here; hypothesis would warn about them.
SLOW_IS_FINE = [HealthCheck.too_slow, HealthCheck.data_too_large, HealthCheck.filter_too_much]
KNOWN_KEYS = (
    "ts", "seq", "volume_l", "flow_lpm", "battery_pct", "motion", "room", "alarm", "test",
    "online", "rssi_dbm", "fw", "readings",
)  # fmt: skip

texts = st.one_of(
    st.text(max_size=80),
    st.text(alphabet=st.characters(codec="utf-8"), max_size=80),
    st.sampled_from(HOSTILE_TS_TEXT),
    st.just("x" * 70),
    st.just("\x00"),
)
numbers = st.one_of(
    st.integers(),
    st.integers(min_value=-(2**70), max_value=2**70),
    st.floats(allow_nan=False, allow_infinity=False),
    st.sampled_from([0, -1, 100, 101, 2**63 - 1, 2**63, 10**400, -(10**400)]),
)


@dataclass(frozen=True)
class RawNumber:
    """A number to be written as this exact JSON text (hypothesis cannot hand json.dumps
    an integer of 400 digits written as 1 followed by zeros, or the literal NaN)."""

    text: str


scalars = st.one_of(
    st.none(), st.booleans(), numbers, texts, st.sampled_from(HOSTILE_NUMBER_TEXT).map(RawNumber)
)


def _json_values(leaves: st.SearchStrategy[Any]) -> st.SearchStrategy[Any]:
    return st.recursive(
        leaves,
        lambda inner: st.one_of(
            st.lists(inner, max_size=6),
            st.dictionaries(
                st.one_of(st.sampled_from(KNOWN_KEYS), st.text(max_size=8)), inner, max_size=6
            ),
        ),
        max_leaves=8,
    )


json_values = _json_values(scalars)
field_values = st.one_of(scalars, json_values)


@st.composite
def readings_elements(draw: st.DrawFn) -> Any:
    """One element of a batched upload: mostly plausible, often subtly wrong."""
    if draw(st.integers(0, 9)) == 0:
        return draw(field_values)
    element: dict[str, Any] = {}
    for key in ("ts", "seq", "volume_l"):
        if draw(st.integers(0, 9)) > 0:
            element[key] = draw(_plausible(key) if draw(st.booleans()) else field_values)
    return element


def _plausible(key: str) -> st.SearchStrategy[Any]:
    """Values that pass or nearly pass the contract for `key`."""
    now = datetime(2026, 11, 29, 12, tzinfo=UTC)
    times = st.datetimes(min_value=datetime(1990, 1, 1), max_value=datetime(2030, 1, 1),
                         timezones=st.just(UTC))  # fmt: skip
    if key == "ts":
        return st.one_of(
            times.map(lambda t: t.isoformat()),
            times.map(lambda t: int(t.timestamp() * 1000)),
            st.integers(-(2**64), 2**64),
            st.just(now.isoformat()),
            st.sampled_from(HOSTILE_TS_TEXT),
        )
    if key == "seq":
        return st.one_of(st.integers(min_value=-5, max_value=2**64), st.just(0))
    if key == "readings":
        # Long uploads repeat a few drawn elements: drawing 96 of them is slow.
        return st.one_of(
            st.lists(readings_elements(), max_size=4),
            st.builds(lambda elements, times: (elements * times)[: MAX_BATCHED_READINGS + 2],
                      st.lists(readings_elements(), min_size=1, max_size=3),
                      st.integers(1, MAX_BATCHED_READINGS)),
        )  # fmt: skip
    if key in ("motion", "alarm", "test", "online"):
        return st.one_of(st.booleans(), st.none())
    if key in ("room", "fw"):
        return texts
    return st.one_of(numbers, st.sampled_from(HOSTILE_NUMBER_TEXT).map(RawNumber))


@st.composite
def payload_objects(draw: st.DrawFn) -> dict[str, Any]:
    """A JSON object shaped like a device's message, with hostile values in places."""
    obj: dict[str, Any] = {}
    for key in KNOWN_KEYS:
        if draw(st.integers(0, 3)) > 0 or key in ("ts", "seq"):
            obj[key] = draw(_plausible(key) if draw(st.integers(0, 3)) > 0 else field_values)
        if key == "readings" and draw(st.booleans()):
            obj.pop(key, None)
    for key, value in draw(st.dictionaries(st.text(max_size=6), field_values, max_size=3)).items():
        obj.setdefault(key, value)
    return obj


def to_json(value: Any) -> str:
    """JSON text for `value`, RawNumber written verbatim (so any number text reaches the
    decoder), strings allowed to carry lone surrogates."""
    if isinstance(value, RawNumber):
        return value.text
    if isinstance(value, dict):
        return "{" + ",".join(f"{to_json(str(k))}:{to_json(v)}" for k, v in value.items()) + "}"
    if isinstance(value, list):
        return "[" + ",".join(to_json(v) for v in value) + "]"
    return json.dumps(value, ensure_ascii=False, allow_nan=True)


def _encode(text: str) -> bytes:
    # A lone surrogate cannot be UTF-8; a device could still send its bytes.
    return text.encode("utf-8", "surrogatepass")


def _deep(depth: int, opener: str) -> bytes:
    closer = {"[": "]", "{": "}"}[opener]
    inner = '"a":' if opener == "{" else ""
    return ((opener + inner) * depth + "1" + closer * depth).encode()


payloads = st.one_of(
    st.binary(max_size=300),
    # Large random payloads around the size limits (st.binary this size is slow to draw).
    st.builds(lambda seed, n: random.Random(seed).randbytes(n), st.integers(0, 2**32),
              st.integers(4000, 9000)),
    payload_objects().map(lambda o: _encode(to_json(o))),
    payload_objects().map(lambda o: _encode(to_json(o))[: len(_encode(to_json(o))) // 2]),
    json_values.map(lambda v: _encode(to_json(v))),
    st.builds(_deep, st.integers(1, 5000), st.sampled_from("[{")),
    st.builds(lambda o, pad: encode_payload({**o, "pad": "x" * pad}),
              st.fixed_dictionaries({"ts": st.just("2026-11-29T10:00:00Z"), "seq": st.just(1),
                                     "readings": st.just([{}])}),
              st.integers(3900, 8300)),
)  # fmt: skip

valid_topics = st.builds(lambda d, c: f"{TOPIC_PREFIX}{d}/{c}", st.sampled_from(DEVICE_IDS),
                         st.sampled_from(["telemetry", "status"]))  # fmt: skip
topics = st.one_of(
    valid_topics, valid_topics, valid_topics, valid_topics,  # most inputs reach the payload
    st.builds(lambda d, c: f"{TOPIC_PREFIX}{d}/{c}",
              st.text(alphabet=string.printable, max_size=70), st.text(max_size=12)),
    st.text(max_size=120),
    st.builds(lambda n: f"{TOPIC_PREFIX}{'y' * n}/telemetry", st.integers(60, 5000)),
    st.sampled_from(DEVICE_IDS).map(lambda d: heartbeat_topic(d.replace("x" * 64, "w"))),
)  # fmt: skip

device_types = st.one_of(st.none(), st.sampled_from(list(DeviceType)))
# Arrival times span the plausible (and a few extreme) moments: the decoder must not fail
# on its own arithmetic (the window around received_at) either.
received_times = st.one_of(
    st.datetimes(min_value=datetime(2020, 1, 1), max_value=datetime(2035, 1, 1),
                 timezones=st.just(UTC)),
    st.sampled_from([datetime(2026, 11, 29, 12, tzinfo=UTC),
                     datetime(1, 1, 2, tzinfo=UTC), datetime(9999, 12, 30, tzinfo=UTC)]),
)  # fmt: skip
registered_times = st.one_of(
    st.none(),
    st.datetimes(min_value=datetime(2020, 1, 1), max_value=datetime(2035, 1, 1),
                 timezones=st.just(UTC)),
)  # fmt: skip


@dataclass
class FuzzTally:
    """What a run saw."""

    inputs: int = 0
    readings: int = 0
    rejections: Counter[str] = field(default_factory=Counter)
    uncaught: list[str] = field(default_factory=list)  # "<error>: <input>" of the first few
    uncaught_count: int = 0
    internal: list[str] = field(default_factory=list)
    internal_count: int = 0


def check_one(
    topic: str,
    payload: bytes,
    device_type: DeviceType | None,
    received_at: datetime,
    registered_at: datetime | None,
) -> list[Reading | Rejection]:
    """The fuzz property: decoding never raises, and yields Readings and Rejections only."""
    results = decode(topic, payload, lambda _: device_type, received_at,
                     not_before=registered_at)  # fmt: skip
    assert isinstance(results, list) and results, results
    for result in results:
        assert isinstance(result, Reading | Rejection), result
        if isinstance(result, Rejection):
            assert isinstance(result.reason, str) and result.reason
            assert result.element is None or isinstance(result.element, bytes)
    heartbeat = decode_heartbeat(topic, payload, received_at)
    assert heartbeat is None or heartbeat.worker
    return results


def _record(
    tally: FuzzTally,
    topic: str,
    payload: bytes,
    device_type: DeviceType | None,
    received_at: datetime,
    registered_at: datetime | None,
) -> list[Reading | Rejection]:
    """Check one input and count what came of it; an error is counted, not raised."""
    tally.inputs += 1
    try:
        results = check_one(topic, payload, device_type, received_at, registered_at)
    except Exception as exc:  # counted, not raised: the run goes on to the end
        tally.uncaught_count += 1
        if len(tally.uncaught) < 5:
            tally.uncaught.append(f"{exc!r}: {topic!r} {payload[:200]!r}")
            traceback.print_exc()
        return []
    for result in results:
        if isinstance(result, Reading):
            tally.readings += 1
            continue
        reason = result.reason.partition("] ")[2] if result.element else result.reason
        tally.rejections[reason.split(":", 1)[0]] += 1
        if result.reason.startswith("internal") and SANE_FROM < received_at < SANE_UNTIL:
            tally.internal_count += 1
            if len(tally.internal) < 5:
                tally.internal.append(f"{result.reason}: {topic!r} {payload[:200]!r}")
    return results


SANE_FROM = datetime(2000, 1, 2, tzinfo=UTC)
SANE_UNTIL = datetime(9000, 1, 1, tzinfo=UTC)


def structured_inputs(count: int, tally: FuzzTally) -> list[tuple[str, bytes]]:
    """`count` inputs drawn by hypothesis from the strategies above, each checked; returns
    them as the corpus the mutation phase starts from."""
    corpus: list[tuple[str, bytes]] = []

    @settings(max_examples=count, database=None, deadline=None, derandomize=True,
              phases=[Phase.generate], suppress_health_check=SLOW_IS_FINE)  # fmt: skip
    @given(topics, payloads, device_types, received_times, registered_times)
    def one(topic: str, payload: bytes, device_type: DeviceType | None, received_at: datetime,
            registered_at: datetime | None) -> None:  # fmt: skip
        _record(tally, topic, payload, device_type, received_at, registered_at)
        corpus.append((topic, payload))

    one()
    return corpus


# Tokens a mutation splices in: the numbers, times and structure that break decoders.
_TOKENS = [t.encode() for t in HOSTILE_NUMBER_TEXT] + [
    json.dumps(t, ensure_ascii=False).encode("utf-8", "surrogatepass") for t in HOSTILE_TS_TEXT
] + [b"{", b"}", b"[", b"]", b'"', b",", b":", b"\\", b"\\u0000", b"\\ud800", b"\xff",
     b"\xc3", b"null", b"true", b"false", b'"readings":[', b'{"ts":', b'"seq":', b'"volume_l":',
     b'"motion":', b'"alarm":', b'"online":', b'"battery_pct":', b'"room":', b'"fw":']  # fmt: skip


def _valid_messages(now: datetime) -> list[tuple[str, bytes]]:
    """Well-formed messages of every kind, so mutations start close to acceptance."""
    ts = now.isoformat()
    meter = f"{TOPIC_PREFIX}m-1/telemetry"
    reads = [{"ts": (now - timedelta(hours=n)).isoformat(), "seq": 10 - n, "volume_l": 5.0 + n}
             for n in range(4)]  # fmt: skip
    return [
        (meter, encode_payload({"ts": ts, "seq": 1, "volume_l": 12.5, "flow_lpm": 3.0,
                                "battery_pct": 80})),
        (meter, encode_payload({"ts": ts, "seq": 9, "battery_pct": 70, "readings": reads})),
        (f"{TOPIC_PREFIX}pir_2/telemetry",
         encode_payload({"ts": int(now.timestamp() * 1000), "seq": 2, "motion": True,
                         "room": "hall"})),
        (f"{TOPIC_PREFIX}S-3/telemetry", encode_payload({"ts": ts, "seq": 3, "alarm": True})),
        (f"{TOPIC_PREFIX}S-3/telemetry", encode_payload({"ts": ts, "seq": 4, "test": True})),
        (f"{TOPIC_PREFIX}pir_2/status",
         encode_payload({"ts": ts, "seq": 5, "online": False, "rssi_dbm": -80, "fw": "1.0"})),
        (heartbeat_topic("ingest-1"), encode_payload({"ts": ts, "seq": 6})),
    ]  # fmt: skip


def _swap_value(rng: random.Random, data: bytes) -> bytes | None:
    """Parse the payload and replace one value somewhere in it with a hostile one, so the
    result is still JSON and reaches the field checks (None if it is not JSON)."""
    try:
        tree = json.loads(data)
    except (ValueError, RecursionError):
        return None
    holders: list[Any] = []
    stack = [tree]
    while stack:
        node = stack.pop()
        if isinstance(node, dict | list) and node:
            holders.append(node)
            stack.extend(node.values() if isinstance(node, dict) else node)
    if not holders:
        return None
    holder = rng.choice(holders)
    key = rng.choice(list(holder)) if isinstance(holder, dict) else rng.randrange(len(holder))
    holder[key] = rng.choice(_HOSTILE_VALUES)
    try:
        return _encode(to_json(tree))
    except RecursionError:  # nested deeper than our own writer goes
        return None


_HOSTILE_VALUES: list[Any] = [RawNumber(t) for t in HOSTILE_NUMBER_TEXT] + list(
    HOSTILE_TS_TEXT
) + [None, True, False, [], {}, [[[]]], {"ts": None}, "x" * 65, "\x00", "\ud800", -1, 2**64,
     [{"ts": "2026-11-29T10:00:00Z", "seq": 1, "volume_l": 1}] * 97]  # fmt: skip


def _mutate(rng: random.Random, data: bytes, other: bytes) -> bytes:
    """One to four random edits: flips, hostile tokens, cuts, repeats, splices."""
    if rng.random() < 0.5:
        swapped = _swap_value(rng, data)
        if swapped is not None:
            return swapped
    out = bytearray(data)
    for _ in range(rng.randint(1, 4)):
        at = rng.randint(0, len(out))
        op = rng.randrange(7)
        if op == 0 and out:
            out[min(at, len(out) - 1)] = rng.randrange(256)
        elif op in (1, 2):
            out[at:at] = rng.choice(_TOKENS)
        elif op == 3 and out:  # replace a span with a token (a value swapped for another)
            end = min(len(out), at + rng.randint(1, 12))
            out[at:end] = rng.choice(_TOKENS)
        elif op == 4:
            del out[at : at + rng.randint(1, 16)]
        elif op == 5 and out:
            start = rng.randrange(len(out))
            piece = out[start : start + rng.randint(1, 64)]
            out[at:at] = piece * rng.randint(1, 64)
        else:
            cut = rng.randint(0, len(other))
            out[at:] = other[cut:]
    return bytes(out[:9000])


def mutated_inputs(inputs: int, corpus: list[tuple[str, bytes]], tally: FuzzTally, seed: int,
                   report: Callable[[str], None]) -> None:  # fmt: skip
    """Mutate corpus members until `inputs` have been checked; inputs that decoded into
    readings join the corpus (bounded), so later mutations start near acceptance."""
    rng = random.Random(seed)
    now = datetime(2026, 11, 29, 12, tzinfo=UTC)
    valid = _valid_messages(now)
    pool = list(corpus) + valid * 50
    received = [now] * 8 + [now + timedelta(days=400), datetime(2030, 6, 1, tzinfo=UTC)]
    registered: list[datetime | None] = [None, None, now - timedelta(days=30), now]
    types: list[DeviceType | None] = [*DeviceType, None]
    every = max(1, inputs // 20)
    started = time.monotonic()
    while tally.inputs < inputs:
        topic, payload = rng.choice(pool)
        _, other = rng.choice(pool)
        if rng.random() < 0.05:
            topic = _mutate(rng, topic.encode(), b"").decode("utf-8", "replace")
        else:
            if rng.random() < 0.8:  # most inputs should get past the topic
                topic, _ = rng.choice(valid)
            payload = _mutate(rng, payload, other)
        results = _record(tally, topic, payload, rng.choice(types), rng.choice(received),
                          rng.choice(registered))  # fmt: skip
        if any(isinstance(r, Reading) for r in results) and len(pool) < 50_000:
            pool.append((topic, payload))
        if tally.inputs % every == 0:
            rate = tally.inputs / (time.monotonic() - started)
            report(f"  {tally.inputs:>9,} inputs, {tally.uncaught_count} uncaught, "
                   f"{rate:,.0f}/s")  # fmt: skip


def run_fuzz(inputs: int, structured: int = 2000, seed: int = 1,
             report: Callable[[str], None] = print) -> FuzzTally:  # fmt: skip
    """`structured` inputs from the hypothesis strategies, then mutations of them up to
    `inputs` in all (hypothesis alone draws about 200 a second here; mutations some
    thousands), every failure counted."""
    tally = FuzzTally()
    corpus = structured_inputs(min(structured, inputs), tally)
    report(f"  {tally.inputs:,} structured inputs, {tally.uncaught_count} uncaught")
    mutated_inputs(inputs, corpus, tally, seed, report)
    return tally


def main(argv: list[str] | None = None) -> int:
    """`python -m benchmarks.wire_fuzz --inputs N`: fuzz and report; exit 1 on any error."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--inputs", type=int, default=1_000_000)
    parser.add_argument(
        "--structured",
        type=int,
        default=2000,
        help="of --inputs, how many hypothesis draws (the rest are mutations)",
    )
    parser.add_argument("--seed", type=int, default=1, help="of the mutations")
    args = parser.parse_args(argv)
    started = time.monotonic()
    tally = run_fuzz(args.inputs, args.structured, args.seed)
    seconds = time.monotonic() - started
    print(f"inputs {tally.inputs:,} in {seconds:,.0f} s; readings {tally.readings:,}; "
          f"uncaught errors {tally.uncaught_count}; internal rejections (sane arrival time) "
          f"{tally.internal_count}")  # fmt: skip
    print(
        "rejections by kind: " + ", ".join(f"{k} {v:,}" for k, v in tally.rejections.most_common())
    )
    for line in tally.uncaught + tally.internal:
        print("  " + line)
    return 1 if tally.uncaught_count else 0


if __name__ == "__main__":
    sys.exit(main())
