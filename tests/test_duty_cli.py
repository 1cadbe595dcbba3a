"""`eldercare duty person add|rotation add|list|remove|override add|remove|show`, as a
street office runs them."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import asyncpg

from tests.test_alert_cli import eldercare


async def test_duty_rota_from_the_command_line(db: asyncpg.Connection, db_url: str) -> None:
    for name, sms in (("advisor.zhang", "+8613866666661"), ("advisor.li", "+8613866666662")):
        added = await eldercare(db_url, "duty", "person", "add", name, "--sms", sms)
        assert added.returncode == 0, added.stderr
    rota = await eldercare(
        db_url, "duty", "rotation", "add", "幸福街道", "--layer", "day",
        "--advisor", "advisor.zhang", "--advisor", "advisor.li",
        "--start", "2026-12-07T08:00", "--shift", "1d", "--window", "08:00-20:00",
        "--days", "mon-fri",
    )  # fmt: skip
    assert rota.returncode == 0, rota.stderr
    assert "advisor.zhang, advisor.li" in rota.stdout

    async def at(moment: str) -> list[dict[str, object]]:
        shown = await eldercare(db_url, "duty", "show", "--street", "幸福街道", "--at", moment)
        assert shown.returncode == 0, shown.stderr
        return [json.loads(line) for line in shown.stdout.splitlines()]

    (before,) = await at("2026-12-08T07:59:59")
    assert before["person"] is None and before["source"] == "home_advisors"
    (handoff,) = await at("2026-12-08T08:00")
    assert handoff["person"] == "advisor.li" and handoff["layer"] == "day"

    cover = await eldercare(
        db_url, "duty", "override", "add", "幸福街道", "advisor.zhang",
        "--from", "2026-12-08T08:00", "--to", "2026-12-08T12:00", "--reason", "swap",
    )  # fmt: skip
    assert cover.returncode == 0, cover.stderr
    (swapped,) = await at("2026-12-08T08:00")
    assert swapped["person"] == "advisor.zhang" and swapped["source"] == "override"

    listed = await eldercare(db_url, "duty", "rotation", "list", "--street", "幸福街道")
    rows = [json.loads(line) for line in listed.stdout.splitlines()]
    assert [(r.get("rotation"), r.get("window")) for r in rows if "rotation" in r] == [
        (1, "08:00-20:00")
    ]
    removed = await eldercare(db_url, "duty", "rotation", "remove", "1")
    assert removed.returncode == 0, removed.stderr
    assert removed.stdout.strip() == (
        "rotation 1 (day) of 幸福街道 removed: advisor.zhang, advisor.li"
    )
    # Marked, not deleted: who removed it and when stay on record, and it is listed no more.
    row = await db.fetchrow("SELECT removed_by, removed_at FROM duty_rotations WHERE id = 1")
    assert row["removed_by"] == "cli" and row["removed_at"] is not None
    listed = await eldercare(db_url, "duty", "rotation", "list", "--street", "幸福街道")
    assert listed.returncode == 0, listed.stderr
    assert not [r for r in map(json.loads, listed.stdout.splitlines()) if "rotation" in r]
    again = await eldercare(db_url, "duty", "rotation", "remove", "1")
    assert again.returncode == 1 and again.stderr.strip() == "eldercare: no rotation 1"
    assert again.stdout == ""
    unknown = await eldercare(db_url, "duty", "rotation", "remove", "987654")
    assert unknown.returncode == 1 and unknown.stderr.strip() == "eldercare: no rotation 987654"


async def test_duty_mistakes_get_one_clear_line(db_url: str) -> None:
    unknown = await eldercare(
        db_url, "duty", "rotation", "add", "幸福街道", "--layer", "night",
        "--advisor", "advisor.nobody", "--start", "2026-12-07T20:00",
    )  # fmt: skip
    assert unknown.returncode == 1
    assert unknown.stderr.strip().splitlines() == [
        "eldercare: no duty contact details for advisor.nobody: add them first"
        " (eldercare duty person add NAME --sms +86...)"
    ]
    backwards = await eldercare(
        db_url, "duty", "override", "add", "幸福街道", "advisor.li",
        "--from", "2026-12-08T12:00", "--to", "2026-12-08T08:00",
    )  # fmt: skip
    assert backwards.returncode == 2
    assert "an override must end after it starts" in backwards.stderr
    shift = await eldercare(
        db_url, "duty", "rotation", "add", "s", "--layer", "d",
        "--advisor", "a", "--start", "2026-12-07", "--shift", "forever",
    )  # fmt: skip
    assert shift.returncode == 2 and "--shift" in shift.stderr and "Traceback" not in shift.stderr


async def test_a_wrong_cover_is_removed_from_the_command_line(db_url: str) -> None:
    for name, sms in (("advisor.zhang", "+8613866666661"), ("advisor.li", "+8613866666662")):
        added = await eldercare(db_url, "duty", "person", "add", name, "--sms", sms)
        assert added.returncode == 0, added.stderr
    # Relative to now: a cover is removable only while it is not yet over.
    start = (datetime.now(UTC) - timedelta(days=1)).replace(microsecond=0)
    rota = await eldercare(
        db_url, "duty", "rotation", "add", "幸福街道", "--layer", "day",
        "--advisor", "advisor.li", "--start", start.isoformat(),
    )  # fmt: skip
    assert rota.returncode == 0, rota.stderr
    cover_from, cover_to = start + timedelta(days=2), start + timedelta(days=2, hours=4)
    cover = await eldercare(
        db_url, "duty", "override", "add", "幸福街道", "advisor.zhang",
        "--from", cover_from.isoformat(), "--to", cover_to.isoformat(),
    )  # fmt: skip
    assert cover.returncode == 0, cover.stderr
    override_id = cover.stdout.split()[1].rstrip(":")

    async def on_duty() -> str:
        at = (cover_from + timedelta(hours=1)).isoformat()
        shown = await eldercare(db_url, "duty", "show", "--street", "幸福街道", "--at", at)
        assert shown.returncode == 0, shown.stderr
        (row,) = [json.loads(line) for line in shown.stdout.splitlines()]
        return f"{row['person']} ({row['source']})"

    assert await on_duty() == "advisor.zhang (override)"
    removed = await eldercare(db_url, "duty", "override", "remove", override_id)
    assert removed.returncode == 0, removed.stderr
    assert removed.stdout.startswith(
        f"override {override_id} removed: advisor.zhang no longer covers 幸福街道 from "
    )
    assert await on_duty() == "advisor.li (rotation)"
    listed = await eldercare(db_url, "duty", "rotation", "list", "--street", "幸福街道")
    assert '"override"' not in listed.stdout

    again = await eldercare(db_url, "duty", "override", "remove", override_id)
    assert again.returncode == 1
    assert again.stderr.strip() == f"eldercare: no override {override_id} not yet over"
    unknown = await eldercare(db_url, "duty", "override", "remove", "987654")
    assert unknown.returncode == 1 and unknown.stdout == ""
    assert unknown.stderr.strip() == "eldercare: no override 987654 not yet over"
