"""The console in a real browser: headless Debian Chromium driven by Playwright, against
the real app on a loopback port over a fresh PostgreSQL database.

1. An advisor signs in, watches a new alert arrive live (SSE: highlighted, beeped), opens
   it, is refused an illegal step with the API's message, claims, acknowledges and
   resolves it with an outcome; another alert resolved elsewhere leaves the list, which
   ends empty.
2. The language switch turns the UI between Simplified Chinese and English, and stays.
3. A family member sees their relative in plain words; editing the URL to another home
   shows "not found" and nothing of that home.
4. Screenshots of the main pages go to tests/artifacts/ (and three to docs/screenshots/).

The browser's own timezone is New York on purpose: times must show in the home's
(Asia/Shanghai).
"""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta

import pytest
from playwright.async_api import Browser, Page

from core.alerts import Outcome
from core.kinds import Category, Severity
from tests.browser_helpers import (
    ADMIN,
    ADVISOR,
    CHROMIUM,
    FAMILY,
    HOME,
    OTHER_ADDRESS,
    OTHER_HOME,
    OTHER_RESIDENT,
    PASSWORD,
    RESIDENT,
    SHANGHAI,
    ConsoleWorld,
    chromium,
    console_world,
    enrich_district,
    screenshot,
)

pytestmark = pytest.mark.skipif(
    not CHROMIUM.exists(),
    reason="needs Debian's chromium at /usr/bin/chromium (apt install chromium)",
)

LIVE_TIMEOUT = 15_000  # ms: an alert must be on screen this soon after it is raised


@pytest.fixture
async def world(db_url: str) -> AsyncIterator[ConsoleWorld]:
    async with console_world(db_url) as served:
        yield served


@pytest.fixture
async def browser() -> AsyncIterator[Browser]:
    async with chromium() as launched:
        yield launched


@pytest.fixture
async def page(browser: Browser, world: ConsoleWorld) -> AsyncIterator[Page]:
    """A fresh browser context (no cookies, no localStorage) on the console."""
    context = await browser.new_context(
        base_url=world.base_url,
        locale="zh-CN",
        timezone_id="America/New_York",
        viewport={"width": 1280, "height": 860},
    )
    context.set_default_timeout(10_000)
    opened = await context.new_page()
    problems: list[str] = []
    opened.on("pageerror", lambda error: problems.append(f"page error: {error}"))
    yield opened
    await context.close()  # ends the page's event stream before the server stops
    assert not problems, problems


async def sign_in(page: Page, username: str) -> None:
    await page.goto("/")
    await page.fill("#username", username)
    await page.fill("#password", PASSWORD)
    await page.click("form.login-form button[type=submit]")
    await page.wait_for_selector("body[data-role]")


def shanghai_clock(moment: datetime) -> str:
    return moment.astimezone(SHANGHAI).strftime("%H:%M")


