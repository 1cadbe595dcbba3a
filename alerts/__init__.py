"""Alerts: dedup and lifecycle, routing and escalation, a durable outbox, the channels.

Pure core (values in, values out; no database, HTTP or broker imports): `model`,
`lifecycle`, `intake`, `policy`, `routing`, `escalation`, `throttle`, `templates`,
`signing`. I/O shell: `service` (findings and commands), `notify` (outbox rows in the
caller's transaction), `sweeper` (escalation timers, digests), `dispatcher` (delivers the
outbox), `channels/*` (one module per channel), `callbacks` (the voice gateway's answers).
"""
