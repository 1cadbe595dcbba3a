"""`eldercare alerts policy show|set|reset` and `alerts contacts add`, as a user runs them."""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
from pathlib import Path

import asyncpg

from core.contacts import ChannelKind, Role
from storage.alerts_routing import home_routing


async def eldercare(db_url: str, *args: str, stdin: str = "") -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "ELDERCARE_DATABASE_URL": db_url}

    def run() -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "eldercare", *args],
            env=env, input=stdin, capture_output=True, text=True, timeout=120,
        )  # fmt: skip

    return await asyncio.to_thread(run)


async def test_policy_show_set_and_reset(db_url: str, tmp_path: Path) -> None:
    shown = await eldercare(db_url, "alerts", "policy", "show", "high")
    assert shown.returncode == 0, shown.stderr
    high = json.loads(shown.stdout)["high"]
    assert high["source"] == "default"
    assert [s["roles"] for s in high["steps"]] == [
        ["resident"], ["primary_advisor"], ["backup_advisor", "family"], ["supervisor"],
    ]  # fmt: skip

    doc = {"steps": [{"after_s": 0, "roles": ["primary_advisor", "family"]}],
           "resolve_within_s": 600}  # fmt: skip
    path = tmp_path / "policy.json"
    path.write_text(json.dumps(doc))
    stored = await eldercare(db_url, "alerts", "policy", "set", "high", str(path))
    assert stored.returncode == 0, stored.stderr
    after = json.loads((await eldercare(db_url, "alerts", "policy", "show")).stdout)
    assert after["high"]["source"] == "stored" and after["high"]["resolve_within_s"] == 600
    assert after["critical"]["source"] == "default"

    bad = await eldercare(
        db_url, "alerts", "policy", "set", "high", "-", stdin='{"steps": [{"roles": ["mayor"]}]}'
    )
    assert bad.returncode == 1 and "nothing stored" in bad.stderr

    reset = await eldercare(db_url, "alerts", "policy", "reset", "high")
    assert reset.returncode == 0 and "default restored" in reset.stdout
    again = json.loads((await eldercare(db_url, "alerts", "policy", "show", "high")).stdout)
    assert again["high"]["source"] == "default"


async def test_contacts_add(db: asyncpg.Connection, db_url: str) -> None:
    await db.execute("INSERT INTO homes (id, timezone) VALUES ('home-9', 'Asia/Shanghai')")
    added = await eldercare(
        db_url, "alerts", "contacts", "add", "home-9", "--role", "family", "--person", "daughter",
        "--language", "en", "--sms", "+447700900009", "--quiet", "22:30-07:00",
    )  # fmt: skip
    assert added.returncode == 0, added.stderr
    routing = await home_routing(db, "home-9", "Asia/Shanghai")
    (family,) = routing.with_role(Role.FAMILY)
    assert family.endpoints[0].channel is ChannelKind.SMS
    assert str(family.quiet_hours) == "22:30-07:00"
    bad = await eldercare(db_url, "alerts", "contacts", "add", "home-9", "--role", "family",
                          "--person", "x", "--sms", "+86139009", "--quiet", "late")  # fmt: skip
    assert bad.returncode == 2 and "HH:MM-HH:MM" in bad.stderr
