"""The people around the demo's simulated homes: residents, two advisors, a street office,
one family member per home and the operations desk, with their phones and languages.

Every home is on one street, looked after by two advisors who back each other up (the
first half of the homes is Li's, the second Zhang's). Every number is fictional and every
message goes to the stand-in gateways.
"""

from __future__ import annotations

import json
from dataclasses import dataclass

import asyncpg

from core.contacts import ChannelKind, Contact, Endpoint, Language, Role
from storage.alerts_routing import put_contact

STREET = "幸福街道"
DISTRICT = "东城区"
ADVISORS = ("advisor.li", "advisor.zhang")
SUPERVISOR = "office.xingfu"
OPERATIONS = "ops.desk"
_SURNAMES = "王李张刘陈杨赵黄周吴徐孙胡朱高林何郭马罗"
_GIVEN = ("秀英", "桂兰", "玉兰", "淑珍", "建国", "德明", "凤英", "志强", "素梅", "文华")
# Short care notes, one home in a few each (fictional).
_NOTES = (
    ("hearing", "听力较弱，请敲门大声些"),
    ("mobility", "使用助行器，开门较慢"),
    ("medication", "降压药，早晚各一次"),
    ("pets", "家中有一只小狗，性情温顺"),
)


@dataclass(frozen=True, slots=True)
class HomePeople:
    """Who lives in and looks after one home."""

    home_id: str
    address: str
    resident_name: str
    resident_phone: str
    contacts: tuple[Contact, ...]
    building: str = ""
    floor: str = ""
    unit: str = ""
    birth_year: int | None = None
    key_holder_name: str = ""
    key_holder_phone: str = ""
    care_notes: tuple[tuple[str, str], ...] = ()


@dataclass(frozen=True, slots=True)
class Login:
    """A demo user: who signs in to the console, with which role."""

    username: str
    display_name: str
    role: str
    language: str = "zh-CN"
    street: str | None = None


def demo_logins(people: list[HomePeople]) -> list[Login]:
    """The admin, the two advisors, the street office and the first home's family."""
    logins = [
        Login("admin", "系统管理员", "admin"),
        Login(ADVISORS[0], "李顾问", "advisor"),
        Login(ADVISORS[1], "张顾问", "advisor"),
        Login(SUPERVISOR, "幸福街道办", "supervisor", street=STREET),
    ]
    if people:
        logins.append(Login(family_username(people[0].home_id), "家属", "family", "zh-CN"))
    return logins


def family_username(home_id: str) -> str:
    """The family member's sign-in name for a home: `family.h0001`."""
    return f"family.{home_id.lower()}"


def staff_phone(username: str) -> str:
    """A fictional mobile number per staff member."""
    index = (*ADVISORS, SUPERVISOR, OPERATIONS).index(username)
    return f"+861381111000{index + 1}"


def people_for(home_ids: list[str]) -> list[HomePeople]:
    """The people of each home, deterministic in the homes' order."""
    half = (len(home_ids) + 1) // 2
    out = []
    for number, home_id in enumerate(home_ids):
        primary, backup = ADVISORS if number < half else ADVISORS[::-1]
        sms = ChannelKind.SMS
        zh = Language.ZH
        family_language = Language.EN if number % 3 == 2 else zh
        contacts = (
            Contact(Role.PRIMARY_ADVISOR, 0, primary, zh, (Endpoint(sms, staff_phone(primary)),)),
            Contact(Role.BACKUP_ADVISOR, 0, backup, zh, (Endpoint(sms, staff_phone(backup)),)),
            Contact(Role.SUPERVISOR, 0, SUPERVISOR, zh, (Endpoint(sms, staff_phone(SUPERVISOR)),)),
            Contact(
                Role.FAMILY,
                0,
                family_username(home_id),
                family_language,
                (Endpoint(sms, f"+86137222{number + 1:05d}"),),
            ),
        )
        name = _SURNAMES[number % len(_SURNAMES)] + _GIVEN[(number // 3) % len(_GIVEN)]
        building, flat = f"{number // 20 + 1}号楼", number % 20
        address = f"{STREET}{building} {flat + 1:02d}室"
        notes = tuple(_NOTES[i] for i in range(len(_NOTES)) if (number + i) % 3 == 0)
        out.append(
            HomePeople(
                home_id, address, name, f"+86139000{number + 1:05d}", contacts,
                building=building, floor=str(flat // 4 + 1), unit=f"{flat + 1:02d}室",
                birth_year=1930 + number % 20,
                key_holder_name=f"邻居{_SURNAMES[(number + 7) % len(_SURNAMES)]}阿姨",
                key_holder_phone=f"+86136555{number + 1:05d}", care_notes=notes,
            )
        )  # fmt: skip
    return out


async def register_people(conn: asyncpg.Connection, people: list[HomePeople]) -> None:
    """Store residents, addresses, the street and the contacts (idempotent)."""
    async with conn.transaction():
        for home in people:
            await conn.execute(
                "UPDATE homes SET address = $2, street = $3, district = $4, building = $5,"
                " floor = $6, unit = $7 WHERE id = $1",
                home.home_id, home.address, STREET, DISTRICT, home.building or None,
                home.floor or None, home.unit or None,
            )  # fmt: skip
            await conn.execute(
                "INSERT INTO residents (home_id, display_name, language, phone, birth_year,"
                " key_holder_name, key_holder_phone, care_notes)"
                " SELECT $1, $2, 'zh-CN', $3, $4, $5, $6, $7::jsonb"
                " WHERE NOT EXISTS (SELECT 1 FROM residents WHERE home_id = $1)",
                home.home_id, home.resident_name, home.resident_phone, home.birth_year,
                home.key_holder_name or None, home.key_holder_phone or None,
                json.dumps(dict(home.care_notes)),
            )  # fmt: skip
            for contact in home.contacts:
                await put_contact(conn, home.home_id, contact)
        desk = Contact(
            Role.OPERATIONS, 0, OPERATIONS, Language.ZH,
            (Endpoint(ChannelKind.SMS, staff_phone(OPERATIONS)),),
        )  # fmt: skip
        await put_contact(conn, "*", desk)