async def test_advisor_sees_a_new_alert_live_and_handles_it(
    page: Page, world: ConsoleWorld
) -> None:
    # An older, milder alert in the other home is already open.
    older = await world.raise_alert(
        OTHER_HOME, "meter_silent", Category.DEVICE, Severity.MEDIUM, "水表 2 小时没有上报"
    )
    await sign_in(page, ADVISOR)
    await page.wait_for_url(re.compile(r"#/alerts$"))
    await page.wait_for_selector("body[data-stream=live]")  # subscribed before the alert
    await page.wait_for_selector(f'.alert-item[data-alert-id="{older}"]')
    await page.click("h1")  # a user gesture: arms the alert sound
    beeps_before = int(await page.evaluate("Number(document.body.dataset.beeps || 0)"))

    alert_id = await world.raise_alert(severity=Severity.HIGH)
    row = page.locator(f'.alert-item[data-alert-id="{alert_id}"]')
    await row.wait_for(timeout=LIVE_TIMEOUT)
    assert "fresh" in (await row.get_attribute("class") or "")  # the visible cue
    await page.wait_for_function(
        f"Number(document.body.dataset.beeps || 0) > {beeps_before}"
    )  # the audible cue
    assert await page.locator(".sound-toggle").get_attribute("aria-pressed") == "true"
    # Worst first: the new high alert is above the older medium one.
    ids = await page.locator(".alert-item").evaluate_all("els => els.map(e => e.dataset.alertId)")
    assert ids == [str(alert_id), str(older)]
    text = await row.inner_text()
    assert RESIDENT in text and "高" in text and world.explanation() in text
    opened = (await world.alerts.get(alert_id)).opened_at
    assert shanghai_clock(opened) in text  # the home's time, not the browser's
    await screenshot(page, "alerts", docs=True)

    await row.locator("a").click()
    await page.wait_for_url(re.compile(rf"#/alerts/{alert_id}$"))
    await page.wait_for_selector("[data-testid=explanation]")
    assert await page.inner_text("[data-testid=explanation]") == world.explanation()
    await page.wait_for_selector("svg.chart rect.bar")  # 48 h of water as bars
    assert await page.locator("svg.chart rect.mark").count() > 10  # motion marks
    assert await page.locator("table.devices tbody tr").count() == 6
    assert await page.locator("table.history tbody tr").count() >= 1
    await screenshot(page, "alert-detail", docs=True)

    # Only the actions that apply: nobody claimed it, so no "arrived" yet.
    assert await page.locator("[data-action=arrive]").count() == 0
    assert await page.locator("[data-action=acknowledge]").count() == 1
    assert "尚无工作人员查看" in await page.inner_text("[data-testid=alert-now]")

    await page.fill("#eta", "10")
    await page.click("[data-action=claim]")
    await page.wait_for_selector(".progress-list dd.done >> text=王小明")  # a name, not wang
    claimed = await world.alerts.get(alert_id)
    assert claimed.claimed_by == ADVISOR and claimed.expected_arrival_at is not None
    # The claim acknowledged it: "acknowledge" is no longer offered, "arrived" is.
    await page.wait_for_selector('.alert-head[data-state="acknowledged"]')
    assert await page.locator("[data-action=acknowledge]").count() == 0
    assert "王小明 正在前往" in await page.inner_text("[data-testid=alert-now]")
    await page.click("[data-action=arrive]")
    await page.wait_for_selector(".progress-list dd.done >> text=王小明 >> nth=2")

    await page.select_option("#outcome", "resident_ok")
    await page.fill("#resolve-note", "老人在邻居家打牌，手机没电")
    await page.click("[data-action=resolve]")
    await page.wait_for_selector('.alert-head[data-state="resolved"]')
    resolved = await world.alerts.get(alert_id)
    assert resolved.state == "resolved" and resolved.outcome == "resident_ok"
    assert resolved.resolution_note == "老人在邻居家打牌，手机没电"
    history = await page.locator("table.history tbody").inner_text()
    assert "解决" in history and "老人安好" in history

    await page.click("text=← 告警")
    await page.wait_for_selector(f'.alert-item[data-alert-id="{older}"]')
    assert await page.locator(f'.alert-item[data-alert-id="{alert_id}"]').count() == 0
    # Someone else resolves the other alert: it leaves the list live, which empties.
    await world.alerts.resolve(older, "li", Outcome.DEVICE_FAULT, "换了电池")
    await page.wait_for_selector("[data-testid=alerts-empty]", timeout=LIVE_TIMEOUT)
    assert await page.locator(".alert-item").count() == 0


async def test_the_language_switch_changes_the_texts_and_is_remembered(page: Page) -> None:
    await page.goto("/")
    await page.wait_for_selector("form.login-form")
    assert await page.inner_text("form.login-form h1") == "登录"  # Chinese first
    assert await page.get_attribute("html", "lang") == "zh-CN"
    await screenshot(page, "login")
    await page.click("[data-testid=lang-toggle]")
    await page.wait_for_selector("form.login-form h1 >> text=Sign in")
    assert await page.get_attribute("html", "lang") == "en"
    assert await page.inner_text("label[for=username]") == "Username"

    await page.fill("#username", ADVISOR)
    await page.fill("#password", PASSWORD)
    await page.click("form.login-form button[type=submit]")
    await page.wait_for_selector("h1 >> text=Open alerts")
    assert await page.inner_text("[data-nav=homes]") == "Homes"
    assert await page.inner_text("[data-testid=alerts-empty]") == "No open alerts right now."

    await page.reload()  # remembered in localStorage
    await page.wait_for_selector("h1 >> text=Open alerts")
    await page.click("[data-testid=lang-toggle]")
    await page.wait_for_selector("h1 >> text=未处理告警")
    assert await page.inner_text("[data-nav=homes]") == "住户"
    assert await page.inner_text("[data-testid=lang-toggle]") == "English"
    assert await page.evaluate("localStorage.getItem('eldercare.lang')") == "zh-CN"


