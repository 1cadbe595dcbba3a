"""The simulator's messages before they go on the wire: plain integer tuples, for speed.

A home yields `RawEvent`s `(ts_ms, device, kind, a, b)`; once sequence numbers are given
and homes are merged they become `Event`s `(ts_ms, home, device, seq, kind, a, b)`, which
sort in the order of the recording. What `a` and `b` hold depends on the kind:

| kind | channel | a | b |
| --- | --- | --- | --- |
| ONLINE, ONLINE_REBOOT | status | battery % | RSSI dBm |
| OFFLINE | status | – | – |
| HEARTBEAT | status | battery % | RSSI dBm |
| MOTION | telemetry | – | – |
| METER | telemetry | index, decilitres | flow, mL/min |
| SMOKE_ALARM | telemetry | 1 alarm / 0 clear | battery % |
| SMOKE_TEST | telemetry | battery % | – |
| METER_BATCH | telemetry | – | reads: ((ts_ms, index dL), …) → ((ts_ms, seq, index dL), …) |
| INGEST_HEARTBEAT | ingest heartbeat topic | – | – |

A METER `b` of -1 is a meter that reports no flow rate. A METER_BATCH is a meter's
batched upload: its `b` holds the reads, given their own sequence numbers (before the
upload's) when the home's events are numbered. INGEST_HEARTBEAT events belong to no home
(home -1): the ingest worker's heartbeat of `simulators.pipeline`.

Kinds are numbered so that, at one instant, a device's "online" comes before its data.
"""

from __future__ import annotations

from typing import Any

ONLINE = 0
ONLINE_REBOOT = 1  # back after a reboot: the device's sequence numbers restart at 0
OFFLINE = 2
HEARTBEAT = 3
MOTION = 4
METER = 5
SMOKE_ALARM = 6
SMOKE_TEST = 7
METER_BATCH = 8
INGEST_HEARTBEAT = 9
STATUS_KINDS = frozenset((ONLINE, ONLINE_REBOOT, OFFLINE, HEARTBEAT))

# `b` is an int but for a METER_BATCH's reads; typed loosely so the hot path stays plain.
RawEvent = tuple[int, int, int, int, Any]
Event = tuple[int, int, int, int, int, int, Any]
