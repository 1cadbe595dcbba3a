"""`eldercare duty show|person add|rotation add|list|remove|override add|remove`: who is
on duty per street."""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Callable
from datetime import datetime, time
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import asyncpg

from core.clock import WallClock
from core.contact_points import email_address, phone_number
from core.contacts import Language
from core.duty import Override, Rotation, Tier, on_duty_now, parse_days
from core.settings import Settings
from eldercare.commands.alerts import CLI_ACTOR, address_arg, with_connection
from eldercare.commands.arguments import record_id
from storage import duty as duty_rows
from storage.duty import DutyPerson

DEFAULT_ZONE = "Asia/Shanghai"


def _arg_type(parse: Callable[[str], Any], what: str) -> Callable[[str], Any]:
    def check(text: str) -> Any:
        try:
            return parse(text)
        except (ValueError, ZoneInfoNotFoundError) as exc:
            raise argparse.ArgumentTypeError(f"{what}: {exc}") from None

    return check


def _window(text: str) -> tuple[time, time]:
    start, end = text.split("-")
    return time.fromisoformat(start), time.fromisoformat(end)


def _duration(text: str) -> int:
    """`12h`, `1d`, `7d`, `90m` → seconds."""
    units = {"m": 60, "h": 3600, "d": 86400}
    if len(text) < 2 or text[-1] not in units or not text[:-1].isdigit():
        raise ValueError(f"{text!r}: give a number and m, h or d (12h, 1d, 7d)")
    return int(text[:-1]) * units[text[-1]]


def _moment(text: str, zone: str = DEFAULT_ZONE) -> datetime:
    """ISO 8601; without an offset, local time in `zone`."""
    value = datetime.fromisoformat(text)
    return value if value.tzinfo else value.replace(tzinfo=ZoneInfo(zone))