async def advisor_phone(world: ConsoleWorld) -> str:
    async with world.pool.acquire() as conn:
        phone: str = await conn.fetchval(
            "SELECT sms FROM alert_contacts WHERE home_id = $1 AND role = 'primary_advisor'",
            HOME,
        )
    return phone


async def test_family_sees_their_relative_and_no_other_home(
    page: Page, world: ConsoleWorld
) -> None:
    alert_id = await world.raise_alert(severity=Severity.HIGH)
    await sign_in(page, FAMILY)
    await page.wait_for_url(re.compile(r"#/family$"))
    card = page.locator(f'.family-card[data-home-id="{HOME}"]')
    await card.wait_for()
    # Calm and accurate: nobody has seen it yet, and that is what it says (no red).
    state = card.locator("[data-testid=family-alert-state]")
    assert "工作人员尚未查看" in await state.inner_text()
    assert await card.get_attribute("data-status") == "attention"
    assert "王小明" in await card.locator("[data-testid=advisor]").inner_text()
    assert await card.locator("[data-testid=tel-advisor]").get_attribute("href") == (
        "tel:" + (await advisor_phone(world))
    )
    # The advisor is on the way: the family sees who, and when they should arrive.
    arrival = datetime.now(UTC) + timedelta(minutes=20)
    await world.alerts.claim(alert_id, ADVISOR, arrival)
    await page.reload()
    await card.wait_for()
    assert f"王小明 正在前往，预计 {shanghai_clock(arrival)} 到达" in await state.inner_text()
    assert await card.locator("[data-testid=family-chart] rect.today").count() == 24
    status = await card.locator("[data-testid=plain-status]").inner_text()
    assert "最近一次活动" in status and shanghai_clock(world.last_activity) in status
    assert RESIDENT in await card.inner_text()
    assert await card.locator(".family-alerts li").count() == 1  # the open alert, in words
    await card.locator("[data-testid=prefs-form]").wait_for()
    assert await page.locator("nav [data-nav]").evaluate_all(
        "els => els.map(e => e.dataset.nav)"
    ) == ["family"]
    await screenshot(page, "family", docs=True)

    # "Staying with me until Friday": declared from the family view.
    form = card.locator("[data-testid=away-form]")
    await form.locator("button.chip").nth(1).click()
    await form.locator("input[type=text]").fill("住在我家")
    await form.locator("button[type=submit]").click()
    await form.locator(".message.ok").wait_for()
    async with world.pool.acquire() as conn:
        declared = await conn.fetchrow(
            "SELECT ends_at, note, declared_by FROM away_periods WHERE home_id = $1", HOME
        )
    assert declared is not None and declared["note"] == "住在我家"
    assert declared["declared_by"] == FAMILY
    ends = declared["ends_at"].astimezone(SHANGHAI)
    assert (ends.weekday(), ends.hour, ends.minute) == (4, 20, 0)  # Friday 20:00, home time
    assert ends > datetime.now(UTC)

    # Editing the URL to another home: "not found", and nothing of that home on screen.
    for hash_ in (f"#/family/{OTHER_HOME}", f"#/homes/{OTHER_HOME}"):
        await page.goto(f"/{hash_}")
        await page.wait_for_selector("[data-testid=not-found]")
        shown = await page.inner_text("main")
        assert "未找到" in shown
        for secret in (OTHER_RESIDENT, OTHER_ADDRESS, RESIDENT):
            assert secret not in shown
    await screenshot(page, "family-not-found")
    # The API agrees: that home does not exist for this user.
    answer = await page.request.get(f"/api/v1/family/preferences/{OTHER_HOME}")
    assert answer.status == 404
    assert OTHER_RESIDENT not in await answer.text()


