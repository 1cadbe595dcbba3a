"""`eldercare gateways`: the SMS and voice-call gateway stand-ins, until Ctrl-C.

    eldercare gateways --sms-port 8025 --voice-port 8026 [--secret S] [--host 127.0.0.1]
                       [--answer-delay 1.0] [--default-answer fine]
                       [--sms-replies-to http://127.0.0.1:8080/callbacks/sms]

Replies to texts (`POST /v1/inbound` on the SMS gateway) are posted to --sms-replies-to.
The voice gateway's callbacks and the SMS replies are signed with the secret (`--secret`, else
ELDERCARE_VOICE_CALLBACK_SECRET; without either a random one is made and printed, since
the receiver must be given it). The APIs are documented in `simulators.gateways.sms` and
`simulators.gateways.voice`.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import math
import secrets
import signal
import sys
from typing import Any

from core.settings import Settings
from simulators.gateways.sms import sms_gateway
from simulators.gateways.voice import ANSWERS, DEFAULT_ANSWER_DELAY_SECONDS, voice_gateway

SECRET_ENV = "ELDERCARE_VOICE_CALLBACK_SECRET"


def _port(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        value = -1
    if not 1 <= value <= 65535:
        raise argparse.ArgumentTypeError(f"must be a TCP port from 1 to 65535, got {text!r}")
    return value


def _delay(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        value = -1.0
    if not (math.isfinite(value) and 0 <= value <= 3600):
        raise argparse.ArgumentTypeError(f"must be from 0 to 3600 seconds, got {text!r}")
    return value


def add_parser(subparsers: Any) -> None:
    """Add `gateways` to the command line."""
    parser = subparsers.add_parser(
        "gateways",
        help="run the SMS and voice-call gateway stand-ins (for notifier development)",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--sms-port", type=_port, required=True, metavar="P")
    parser.add_argument("--voice-port", type=_port, required=True, metavar="Q")
    parser.add_argument("--host", default="127.0.0.1", help="address to listen on")
    parser.add_argument("--secret", metavar="S", help=f"callback signing secret (or {SECRET_ENV})")
    parser.add_argument(
        "--answer-delay", type=_delay, default=DEFAULT_ANSWER_DELAY_SECONDS, metavar="SECONDS",
        help="how long a simulated call takes before its callback",
    )  # fmt: skip
    parser.add_argument("--default-answer", choices=ANSWERS, default="fine")
    parser.add_argument("--sms-replies-to", metavar="URL",
                        help="where replies to texts go: our /callbacks/sms")  # fmt: skip
    parser.set_defaults(handler=run)


async def serve(args: argparse.Namespace, secret: str) -> None:
    """Run both gateways until SIGINT or SIGTERM."""
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signum, stop.set)
    async with (
        sms_gateway(args.host, args.sms_port, secret=secret.encode(),
                    inbound_url=args.sms_replies_to) as sms,
        voice_gateway(secret.encode(), host=args.host, port=args.voice_port,
                      answer_delay_s=args.answer_delay,
                      default_answer=args.default_answer) as voice,
    ):  # fmt: skip
        print(f"SMS gateway {sms.url}/v1/messages, voice gateway {voice.url}/v1/calls; "
              "Ctrl-C stops", flush=True)  # fmt: skip
        await stop.wait()
    for signum in (signal.SIGINT, signal.SIGTERM):
        loop.remove_signal_handler(signum)


def run(args: argparse.Namespace, settings: Settings) -> int:
    """Serve until stopped; 1 if a port cannot be bound, 2 on bad arguments."""
    if args.sms_port == args.voice_port:
        print("eldercare gateways: error: --sms-port and --voice-port must differ",
              file=sys.stderr)  # fmt: skip
        return 2
    secret = args.secret or settings.voice_callback_secret
    if not secret:
        secret = secrets.token_hex(16)
        print(f"no --secret or {SECRET_ENV}: signing callbacks with {secret}", flush=True)
    try:
        with contextlib.suppress(KeyboardInterrupt):
            asyncio.run(serve(args, secret))
    except OSError as exc:
        print(f"eldercare gateways: {exc}", file=sys.stderr)
        return 1
    return 0
