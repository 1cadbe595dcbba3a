"""`eldercare alerts policy show|set|reset`, `alerts contacts add`, `alerts list`, and
`alerts run` (the alert stage alone, for a deployment that runs it in its own process)."""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
from collections.abc import Awaitable, Callable
from datetime import time
from pathlib import Path
from typing import Any

import aiohttp
import asyncpg
from prometheus_client import CollectorRegistry

from alerts.channels.factory import build_channels
from alerts.channels.outbound import OutboundPolicy, OutboundRefused, resolve_target
from alerts.config import ChannelSettings
from alerts.dispatcher import DispatchConfig
from alerts.runtime import running_alerts
from api.server import serving_process_metrics
from core.clock import WallClock
from core.contact_points import email_address, phone_number, webhook_url
from core.contacts import ChannelKind, Contact, Endpoint, Language, QuietHours, Role
from core.policy import POLICY_NAMES, PolicyError, policy_from_json, policy_to_json
from core.settings import Settings
from core.telemetry import AlertTelemetry
from eldercare.runtime import database, migrate_and_detect, prepare_database
from eldercare.stopping import run_until_stopped
from storage.alerts import list_alerts
from storage.alerts_routing import (
    effective_policy,
    put_contact,
    reset_policy,
    save_policy,
    stored_policy_names,
)
from storage.pool import wait_for_pool

CLI_ACTOR = "cli"


def _quiet_hours(text: str) -> QuietHours:
    try:
        start, end = text.split("-")
        return QuietHours(time.fromisoformat(start), time.fromisoformat(end))
    except ValueError as exc:
        raise argparse.ArgumentTypeError(
            f"expected HH:MM-HH:MM, e.g. 22:00-07:00 ({exc})"
        ) from None


def address_arg(check: Callable[[str], str]) -> Callable[[str], str]:  # also `duty`
    """An argparse type from a core.contact_points check: the error names the problem."""

    def parse(text: str) -> str:
        try:
            return check(text)
        except ValueError as exc:
            raise argparse.ArgumentTypeError(str(exc)) from None

    return parse


def add_parser(subparsers: Any) -> None:
    """Register `alerts` and its actions."""
    parser = subparsers.add_parser("alerts", help="alert policies, contacts and alerts")
    sub = parser.add_subparsers(dest="alerts_command", metavar="ACTION", required=True)

    policy = sub.add_parser("policy", help="escalation policies per severity (and system)")
    psub = policy.add_subparsers(dest="policy_command", metavar="ACTION", required=True)
    show = psub.add_parser("show", help="print the effective policies as JSON")
    show.add_argument("name", nargs="?", choices=POLICY_NAMES)
    show.set_defaults(handler=run_policy_show)
    put = psub.add_parser("set", help="store a policy from a JSON file ('-' for stdin)")
    put.add_argument("name", choices=POLICY_NAMES)
    put.add_argument("file", help='{"steps": [{"after_s": 0, "roles": [...]}], ...}')
    put.set_defaults(handler=run_policy_set)
    reset = psub.add_parser("reset", help="drop a stored policy; the default applies again")
    reset.add_argument("name", choices=POLICY_NAMES)
    reset.set_defaults(handler=run_policy_reset)

    contacts = sub.add_parser("contacts", help="who is told about a home")
    csub = contacts.add_subparsers(dest="contacts_command", metavar="ACTION", required=True)
    add = csub.add_parser("add", help="add or replace the contact at (home, role, position)")
    add.add_argument("home_id", help="a home id, or '*' for the operations desk")
    add.add_argument("--role", required=True, choices=[r.value for r in Role if r != "resident"])
    add.add_argument("--position", type=int, default=0, help="order within the role")
    add.add_argument("--person", required=True, help="a user name or other stable reference")
    add.add_argument("--language", choices=[x.value for x in Language], default="zh-CN")
    add.add_argument("--sms", type=address_arg(phone_number), help="E.164: +8613800138000")
    add.add_argument("--email", type=address_arg(email_address))
    add.add_argument("--webhook", type=address_arg(webhook_url), help="http(s) URL")
    add.add_argument("--quiet", type=_quiet_hours, help="quiet hours, local time: 22:00-07:00")
    add.set_defaults(handler=run_contacts_add)

    listing = sub.add_parser("list", help="list alerts, newest first")
    listing.add_argument("--home")
    listing.add_argument("--active", action="store_true", help="only unresolved alerts")
    listing.set_defaults(handler=run_list)

    stage = sub.add_parser(
        "run",
        help="run the alert stage alone until Ctrl-C: take findings, escalate, deliver"
        " (eldercare run includes it)",
    )
    stage.set_defaults(handler=run_stage)


