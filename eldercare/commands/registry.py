"""`eldercare homes add`, `eldercare devices add`, `eldercare devices import FILE.csv`."""

from __future__ import annotations

import argparse
import asyncio
import sys
from pathlib import Path
from typing import Any

import asyncpg

from core.readings import DEVICE_ID_PATTERN, DeviceType
from core.registry import HOME_ID_PATTERN, RegistryError, check_timezone, parse_registry_csv
from core.settings import Settings
from eldercare.commands.broker import add_credentials_parser
from eldercare.runtime import database, migrate_and_detect
from storage.registry import DuplicateError, NotFoundError, add_device, add_home, import_registry


def _pattern_arg(pattern: Any, what: str) -> Any:
    def parse(text: str) -> str:
        if not pattern.fullmatch(text):
            raise argparse.ArgumentTypeError(f"{what} must match [A-Za-z0-9_-]{{1,64}}: {text!r}")
        return text

    return parse


def _timezone_arg(text: str) -> str:
    try:
        return check_timezone(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def add_parser(subparsers: Any) -> None:
    """Register `homes` and `devices`."""
    homes = subparsers.add_parser("homes", help="register homes")
    homes_sub = homes.add_subparsers(dest="homes_command", metavar="ACTION", required=True)
    add = homes_sub.add_parser("add", help="register one home")
    add.add_argument("home_id", type=_pattern_arg(HOME_ID_PATTERN, "home id"))
    add.add_argument("--timezone", type=_timezone_arg, help="IANA name (default: the setting)")
    add.add_argument("--address")
    add.add_argument("--street", help="street office the home belongs to")
    add.add_argument("--district")
    add.set_defaults(handler=run_homes_add)

    devices = subparsers.add_parser("devices", help="register devices")
    dev_sub = devices.add_subparsers(dest="devices_command", metavar="ACTION", required=True)
    dev_add = dev_sub.add_parser("add", help="register one device in an existing home")
    dev_add.add_argument("device_id", type=_pattern_arg(DEVICE_ID_PATTERN, "device id"))
    dev_add.add_argument("--type", required=True, choices=[t.value for t in DeviceType])
    dev_add.add_argument("--home", required=True, type=_pattern_arg(HOME_ID_PATTERN, "home id"))
    dev_add.add_argument("--room")
    dev_add.set_defaults(handler=run_devices_add)
    dev_import = dev_sub.add_parser(
        "import",
        help="import a registry CSV (home_id,device_id,type,room[,timezone]); all or nothing",
    )
    dev_import.add_argument("file", type=Path)
    dev_import.set_defaults(handler=run_devices_import)
    add_credentials_parser(dev_sub)


def _run(settings: Settings, action: Any) -> int:
    async def go() -> int:
        async with database(settings) as url:
            await migrate_and_detect(url)
            conn = await asyncpg.connect(url)
            try:
                return int(await action(conn))
            except (DuplicateError, NotFoundError, RegistryError) as exc:
                print(f"eldercare: {exc}", file=sys.stderr)
                return 1
            finally:
                await conn.close()

    return asyncio.run(go())


def run_homes_add(args: argparse.Namespace, settings: Settings) -> int:
    """Register one home."""

    async def action(conn: asyncpg.Connection) -> int:
        timezone = args.timezone or settings.default_timezone
        await add_home(conn, args.home_id, timezone, address=args.address,
                       street=args.street, district=args.district)  # fmt: skip
        print(f"home {args.home_id} added ({timezone})")
        return 0

    return _run(settings, action)


def run_devices_add(args: argparse.Namespace, settings: Settings) -> int:
    """Register one device."""

    async def action(conn: asyncpg.Connection) -> int:
        await add_device(conn, args.device_id, DeviceType(args.type), args.home, args.room)
        print(f"device {args.device_id} ({args.type}) added to home {args.home}")
        return 0

    return _run(settings, action)


def run_devices_import(args: argparse.Namespace, settings: Settings) -> int:
    """Import a registry CSV in one transaction, or nothing of it."""
    try:
        text = args.file.read_text(encoding="utf-8")
        rows = parse_registry_csv(text, settings.default_timezone)
    except (OSError, UnicodeDecodeError) as exc:
        print(f"eldercare: cannot read {args.file}: {exc}", file=sys.stderr)
        return 1
    except RegistryError as exc:
        print(f"eldercare: {args.file}: {exc}; nothing imported", file=sys.stderr)
        return 1

    async def action(conn: asyncpg.Connection) -> int:
        try:
            result = await import_registry(conn, rows)
        except RegistryError as exc:
            print(f"eldercare: {args.file}: {exc}; nothing imported", file=sys.stderr)
            return 1
        print(f"imported {args.file}: {result.homes_created} homes created, "
              f"{result.devices_added} devices added, {result.devices_moved} moved to another "
              f"home, {result.devices_changed} changed room, "
              f"{result.devices_unchanged} unchanged")  # fmt: skip
        return 0

    return _run(settings, action)
