"""Phone numbers (E.164), e-mail addresses and webhook URLs are checked at every door:
the value type, the command line, the API, and the stored contacts routing reads."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys

import asyncpg
import pytest

from api.principal import Role as UserRole
from core.contact_points import email_address, phone_number, webhook_url
from core.contacts import ChannelKind, Endpoint, Role
from storage.alerts_routing import home_routing
from tests.api_helpers import api_world
from tests.view_data import home


@pytest.mark.parametrize(
    ("text", "stored"),
    [("+8613800138000", "+8613800138000"), ("+86 138-0013-8000", "+8613800138000"),
     ("+44 (20) 7946.0958", "+442079460958"), ("+861", "+861")],
)  # fmt: skip
def test_phone_numbers_in_international_form_are_kept_without_formatting(
    text: str, stored: str
) -> None:
    assert phone_number(text) == stored


@pytest.mark.parametrize(
    "text",
    ["+86138000A0001", "13800138000", "+0861380013800", "+1234567890123456", "+", "",
     "+86 138 0013 8000 ext 2", "＋8613800138000", "+86\u0661\u0662\u0663"],
)  # fmt: skip
def test_anything_else_is_not_a_phone_number(text: str) -> None:
    with pytest.raises(ValueError, match=r"E\.164"):
        phone_number(text)


def test_email_addresses_and_webhook_urls() -> None:
    assert email_address(" li.na+alerts@example.org ") == "li.na+alerts@example.org"
    for bad in ("li@na", "li na@example.org", "@example.org", "li@.org", "li@@example.org",
                "li@example..org", "x" * 250 + "@example.org"):  # fmt: skip
        with pytest.raises(ValueError, match="not an e-mail address"):
            email_address(bad)
    assert (
        webhook_url("https://hooks.example.org/eldercare") == "https://hooks.example.org/eldercare"
    )
    for bad in ("ftp://example.org/x", "https://", "hooks.example.org", "http://[::1"):
        with pytest.raises(ValueError):
            webhook_url(bad)


def test_an_endpoint_holds_only_a_checked_address_in_its_stored_form() -> None:
    assert Endpoint(ChannelKind.SMS, "+8613800138000").address == "+8613800138000"
    with pytest.raises(ValueError, match=r"E\.164"):
        Endpoint(ChannelKind.SMS, "+86138000A0001")
    with pytest.raises(ValueError, match="'\\+8613800138000'"):
        Endpoint(ChannelKind.VOICE, "+86 138 0013 8000")
    with pytest.raises(ValueError, match="e-mail"):
        Endpoint(ChannelKind.EMAIL, "ops")


def _eldercare(db_url: str, *args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "ELDERCARE_DATABASE_URL": db_url}
    return subprocess.run([sys.executable, "-m", "eldercare", *args], env=env,
                          capture_output=True, text=True, timeout=120)  # fmt: skip


async def test_the_command_line_refuses_a_bad_number_and_stores_nothing(
    db: asyncpg.Connection, db_url: str
) -> None:
    await home(db, "home-c", "east")
    base = ["alerts", "contacts", "add", "home-c", "--role", "family", "--person", "son"]
    bad = await asyncio.to_thread(_eldercare, db_url, *base, "--sms", "+86138000A0001")
    assert bad.returncode == 2 and "E.164" in bad.stderr and "--sms" in bad.stderr, bad.stderr
    bad = await asyncio.to_thread(_eldercare, db_url, *base, "--email", "son@home")
    assert bad.returncode == 2 and "--email" in bad.stderr, bad.stderr
    assert await db.fetchval("SELECT count(*) FROM alert_contacts WHERE home_id = 'home-c'") == 0
    good = await asyncio.to_thread(_eldercare, db_url, *base, "--sms", "+86 139-0000-0001")
    assert good.returncode == 0, good.stderr
    assert await db.fetchval("SELECT sms FROM alert_contacts WHERE home_id = 'home-c'") == (
        "+8613900000001"
    )


async def test_the_api_refuses_bad_addresses_naming_the_field(db_url: str) -> None:
    async with api_world(db_url) as world:
        async with world.pool.acquire() as conn:
            await home(conn, "home-a", "east")
        root = await world.user_signed_in("root", UserRole.ADMIN)
        path = "/api/v1/homes/home-a/contacts/family/0"
        for field, value in (("sms", "+86138000A0001"), ("sms", "13800138000"),
                             ("email", "son@home"), ("email", "son home@example.org")):  # fmt: skip
            body = {"person_ref": "son", field: value}
            error = await root.json("PUT", path, expect=422, json=body)
            assert error["error"]["field"] == field, error
        stored = await root.json(
            "PUT", path, json={"person_ref": "son", "sms": "+86 139 0000 0002"}
        )
        assert stored["contacts"][0]["sms"] == "+8613900000002"


async def test_an_unusable_stored_address_is_skipped_not_fatal(db: asyncpg.Connection) -> None:
    # Rows written before addresses were checked: one bad number must not stop the rest.
    await home(db, "home-s", "east")
    await db.execute(
        "INSERT INTO alert_contacts (home_id, role, position, person_ref, sms, email) VALUES"
        " ('home-s', 'primary_advisor', 0, 'wang', '138-A', NULL),"
        " ('home-s', 'family', 0, 'son', '+86 139 0000 0003', 'son@example.org')"
    )
    routing = await home_routing(db, "home-s", "Asia/Shanghai")
    assert routing.with_role(Role.PRIMARY_ADVISOR) == ()
    (son,) = routing.with_role(Role.FAMILY)
    assert [e.address for e in son.endpoints] == ["+8613900000003", "son@example.org"]
