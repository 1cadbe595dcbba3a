"""A resident's rights on a real database: the export carries everything stored about them
and their home (and nothing of another home), erasure removes and clears what it promises
and nothing of anyone else's, keeps its record in the audit log and can be repeated; both
through the API (admins only, audited) and the command line."""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import asyncpg
import pytest

from api.context import AUDIT
from api.principal import Role
from storage.erasure import ErasureRefused, erase_resident
from storage.pool import create_pool
from storage.resident_export import export_resident, resident_home
from tests.api_helpers import api_world
from tests.lifecycle_helpers import (
    add_alert,
    add_audit,
    add_dead_letter,
    add_finding,
    add_reading,
)

NOW = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
MINE, OTHER = "home-m", "home-o"


async def _home(conn: asyncpg.Connection, home_id: str) -> int:
    """A home with every kind of data about its resident; returns the resident's id."""
    await conn.execute(
        "INSERT INTO homes (id, address, street, timezone, building, floor, unit)"
        " VALUES ($1, '12 Wulumuqi Rd', 'east', 'Asia/Shanghai', '3', '5', '501')",
        home_id,
    )
    resident: int = await conn.fetchval(
        "INSERT INTO residents (home_id, display_name, birth_year, phone, key_holder_name,"
        " key_holder_phone, care_notes) VALUES ($1, 'Li Mei', 1941, '+8613800000002',"
        " 'Li Wei', '+8613800000003', '{\"hearing\": \"hard of hearing\"}') RETURNING id",
        home_id,
    )
    await conn.execute(
        "INSERT INTO devices (id, type, home_id, room) VALUES ($1, 'pir', $2, 'hall')",
        f"pir-{home_id}", home_id,
    )  # fmt: skip
    await conn.execute(
        "INSERT INTO alert_contacts (home_id, role, person_ref, sms) VALUES"
        " ($1, 'family', 'son', '+8613800000003')",
        home_id,
    )
    await conn.execute(
        "INSERT INTO away_periods (home_id, starts_at, ends_at, note) VALUES"
        " ($1, $2, $3, 'at her daughter''s')",
        home_id, NOW - timedelta(days=20), NOW - timedelta(days=15),
    )  # fmt: skip
    for minutes in range(5):
        await add_reading(conn, home_id, f"pir-{home_id}", NOW - timedelta(minutes=minutes))
    await add_dead_letter(conn, f"pir-{home_id}", NOW - timedelta(days=1))
    await add_finding(conn, home_id, NOW - timedelta(days=2))
    await add_alert(conn, home_id, NOW - timedelta(days=2))
    await add_alert(conn, home_id, NOW - timedelta(hours=1), resolved=False, kind="leak")
    await add_audit(conn, home_id, NOW - timedelta(days=1))
    return resident


async def _export(conn: asyncpg.Connection, resident_id: int) -> dict[str, Any]:
    home_id = await resident_home(conn, resident_id)
    assert home_id is not None
    text = "".join([p async for p in export_resident(conn, resident_id, home_id, NOW)])
    document: dict[str, Any] = json.loads(text)
    return document


async def test_the_export_carries_everything_about_the_resident_and_their_home(
    db: asyncpg.Connection,
) -> None:
    mine = await _home(db, MINE)
    await _home(db, OTHER)
    doc = await _export(db, mine)
    assert doc["format"] == "eldercare.resident-export/1"
    assert doc["resident"]["display_name"] == "Li Mei"
    assert doc["resident"]["care_notes"] == {"hearing": "hard of hearing"}
    assert doc["home"]["address"] == "12 Wulumuqi Rd" and doc["home"]["unit"] == "501"
    assert [c["sms"] for c in doc["contacts"]] == ["+8613800000003"]
    assert [d["id"] for d in doc["devices"]] == [f"pir-{MINE}"]
    assert [a["note"] for a in doc["away_periods"]] == ["at her daughter's"]
    assert len(doc["readings"]) == 5 and {r["home_id"] for r in doc["readings"]} == {MINE}
    assert len(doc["findings"]) == 1 and len(doc["alerts"]) == 2
    assert doc["alerts"][0]["history"][0]["detail"] == {"text": "called her son Li Wei"}
    assert len(doc["deliveries"]) == 2 and doc["deliveries"][0]["attempts"][0]["outcome"] == "sent"
    assert [d["device_id"] for d in doc["dead_letters"]] == [f"pir-{MINE}"]
    assert [a["action"] for a in doc["audit"]] == ["home.readings"]
    assert OTHER not in json.dumps({k: v for k, v in doc.items() if k != "audit"})


