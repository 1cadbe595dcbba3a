"""The console under its Content-Security-Policy (no violation on any page), the audit
view an admin filters, and changing one's password, in Debian's Chromium."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import timedelta

import pytest
from playwright.async_api import Browser, ConsoleMessage, Page

from tests.api_helpers import PASSWORD
from tests.browser_helpers import (
    ADMIN,
    ADVISOR,
    CHROMIUM,
    HOME,
    ConsoleWorld,
    chromium,
    console_world,
    screenshot,
)
from tests.test_console_browser import sign_in

pytestmark = pytest.mark.skipif(not CHROMIUM.exists(), reason="needs Debian's chromium")
NEW_PASSWORD = "a long and fresh sentence"


@pytest.fixture
async def world(db_url: str) -> AsyncIterator[ConsoleWorld]:
    async with console_world(db_url) as served:
        yield served


@pytest.fixture
async def page(world: ConsoleWorld) -> AsyncIterator[Page]:
    """A page that fails the test on any script error or policy violation."""
    browser: Browser
    async with chromium() as browser:
        context = await browser.new_context(base_url=world.base_url, locale="en-US")
        context.set_default_timeout(10_000)
        opened = await context.new_page()
        problems: list[str] = []
        opened.on("pageerror", lambda error: problems.append(f"page error: {error}"))

        def on_console(message: ConsoleMessage) -> None:
            if "Content Security Policy" in message.text or "Refused to" in message.text:
                problems.append(message.text)

        opened.on("console", on_console)
        yield opened
        await context.close()
        assert not problems, problems


async def test_the_console_runs_under_its_policy_and_admins_read_the_audit(
    page: Page, world: ConsoleWorld
) -> None:
    response = await page.goto("/")
    assert response is not None
    assert "script-src 'self'" in response.headers["content-security-policy"]
    await sign_in(page, ADVISOR)
    await page.goto(f"/#/homes/{HOME}")  # an advisor reads a home: audited
    await page.wait_for_selector("h1")
    await page.click("button:has-text('退出'), button:has-text('Sign out')")
    await page.wait_for_selector("form.login-form")
    await sign_in(page, ADMIN)
    await page.goto("/#/audit")
    table = page.locator("[data-testid=audit-table] tbody")
    await table.locator("tr").first.wait_for()
    await page.fill("#audit-user", ADVISOR)
    await page.click(".audit-filters button[type=submit]")
    await page.wait_for_function(
        "() => [...document.querySelectorAll('[data-testid=audit-table] tbody tr')]"
        ".every(r => r.cells[1].textContent === 'wang')"
    )
    rows = await table.locator("tr").all_inner_texts()
    assert any("home.detail" in r and HOME in r for r in rows), rows
    href = await page.get_attribute(".audit-filters a[download]", "href")
    assert href is not None and "username=wang" in href
    await screenshot(page, "audit")


async def test_a_user_changes_their_password_in_the_console(
    page: Page, world: ConsoleWorld
) -> None:
    await sign_in(page, ADVISOR)
    await page.goto("/#/account")
    await page.fill("#pw-current", "not my password")
    await page.fill("#pw-new", NEW_PASSWORD)
    await page.fill("#pw-again", NEW_PASSWORD)
    await page.click(".account-form button[type=submit]")
    await page.wait_for_selector(".account-form .message.error")
    await page.fill("#pw-current", PASSWORD)
    await page.fill("#pw-new", NEW_PASSWORD)
    await page.fill("#pw-again", NEW_PASSWORD)
    await page.click(".account-form button[type=submit]")
    await page.wait_for_selector(".account-form .message.ok")
    async with world.pool.acquire() as conn:
        changed = await conn.fetchval(
            "SELECT password_changed_at IS NOT NULL FROM users WHERE username = $1", ADVISOR
        )
    assert changed


async def test_an_admin_sees_how_long_each_kind_of_data_is_kept(
    page: Page, world: ConsoleWorld
) -> None:
    await sign_in(page, ADMIN)
    await page.goto("/#/admin")
    table = page.locator("[data-testid=retention] tbody")
    await table.locator("tr").first.wait_for()
    rows = {
        await row.get_attribute("data-kind"): await row.inner_text()
        for row in await table.locator("tr").all()
    }
    assert list(rows) == ["readings", "dead_letters", "findings", "alerts", "audit"]
    assert rows["readings"].startswith("设备原始读数\t396\t")  # the admin reads Chinese
    assert rows["audit"].startswith("访问记录\t1095\t")
    cutoff = (world.now - timedelta(days=396)).year
    assert str(cutoff) in rows["readings"].split("\t")[2]  # a date a year back shows its year
    assert rows["readings"].endswith("\t0")  # 48 h of readings: none due
    await screenshot(page, "retention")