def add_parser(subparsers: Any) -> None:
    """Register `duty` and its actions."""
    parser = subparsers.add_parser("duty", help="duty rotations and overrides per street")
    sub = parser.add_subparsers(dest="duty_command", metavar="ACTION", required=True)

    show = sub.add_parser("show", help="who is on duty (now, or --at), per street, as JSON")
    show.add_argument("--street", help="one street (default: every street)")
    show.add_argument(
        "--at",
        type=_arg_type(_moment, "--at"),
        help="a moment, ISO 8601 (local Asia/Shanghai without an offset)",
    )
    show.set_defaults(handler=run_show)

    person = sub.add_parser("person", help="people who can be on duty")
    psub = person.add_subparsers(dest="person_command", metavar="ACTION", required=True)
    padd = psub.add_parser("add", help="add or replace someone's duty contact details")
    padd.add_argument("person", help="their user name (as in alert history)")
    padd.add_argument("--sms", type=address_arg(phone_number), help="E.164: +8613800138000")
    padd.add_argument("--email", type=address_arg(email_address))
    padd.add_argument("--language", choices=[x.value for x in Language], default="zh-CN")
    padd.add_argument("--call", action="store_true",
                      help="also phone them when an alert reaches them (keys: 1 acknowledge,"
                      " 3 pass on; needs --sms and a voice gateway)")  # fmt: skip
    padd.set_defaults(handler=run_person_add)

    rotation = sub.add_parser("rotation", help="a street's rotations")
    rsub = rotation.add_subparsers(dest="rotation_command", metavar="ACTION", required=True)
    radd = rsub.add_parser(
        "add", help="add a rotation layer: advisors in turn, handing off every shift"
    )
    radd.add_argument("street")
    radd.add_argument("--layer", required=True, help="its name: day, night, weekend...")
    radd.add_argument(
        "--advisor",
        action="append",
        required=True,
        dest="advisors",
        help="a participant, in turn order (repeat the option)",
    )
    radd.add_argument(
        "--start", required=True, help="the first handoff, ISO 8601 (local time without an offset)"
    )
    radd.add_argument(
        "--shift",
        type=_arg_type(_duration, "--shift"),
        default=86400,
        help="shift length: 12h, 1d (default), 7d",
    )
    radd.add_argument(
        "--window",
        type=_arg_type(_window, "--window"),
        help="daily local window, HH:MM-HH:MM, may span midnight (20:00-08:00)",
    )
    radd.add_argument(
        "--days",
        type=_arg_type(parse_days, "--days"),
        default=parse_days("all"),
        help="weekdays the window starts on: mon-fri, sat,sun, all (default)",
    )
    radd.add_argument(
        "--priority",
        type=int,
        default=0,
        help="where layers overlap, the higher wins (a weekend layer: 1)",
    )
    radd.add_argument("--tier", choices=[t.value for t in Tier], default="primary")
    radd.add_argument("--timezone", default=DEFAULT_ZONE)
    radd.set_defaults(handler=run_rotation_add)
    rlist = rsub.add_parser("list", help="the rotations (and overrides not yet over) as JSON")
    rlist.add_argument("--street")
    rlist.set_defaults(handler=run_rotation_list)
    rremove = rsub.add_parser(
        "remove", help="remove a rotation by its id (list shows it; it stays on record)"
    )
    rremove.add_argument("rotation_id", type=record_id)
    rremove.set_defaults(handler=run_rotation_remove)

    override = sub.add_parser("override", help="someone covering a street for a while")
    osub = override.add_subparsers(dest="override_command", metavar="ACTION", required=True)
    oadd = osub.add_parser("add", help="PERSON covers STREET from --from until --to")
    oadd.add_argument("street")
    oadd.add_argument("person")
    oadd.add_argument("--from", dest="start", required=True, type=_arg_type(_moment, "--from"))
    oadd.add_argument("--to", dest="end", required=True, type=_arg_type(_moment, "--to"))
    oadd.add_argument("--tier", choices=[t.value for t in Tier], default="primary")
    oadd.add_argument("--reason", help="leave, a swap... (shown to the street office)")
    oadd.set_defaults(handler=run_override_add)
    oremove = osub.add_parser(
        "remove", help="take back an override not yet over, by its id (rotation list shows it)"
    )
    oremove.add_argument("override_id", type=record_id)
    oremove.set_defaults(handler=run_override_remove)


def _fail(message: str) -> int:
    print(f"eldercare: {message}", file=sys.stderr)
    return 2


def run_show(args: argparse.Namespace, settings: Settings) -> int:
    """Print who is on duty per street (and tier) as JSON Lines."""
    at = args.at or WallClock().now()

    async def action(conn: asyncpg.Connection) -> int:
        streets = [args.street] if args.street else await duty_rows.known_streets(conn)
        plan = await duty_rows.schedule(conn, streets, at)
        found = {(d.street, d.tier): d for d in on_duty_now(plan, at, streets)}
        for street in streets:
            for tier in Tier:
                d = found.get((street, tier))
                if d is None and tier is Tier.BACKUP:
                    continue
                print(
                    json.dumps(
                        {
                            "street": street,
                            "tier": tier.value,
                            "at": at.isoformat(),
                            "person": d.person if d else None,
                            "source": d.source.value if d else "home_advisors",
                            "layer": d.layer if d else None,
                        },
                        ensure_ascii=False,
                    )
                )
        return 0

    return with_connection(settings, action)


def run_person_add(args: argparse.Namespace, settings: Settings) -> int:
    """Store someone's duty contact details."""
    try:
        person = DutyPerson(args.person, Language(args.language), args.sms, args.email,
                            args.call)  # fmt: skip
    except ValueError as exc:
        return _fail(str(exc))

    async def action(conn: asyncpg.Connection) -> int:
        await duty_rows.put_person(conn, person, WallClock().now())
        print(f"duty contact details of {args.person} saved")
        return 0

    return with_connection(settings, action)