async def test_erasure_removes_what_it_promises_keeps_its_record_and_can_be_repeated(
    db: asyncpg.Connection,
) -> None:
    mine = await _home(db, MINE)
    other = await _home(db, OTHER)
    before_other = await _export(db, other)

    report = await erase_resident(db, mine, "root", NOW)

    assert report is not None and report.home_id == MINE
    assert report.rows["readings"] == 5 and report.rows["alert_contacts"] == 1
    for table in ("readings", "findings", "alert_contacts", "away_periods", "detector_state"):
        assert await db.fetchval(f"SELECT count(*) FROM {table} WHERE home_id = $1", MINE) == 0
    assert await db.fetchval("SELECT count(*) FROM dead_letters WHERE device_id = $1",
                             f"pir-{MINE}") == 0  # fmt: skip
    resident = await db.fetchrow("SELECT * FROM residents WHERE id = $1", mine)
    assert resident["display_name"] == "(erased)" and resident["phone"] is None
    assert resident["key_holder_name"] is None and resident["care_notes"] == "{}"
    assert resident["erased_at"] == NOW and resident["erased_by"] == "root"
    home = await db.fetchrow("SELECT * FROM homes WHERE id = $1", MINE)
    assert home["address"] is None and home["unit"] is None and home["street"] == "east"
    alerts = await db.fetch("SELECT * FROM alerts WHERE home_id = $1 ORDER BY id", MINE)
    assert [a["state"] for a in alerts] == ["resolved", "resolved"]  # nobody called any more
    assert {a["explanation"] for a in alerts} == {"(erased)"}
    assert {a["resolution_note"] for a in alerts} == {None} and {a["params"] for a in alerts} == {
        "{}"
    }
    history = await db.fetch(
        "SELECT detail FROM alert_history WHERE alert_id = ANY($1::bigint[])",
        [a["id"] for a in alerts],
    )
    assert "Li Wei" not in str([h["detail"] for h in history])
    texts = await db.fetch("SELECT body_text, address FROM alert_deliveries WHERE home_id = $1",
                           MINE)  # fmt: skip
    assert {(t["body_text"], t["address"]) for t in texts} == {("(erased)", "(erased)")}
    erased = await db.fetchrow("SELECT * FROM audit_log WHERE action = 'resident.erased'")
    assert erased["username"] == "root" and erased["home_ids"] == [MINE]
    assert "readings=5" in erased["resource"]
    # The audit of who read the home stays: it is the operator's record, not the resident's.
    assert await db.fetchval("SELECT count(*) FROM audit_log WHERE action = 'home.readings'"
                             " AND home_id = $1", MINE) == 1  # fmt: skip
    # Nothing of the other home changed.
    assert await _export(db, other) == before_other

    # A reading that arrives after (the device not yet uninstalled) goes on a repeat.
    await add_reading(db, MINE, f"pir-{MINE}", NOW + timedelta(minutes=1))
    again = await erase_resident(db, mine, "admin2", NOW + timedelta(hours=1))
    assert again is not None and again.erased_at == NOW and again.erased_by == "root"
    assert again.rows["readings"] == 1 and again.rows["alerts"] == 0
    assert await db.fetchval("SELECT count(*) FROM audit_log WHERE action = 'resident.erased'") == 2
    assert await erase_resident(db, 987654, "root", NOW) is None