async def test_screenshots_of_the_main_pages(page: Page, world: ConsoleWorld, db_url: str) -> None:
    await enrich_district(world, db_url)
    await world.raise_alert(severity=Severity.HIGH)
    await world.raise_alert(
        OTHER_HOME, "meter_silent", Category.DEVICE, Severity.MEDIUM, "水表 2 小时没有上报"
    )
    await sign_in(page, ADMIN)
    await page.wait_for_selector(".alert-item")
    await page.goto("/#/homes")
    await page.wait_for_selector(f'table.homes tr[data-home-id="{HOME}"]')
    statuses = await page.locator("table.homes tbody tr").evaluate_all(
        "rows => rows.map(r => r.dataset.status)"
    )
    assert len(statuses) == 5 and {"alert", "attention", "ok", "offline", "away"} >= set(statuses)
    assert statuses[0] == "alert"
    homes_text = await page.inner_text("table.homes")
    assert "告警" in homes_text  # the status in words, not only its colour
    await screenshot(page, "homes", docs=True)

    await page.goto(f"/#/homes/{HOME}")
    await page.wait_for_selector("svg.chart rect.bar")
    await page.wait_for_selector(".card ul.plain-list .sev")  # its open alert
    await screenshot(page, "home-detail")

    await page.goto("/#/dashboard")
    await page.wait_for_selector(".tiles")
    assert "5" in await page.inner_text(".tiles .tile >> nth=0")  # homes monitored
    href = await page.get_attribute("a[download]", "href")
    assert href is not None and href.startswith("/api/v1/dashboard.csv")
    csv = await page.request.get(href)
    assert csv.status == 200 and "text/csv" in csv.headers["content-type"]
    await screenshot(page, "dashboard", docs=True)

    await page.click("[data-testid=lang-toggle]")
    await page.wait_for_selector("h1 >> text=District dashboard")
    await screenshot(page, "dashboard-en")


async def test_the_live_list_reconnects_and_catches_up(page: Page, world: ConsoleWorld) -> None:
    await sign_in(page, ADVISOR)
    await page.wait_for_selector("body[data-stream=live]")
    await page.wait_for_selector("[data-testid=alerts-empty]")
    await world.stop_server()  # the stream drops
    await page.wait_for_selector("body[data-stream=reconnecting]", timeout=LIVE_TIMEOUT)
    assert "重连" in await page.inner_text(".stream")
    missed = await world.raise_alert()  # raised while the console was cut off
    port = int(world.base_url.rsplit(":", 1)[1])
    await world.start_server(port)
    await page.wait_for_selector("body[data-stream=live]", timeout=LIVE_TIMEOUT * 2)
    await page.wait_for_selector(f'.alert-item.fresh[data-alert-id="{missed}"]')


async def test_staff_see_a_failing_channel_in_the_operations_banner(
    page: Page, world: ConsoleWorld
) -> None:
    await sign_in(page, ADVISOR)
    await page.wait_for_url(re.compile(r"#/alerts$"))
    assert await page.locator("[data-testid=ops-banner]").is_hidden()  # all is well

    # The SMS gateway gave up on a message: the banner says so on the next page drawn.
    async with world.pool.acquire() as conn:
        await conn.execute(
            "INSERT INTO alert_deliveries (home_id, purpose, severity, channel, address,"
            " recipient_role, recipient_ref, language, timezone, subject, body_text, summary,"
            " status, attempts, max_attempts, next_attempt_at, created_at, failed_at,"
            " last_error) VALUES ($1, 'alert', 'high', 'sms', '+8613800000001',"
            " 'primary_advisor', 'wang', 'zh-CN', 'Asia/Shanghai', 's', 'b', 's', 'failed',"
            " 5, 5, now(), now(), now(), 'HTTP 503')",
            HOME,
        )
    await page.reload()
    banner = page.locator("[data-testid=ops-banner]")
    await banner.wait_for()
    assert "短信通知发送失败" in await banner.inner_text()
    await page.click("[data-testid=lang-toggle]")
    await page.wait_for_selector("[data-testid=ops-banner] >> text=SMS notifications are failing")
