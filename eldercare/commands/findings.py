"""`eldercare findings`: what the detectors found, newest first."""

from __future__ import annotations

import argparse
import asyncio
import json
from datetime import datetime
from typing import Any

import asyncpg

from core.kinds import Category
from core.registry import HOME_ID_PATTERN
from core.settings import Settings
from eldercare.runtime import database, migrate_and_detect
from storage.findings import list_findings


def _home(text: str) -> str:
    if not HOME_ID_PATTERN.fullmatch(text):
        raise argparse.ArgumentTypeError(f"home id must match [A-Za-z0-9_-]{{1,64}}: {text!r}")
    return text


def _since(text: str) -> datetime:
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not an RFC 3339 time: {text!r}") from None
    if moment.tzinfo is None:
        raise argparse.ArgumentTypeError(f"give a UTC offset, e.g. {text}+08:00")
    return moment


def _limit(text: str) -> int:
    value = int(text)
    if not 1 <= value <= 10_000:
        raise argparse.ArgumentTypeError("limit must be between 1 and 10000")
    return value


def add_parser(subparsers: Any) -> None:
    """Register `findings`."""
    parser = subparsers.add_parser("findings", help="list detector findings, newest first")
    parser.add_argument("--home", type=_home)
    parser.add_argument("--category", choices=[c.value for c in Category])
    parser.add_argument("--since", type=_since, help="RFC 3339 time with offset")
    parser.add_argument("--limit", type=_limit, default=50)
    parser.add_argument("--json", action="store_true", help="JSON Lines (DESIGN.md format)")
    parser.set_defaults(handler=run_findings)


def run_findings(args: argparse.Namespace, settings: Settings) -> int:
    """Print findings as a table or JSON Lines."""

    async def go() -> int:
        async with database(settings) as url:
            await migrate_and_detect(url)
            conn = await asyncpg.connect(url)
            try:
                found = await list_findings(
                    conn, home_id=args.home, since=args.since, limit=args.limit,
                    category=Category(args.category) if args.category else None,
                )  # fmt: skip
            finally:
                await conn.close()
        for f in found:
            if args.json:
                print(json.dumps({"home_id": f.home_id, "category": f.category.value,
                                  "kind": f.kind, "severity": f.severity.value,
                                  "at": f.at.isoformat(), "explanation": f.explanation},
                                 ensure_ascii=False))  # fmt: skip
            else:
                print(f"{f.at:%Y-%m-%d %H:%M}Z  {f.home_id:<12} {f.severity.value:<8} "
                      f"{f.kind:<22} {f.explanation}")  # fmt: skip
        if not found and not args.json:
            print("no findings")
        return 0

    return asyncio.run(go())