async def test_a_shared_home_is_erased_with_its_last_resident(db: asyncpg.Connection) -> None:
    first = await _home(db, MINE)
    second = await db.fetchval(
        "INSERT INTO residents (home_id, display_name) VALUES ($1, 'Wang Fang') RETURNING id", MINE
    )
    with pytest.raises(ErasureRefused, match=f"also holds resident\\(s\\) {second}"):
        await erase_resident(db, first, "root", NOW)
    assert await db.fetchval("SELECT count(*) FROM readings") == 5  # nothing erased
    with pytest.raises(ErasureRefused):
        await erase_resident(db, second, "root", NOW)


async def test_export_and_erase_through_the_api_for_admins_audited(db_url: str) -> None:
    async with api_world(db_url) as world:
        async with world.pool.acquire() as conn:
            mine = await _home(conn, MINE)
        admin = await world.bearer("root", Role.ADMIN)
        advisor = await world.bearer("wang", Role.ADVISOR)
        async with admin.get(f"/api/v1/residents/{mine}/export") as resp:
            assert resp.status == 200
            assert (
                resp.headers["Content-Disposition"]
                == f'attachment; filename="resident-{mine}.json"'
            )
            doc = json.loads(await resp.read())
        assert doc["resident"]["display_name"] == "Li Mei" and len(doc["readings"]) == 5
        await advisor.json("GET", f"/api/v1/residents/{mine}/export", expect=403)
        await advisor.json("POST", f"/api/v1/residents/{mine}/erase", expect=403)
        await admin.json("GET", "/api/v1/residents/987654/export", expect=404)
        erased = await admin.json("POST", f"/api/v1/residents/{mine}/erase")
        assert erased["home_id"] == MINE and erased["erased_by"] == "root"
        assert erased["removed"]["readings"] == 5
        app = world.client.app
        assert app is not None
        await app[AUDIT].flush()
        rows = await world.pool.fetch(
            "SELECT username, action, home_ids, outcome FROM audit_log"
            " WHERE action LIKE 'resident.%' ORDER BY id"
        )
        seen = [(r["username"], r["action"], r["home_ids"], r["outcome"]) for r in rows]
        assert ("root", "resident.export", [MINE], "read") in seen
        assert ("root", "resident.erased", [MINE], "read") in seen
        assert ("root", "resident.erase", [MINE], "read") in seen
        assert ("wang", "resident.export", [], "refused") in seen


async def test_export_and_erase_on_the_command_line(db_url: str, tmp_path: Path) -> None:
    pool = await create_pool(db_url)
    try:
        async with pool.acquire() as conn:
            mine = await _home(conn, MINE)
    finally:
        await pool.close()
    env = {**os.environ, "ELDERCARE_DATABASE_URL": db_url}

    def eldercare(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run([sys.executable, "-m", "eldercare", "residents", *args], env=env,
                              capture_output=True, text=True, timeout=120)  # fmt: skip

    out = tmp_path / "export.json"
    exported = await asyncio.to_thread(eldercare, "export", str(mine), "--output", str(out))
    assert exported.returncode == 0, exported.stderr
    assert len(json.loads(out.read_text(encoding="utf-8"))["readings"]) == 5
    to_stdout = await asyncio.to_thread(eldercare, "export", str(mine))
    assert json.loads(to_stdout.stdout)["resident"]["id"] == mine
    unconfirmed = await asyncio.to_thread(eldercare, "erase", str(mine))
    assert unconfirmed.returncode == 2 and "--yes" in unconfirmed.stderr
    erased = await asyncio.to_thread(eldercare, "erase", str(mine), "--yes")
    assert erased.returncode == 0, erased.stderr
    assert (
        f"resident {mine} of home {MINE} erased" in erased.stdout and "readings=5" in erased.stdout
    )
    missing = await asyncio.to_thread(eldercare, "erase", "987654", "--yes")
    assert missing.returncode == 1 and "no resident 987654" in missing.stderr
    conn = await asyncpg.connect(db_url)
    try:
        actions = [r["action"] for r in await conn.fetch(
            "SELECT action FROM audit_log WHERE username = 'cli' ORDER BY id")]  # fmt: skip
    finally:
        await conn.close()
    assert actions == ["resident.export", "resident.export", "resident.erased"]