def with_connection(
    settings: Settings, action: Callable[[asyncpg.Connection], Awaitable[int]]
) -> int:
    """Run `action` on a connection to the migrated database; a ValueError it raises is
    one line on stderr and exit status 1 (shared by the `alerts` and `duty` commands)."""

    async def go() -> int:
        async with database(settings) as url:
            await migrate_and_detect(url)
            conn = await asyncpg.connect(url)
            try:
                return await action(conn)
            except (PolicyError, ValueError) as exc:
                print(f"eldercare: {exc}", file=sys.stderr)
                return 1
            finally:
                await conn.close()

    return asyncio.run(go())


def run_policy_show(args: argparse.Namespace, settings: Settings) -> int:
    """Print the effective policies (stored, else default) as one JSON object."""

    async def action(conn: asyncpg.Connection) -> int:
        stored = await stored_policy_names(conn)
        names = [args.name] if args.name else list(POLICY_NAMES)
        out = {}
        for name in names:
            doc = policy_to_json(await effective_policy(conn, name))
            out[name] = {**doc, "source": "stored" if name in stored else "default"}
        print(json.dumps(out, indent=2))
        return 0

    return with_connection(settings, action)


def run_policy_set(args: argparse.Namespace, settings: Settings) -> int:
    """Validate a policy document and store it."""
    try:
        text = sys.stdin.read() if args.file == "-" else Path(args.file).read_text("utf-8")
        policy = policy_from_json(json.loads(text))
    except (OSError, UnicodeDecodeError, ValueError) as exc:
        print(f"eldercare: policy {args.name}: {exc}; nothing stored", file=sys.stderr)
        return 1

    async def action(conn: asyncpg.Connection) -> int:
        await save_policy(conn, args.name, policy, CLI_ACTOR, WallClock().now())
        print(f"policy {args.name} stored ({len(policy.steps)} steps)")
        return 0

    return with_connection(settings, action)


def run_policy_reset(args: argparse.Namespace, settings: Settings) -> int:
    """Drop a stored policy."""

    async def action(conn: asyncpg.Connection) -> int:
        dropped = await reset_policy(conn, args.name)
        print(f"policy {args.name}: {'default restored' if dropped else 'already the default'}")
        return 0

    return with_connection(settings, action)


def run_contacts_add(args: argparse.Namespace, settings: Settings) -> int:
    """Add or replace one contact."""
    endpoints = tuple(
        Endpoint(kind, address)
        for kind, address in (
            (ChannelKind.SMS, args.sms),
            (ChannelKind.EMAIL, args.email),
            (ChannelKind.WEBHOOK, args.webhook),
        )
        if address
    )
    if not endpoints:
        print("eldercare: give at least one of --sms, --email, --webhook", file=sys.stderr)
        return 2
    if args.webhook:
        policy = OutboundPolicy(settings.webhook_allowed_hosts or ())
        try:  # checked again at every send, after resolving (DNS rebinding)
            asyncio.run(resolve_target(args.webhook, policy))
        except OutboundRefused as refused:
            print(f"eldercare: --webhook: {refused}", file=sys.stderr)
            return 2
    contact = Contact(
        Role(args.role), args.position, args.person, Language(args.language), endpoints, args.quiet
    )

    async def action(conn: asyncpg.Connection) -> int:
        await put_contact(conn, args.home_id, contact)
        print(f"contact {args.role}[{args.position}] of home {args.home_id} saved")
        return 0

    return with_connection(settings, action)


def run_list(args: argparse.Namespace, settings: Settings) -> int:
    """Print alerts as JSON Lines."""

    async def action(conn: asyncpg.Connection) -> int:
        for alert in await list_alerts(conn, home_id=args.home, active_only=args.active):
            print(json.dumps({
                "id": alert.id, "home_id": alert.home_id, "kind": alert.kind,
                "severity": alert.severity.value, "state": alert.state.value,
                "occurrences": alert.occurrences, "opened_at": alert.opened_at.isoformat(),
                "outcome": alert.outcome.value if alert.outcome else None,
            }))  # fmt: skip
        return 0

    return with_connection(settings, action)


def run_stage(args: argparse.Namespace, settings: Settings) -> int:
    """The findings follower, the sweeper and the dispatcher, on the configured channels."""

    async def go() -> None:
        registry = CollectorRegistry()  # the alert stage's metrics only
        telemetry = AlertTelemetry.on(registry)
        async with (
            database(settings) as url,
            serving_process_metrics(settings.metrics_port, registry),
        ):
            await prepare_database(url, wait=True)
            clock = WallClock()
            pool = await wait_for_pool(url, user="alerts", min_size=1, max_size=4)
            try:
                async with aiohttp.ClientSession() as session:
                    channels = build_channels(ChannelSettings.from_settings(settings), session,
                                              clock)  # fmt: skip
                    dispatch = DispatchConfig.from_settings(settings)
                    async with running_alerts(pool, clock, channels, dispatch=dispatch,
                                              telemetry=telemetry):  # fmt: skip
                        await asyncio.Event().wait()  # until Ctrl-C or SIGTERM cancels us
            finally:
                await pool.close()

    run_until_stopped(go())
    return 0
