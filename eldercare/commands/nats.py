"""`eldercare nats-users`: the NATS cluster's users, one per device (publishing only its own
subjects, subscribing to nothing) and the services' own, as an `authorization` block for
every node's config (the counterpart of Mosquitto's passwd file and ACL)."""

from __future__ import annotations

import argparse
import csv
import os
import sys
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlsplit

from core.settings import Settings
from eldercare.nats_users import authorization_block


def add_parser(subparsers: Any) -> None:
    """Register `nats-users`."""
    parser = subparsers.add_parser(
        "nats-users",
        help="write the NATS cluster's authorization block: a user per device (CSV of "
        "device_id,password) and the services' user of ELDERCARE_NATS_URL",
    )
    parser.add_argument("devices", type=Path, help="CSV file: device_id,password per line")
    parser.add_argument("--out", type=Path, help="write here (mode 0600) instead of stdout")
    parser.set_defaults(handler=run_nats_users)


def run_nats_users(args: argparse.Namespace, settings: Settings) -> int:
    """Read the devices, write the block; a bad line is one clear error, exit 2."""
    if not settings.nats_url:
        print("eldercare: set ELDERCARE_NATS_URL (nats://user:password@host:4222,...): its "
              "user is the services' own", file=sys.stderr)  # fmt: skip
        return 2
    first = urlsplit(settings.nats_url[0])
    if not first.username or not first.password:
        print("eldercare: ELDERCARE_NATS_URL needs the services' user and password "
              "(nats://user:password@host:4222)", file=sys.stderr)  # fmt: skip
        return 2
    try:
        with args.devices.open(newline="", encoding="utf-8") as handle:
            rows = [(r[0].strip(), r[1].strip() if len(r) > 1 else "")
                    for r in csv.reader(handle) if r and not r[0].startswith("#")]  # fmt: skip
        block = authorization_block(rows, unquote(first.username), unquote(first.password))
    except (OSError, ValueError) as exc:
        print(f"eldercare: {args.devices}: {exc}", file=sys.stderr)
        return 2
    if args.out is None:
        sys.stdout.write(block)
    else:
        fd = os.open(args.out, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w", encoding="utf-8") as out:
            out.write(block)
        print(f"wrote {args.out}: {len(rows)} devices")
    return 0
