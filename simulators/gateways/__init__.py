"""Stand-ins for the outside services the alerts stage talks to, over real HTTP on loopback.

- `simulators.gateways.sms`: an SMS gateway (`POST /v1/messages`), see its docstring;
- `simulators.gateways.voice`: an automated voice-call gateway (`POST /v1/calls`) that
  calls back with the simulated resident's answer, HMAC-signed (`simulators.gateways.signing`).

Both are small, provider-neutral JSON APIs: what a notifier needs to be written and tested
against (idempotency keys, field-level 400s, switchable failures to test retries), not a
copy of any vendor's. Run them with `eldercare gateways`, or in tests with
`async with sms_gateway() as gw:` / `async with voice_gateway(secret=...) as gw:`.
Import from the submodules.
"""
