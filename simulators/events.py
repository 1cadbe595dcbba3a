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

Kinds are numbered so that, at one instant, a device's "online" comes before its data.
"""

from __future__ import annotations

ONLINE = 0
ONLINE_REBOOT = 1  # back after a reboot: the device's sequence numbers restart at 0
OFFLINE = 2
HEARTBEAT = 3
MOTION = 4
METER = 5
SMOKE_ALARM = 6
SMOKE_TEST = 7
STATUS_KINDS = frozenset((ONLINE, ONLINE_REBOOT, OFFLINE, HEARTBEAT))

RawEvent = tuple[int, int, int, int, int]
Event = tuple[int, int, int, int, int, int, int]
