"""`eldercare broker init` and `eldercare devices credentials issue|rotate|revoke`: the
broker's logins, through Mosquitto's dynamic security plugin (eldercare/broker_admin.py)."""

from __future__ import annotations

import argparse
import asyncio
import csv
import io
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

from core.readings import DEVICE_ID_PATTERN
from core.settings import MqttTarget, Settings
from eldercare.broker_admin import BrokerAdminError, Credential, DynsecAdmin, new_secret
from eldercare.dynsec_file import DynsecFileError, add_devices


def add_parser(subparsers: Any) -> None:
    """Register `broker`."""
    broker = subparsers.add_parser("broker", help="the broker's service logins and rights")
    sub = broker.add_subparsers(dest="broker_command", metavar="ACTION", required=True)
    init = sub.add_parser(
        "init",
        help="create (or update) the ingest login and role from ELDERCARE_MQTT_URL, as"
        " ELDERCARE_BROKER_ADMIN_URL; idempotent",
    )
    init.add_argument(
        "--simulator",
        action="store_true",
        help="also the simulator's login from ELDERCARE_SIMULATOR_MQTT_URL, which may publish"
        " for every device (test and demo setups only)",
    )
    init.set_defaults(handler=run_broker_init)


def add_credentials_parser(devices_sub: Any) -> None:
    """Register `devices credentials issue|rotate|revoke` under `devices`."""
    creds = devices_sub.add_parser(
        "credentials", help="devices' broker logins (user name and client id = device id)"
    )
    actions = creds.add_subparsers(dest="credentials_command", metavar="ACTION", required=True)
    helps = {
        "issue": "a new login for each device, its random password printed once (CSV)",
        "rotate": "a new password for each device; the old one is refused from now on",
        "revoke": "delete each device's login (a connected device is disconnected)",
    }
    for action, text in helps.items():
        parser = actions.add_parser(action, help=text)
        parser.add_argument("device_ids", nargs="*", metavar="DEVICE")
        parser.add_argument(
            "--csv", type=Path, help="device ids from a CSV's device_id column (or first column)"
        )
        if action == "issue":
            parser.add_argument(
                "--offline",
                type=Path,
                metavar="DYNSEC_JSON",
                help="write the logins straight into the dynamic security plugin's file, the"
                " broker stopped (one pass, linear: for thousands of devices); no admin login",
            )
        parser.set_defaults(handler=run_credentials, offline=None)


def _device_ids(args: argparse.Namespace) -> list[str]:
    ids = list(args.device_ids)
    if args.csv is not None:
        rows = list(csv.reader(io.StringIO(args.csv.read_text(encoding="utf-8"))))
        column = rows[0].index("device_id") if rows and "device_id" in rows[0] else 0
        first = 1 if rows and "device_id" in rows[0] else 0
        ids += [row[column].strip() for row in rows[first:] if row and row[column].strip()]
    bad = [d for d in ids if not DEVICE_ID_PATTERN.fullmatch(d)]
    if bad:
        raise ValueError(f"device id must match [A-Za-z0-9_-]{{1,64}}: {bad[0]!r}")
    if not ids:
        raise ValueError("name at least one DEVICE or give --csv FILE")
    if len(set(ids)) != len(ids):
        raise ValueError("a device id is named twice")
    return ids


def _admin_target(settings: Settings) -> MqttTarget:
    if settings.broker_admin_url is None:
        raise ValueError(
            "set ELDERCARE_BROKER_ADMIN_URL=mqtt://admin:PASSWORD@host:1883 (the login made by"
            " `mosquitto_ctrl dynsec init`)"
        )
    return settings.broker_admin_url


def _with_admin(settings: Settings, work: Callable[[DynsecAdmin], None]) -> int:
    def blocking() -> None:
        with DynsecAdmin(_admin_target(settings)) as admin:
            work(admin)

    async def go() -> None:  # paho blocks: off the event loop
        await asyncio.to_thread(blocking)

    try:
        asyncio.run(go())
    except (BrokerAdminError, ValueError, OSError) as exc:
        print(f"eldercare: {exc}", file=sys.stderr)
        return 1
    return 0


def _login(target: MqttTarget | None, setting: str) -> tuple[str, str]:
    if target is None or not target.username or not target.password:
        raise ValueError(f"{setting} must carry the login: mqtt://USER:PASSWORD@host:1883")
    return (target.username, target.password)


def run_broker_init(args: argparse.Namespace, settings: Settings) -> int:
    """Create the service logins and roles."""

    def work(admin: DynsecAdmin) -> None:
        ingest = _login(settings.mqtt_url, "ELDERCARE_MQTT_URL")
        simulator = None
        if args.simulator:
            simulator = _login(settings.simulator_mqtt_url, "ELDERCARE_SIMULATOR_MQTT_URL")
        admin.init(ingest, simulator)
        made = f"ingest login {ingest[0]!r}"
        if simulator:
            made += f", simulator login {simulator[0]!r}"
        print(f"broker ready: {made}; devices may publish only their own topics")

    return _with_admin(settings, work)


def _print_credentials(creds: list[Credential]) -> None:
    out = csv.writer(sys.stdout, lineterminator="\n")
    out.writerow(["device_id", "password"])
    out.writerows((c.device_id, c.password) for c in creds)


def run_credentials(args: argparse.Namespace, settings: Settings) -> int:
    """Issue, rotate or revoke devices' broker logins."""
    try:
        device_ids = _device_ids(args)
    except (ValueError, OSError, UnicodeDecodeError) as exc:
        print(f"eldercare: {exc}", file=sys.stderr)
        return 2

    if args.offline is not None:
        return _issue_offline(args.offline, device_ids)

    def work(admin: DynsecAdmin) -> None:
        if args.credentials_command == "issue":
            _print_credentials(admin.issue(device_ids))
        elif args.credentials_command == "rotate":
            _print_credentials(admin.rotate(device_ids))
        else:
            admin.revoke(device_ids)
            print(f"revoked {len(device_ids)} device login(s)")

    return _with_admin(settings, work)


def _issue_offline(path: Path, device_ids: list[str]) -> int:
    """Issue into the plugin's file; the broker must be stopped (it reads the file when it
    starts, and would overwrite these logins with its own copy on its next change)."""
    creds = [Credential(d, new_secret()) for d in device_ids]
    try:
        add_devices(path, creds)
    except (DynsecFileError, OSError) as exc:
        print(f"eldercare: {exc}", file=sys.stderr)
        return 1
    _print_credentials(creds)
    return 0
