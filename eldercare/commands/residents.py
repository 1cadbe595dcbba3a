"""`eldercare residents export|erase ID`: a resident's copy of everything stored about
them and their home (JSON), and erasure when their service ends. Both audited."""

from __future__ import annotations

import argparse
import asyncio
import sys
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any, TextIO

import asyncpg

from core.clock import WallClock
from core.settings import Settings
from eldercare.commands.arguments import record_id
from eldercare.commands.users import CLI_ACTOR, with_pool
from storage.audit import AuditEntry, insert_entries
from storage.erasure import ErasureRefused, erase_resident
from storage.resident_export import export_resident, resident_home

WRITE_BLOCK_CHARS = 256 * 1024


def add_parser(subparsers: Any) -> None:
    """Register `residents`."""
    residents = subparsers.add_parser(
        "residents", help="a resident's data: export a copy, erase when service ends"
    )
    sub = residents.add_subparsers(dest="residents_command", metavar="ACTION", required=True)
    export = sub.add_parser("export", help="everything stored about a resident and their home,"
                            " as JSON (audited)")  # fmt: skip
    export.add_argument("resident_id", type=record_id)
    export.add_argument("--output", type=Path, help="write to this file (default: stdout)")
    export.set_defaults(handler=run_residents_export)
    erase = sub.add_parser(
        "erase",
        help="erase a resident and their home's data: readings, findings, alert texts,"
        " contacts, profile (audited; repeatable)",
    )
    erase.add_argument("resident_id", type=record_id)
    erase.add_argument("--yes", action="store_true", help="confirm: this cannot be undone")
    erase.set_defaults(handler=run_residents_erase)


def run_residents_export(args: argparse.Namespace, settings: Settings) -> int:
    """Write the export; the read is in the audit log before the first byte goes out."""

    async def action(pool: asyncpg.Pool) -> int:
        now = WallClock().now()
        async with pool.acquire() as conn:
            home_id = await resident_home(conn, args.resident_id)
            if home_id is None:
                print(f"eldercare: RESIDENT_ID: no resident {args.resident_id}", file=sys.stderr)
                return 1
            await insert_entries(conn, [AuditEntry(now, CLI_ACTOR, "resident.export",
                                                   f"resident {args.resident_id}",
                                                   home_id=home_id)])  # fmt: skip
            out: TextIO = args.output.open("w", encoding="utf-8") if args.output else sys.stdout
            try:
                await _write_all(export_resident(conn, args.resident_id, home_id, now), out)
            finally:
                if args.output:
                    out.close()
        return 0

    return with_pool(settings, action)


async def _write_all(pieces: AsyncIterator[str], out: TextIO) -> None:
    """Write the pieces in blocks, each off the event loop."""
    block: list[str] = []
    size = 0
    async for piece in pieces:
        block.append(piece)
        size += len(piece)
        if size >= WRITE_BLOCK_CHARS:
            await asyncio.to_thread(out.write, "".join(block))
            block, size = [], 0
    await asyncio.to_thread(out.write, "".join(block))
    await asyncio.to_thread(out.flush)


def run_residents_erase(args: argparse.Namespace, settings: Settings) -> int:
    """Erase, and print what was removed."""
    if not args.yes:
        print("eldercare: --yes: erasing cannot be undone; export first, then confirm with"
              " --yes", file=sys.stderr)  # fmt: skip
        return 2

    async def action(pool: asyncpg.Pool) -> int:
        async with pool.acquire() as conn:
            try:
                report = await erase_resident(conn, args.resident_id, CLI_ACTOR, WallClock().now())
            except ErasureRefused as refused:
                print(f"eldercare: RESIDENT_ID: {refused}", file=sys.stderr)
                return 1
        if report is None:
            print(f"eldercare: RESIDENT_ID: no resident {args.resident_id}", file=sys.stderr)
            return 1
        print(f"resident {report.resident_id} of home {report.home_id} erased"
              f" (first at {report.erased_at:%Y-%m-%d %H:%M} UTC by {report.erased_by}):"
              f" {report.summary()}")  # fmt: skip
        return 0

    return with_pool(settings, action)