def run_rotation_add(args: argparse.Namespace, settings: Settings) -> int:
    """Validate and store a rotation layer."""
    try:
        window = args.window or (None, None)
        rotation = Rotation(
            0,
            args.street,
            args.layer,
            tuple(args.advisors),
            _moment(args.start, args.timezone),
            args.shift,
            args.timezone,
            Tier(args.tier),
            window[0],
            window[1],
            args.days,
            args.priority,
        )
    except (ValueError, ZoneInfoNotFoundError) as exc:
        return _fail(f"rotation: {exc}; nothing stored")

    async def action(conn: asyncpg.Connection) -> int:
        rotation_id = await duty_rows.add_rotation(conn, rotation, CLI_ACTOR, WallClock().now())
        print(
            f"rotation {rotation_id} ({args.layer}) of {args.street} stored:"
            f" {', '.join(args.advisors)}"
        )
        return 0

    return with_connection(settings, action)


def run_rotation_list(args: argparse.Namespace, settings: Settings) -> int:
    """Print the rotations and the overrides not yet over, one JSON object a line."""

    async def action(conn: asyncpg.Connection) -> int:
        now = WallClock().now()
        plan = await duty_rows.schedule(conn, [args.street] if args.street else None, now)
        for r in plan.rotations:
            print(json.dumps({
                "rotation": r.id, "street": r.street, "tier": r.tier.value, "layer": r.layer,
                "advisors": list(r.participants), "start": r.start.isoformat(),
                "shift_s": r.shift_s, "timezone": r.timezone, "priority": r.priority,
                "window": f"{r.window_start:%H:%M}-{r.window_end:%H:%M}"
                if r.window_start and r.window_end else None,
                "days": sorted(r.days),
            }, ensure_ascii=False))  # fmt: skip
        for o in plan.overrides:
            print(json.dumps({
                "override": o.id, "street": o.street, "tier": o.tier.value, "person": o.person,
                "from": o.start.isoformat(), "to": o.end.isoformat(), "reason": o.reason,
            }, ensure_ascii=False))  # fmt: skip
        return 0

    return with_connection(settings, action)


def run_rotation_remove(args: argparse.Namespace, settings: Settings) -> int:
    """Remove one rotation (it stays on record as removed, and counts until then)."""

    async def action(conn: asyncpg.Connection) -> int:
        removed = await duty_rows.remove_rotation(
            conn, args.rotation_id, CLI_ACTOR, WallClock().now()
        )
        if removed is None:
            print(f"eldercare: no rotation {args.rotation_id}", file=sys.stderr)
            return 1
        print(
            f"rotation {removed.id} ({removed.layer}) of {removed.street} removed:"
            f" {', '.join(removed.participants)}"
        )
        return 0

    return with_connection(settings, action)


def run_override_add(args: argparse.Namespace, settings: Settings) -> int:
    """Validate and store an override."""
    try:
        override = Override(
            0, args.street, args.person, args.start, args.end, Tier(args.tier), args.reason
        )
    except ValueError as exc:
        return _fail(f"override: {exc}; nothing stored")

    async def action(conn: asyncpg.Connection) -> int:
        override_id = await duty_rows.add_override(conn, override, CLI_ACTOR, WallClock().now())
        print(
            f"override {override_id}: {args.person} covers {args.street}"
            f" from {args.start.isoformat()} to {args.end.isoformat()}"
        )
        return 0

    return with_connection(settings, action)


def run_override_remove(args: argparse.Namespace, settings: Settings) -> int:
    """Take back one override not yet over (it stays on record as removed)."""

    async def action(conn: asyncpg.Connection) -> int:
        removed = await duty_rows.remove_override(
            conn, args.override_id, CLI_ACTOR, WallClock().now()
        )
        if removed is None:
            print(f"eldercare: no override {args.override_id} not yet over", file=sys.stderr)
            return 1
        print(
            f"override {removed.id} removed: {removed.person} no longer covers {removed.street}"
            f" from {removed.start.isoformat()} to {removed.end.isoformat()}"
        )
        return 0

    return with_connection(settings, action)
