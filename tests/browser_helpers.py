"""Helpers for the console's browser tests (no tests here).

- `chromium()`: Debian's /usr/bin/chromium driven by Playwright (its own browser download
  does not work here), headless.
- `console_world(db_url)`: the real app (api.server.running_api) on a loopback port over
  the test's database, with the wall clock, and a small district in it: two homes with
  48 hours of readings, an advisor, a family member, an administrator.
- `screenshot(page, name)`: saved under tests/artifacts/ (git-ignored), and with
  `docs=True` also under docs/screenshots/ for the README.
"""

from __future__ import annotations

import os
import random
import shutil
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack, asynccontextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import asyncpg
from playwright.async_api import Browser, Page, async_playwright

from alerts.service import AlertService
from api.context import ApiContext
from api.principal import Role
from api.server import running_api
from core.alerts import Outcome
from core.clock import ManualClock, WallClock
from core.contacts import Language
from core.explain import explain
from core.kinds import Category, Severity
from core.readings import Channel, DeviceType, Reading
from detectors.findings import Finding
from storage.ingest_writes import prepare_ingest_connection, reading_record, write_batch
from tests.api_helpers import PASSWORD, add_home, add_user, assign

CHROMIUM = Path("/usr/bin/chromium")
ROOT = Path(__file__).resolve().parent.parent
ARTIFACTS = Path(__file__).resolve().parent / "artifacts"
DOCS_SCREENSHOTS = ROOT / "docs" / "screenshots"
SHANGHAI = ZoneInfo("Asia/Shanghai")

# The little district every browser test starts from.
HOME = "H0001"  # 王秀英's home: the advisor's and the family member's
OTHER_HOME = "H0002"  # 李建国's home: the advisor's, not the family member's
ADVISOR = "wang"
FAMILY = "daughter"
ADMIN = "admin"
RESIDENT = "王秀英"
OTHER_RESIDENT = "李建国"
OTHER_ADDRESS = "和平里 12 号 2 单元 502"
ROOMS = ("卧室", "厨房", "卫生间", "客厅")


@asynccontextmanager
async def chromium() -> AsyncIterator[Browser]:
    """A headless Debian Chromium under Playwright; yields the Browser."""
    async with async_playwright() as playwright:
        browser = await playwright.chromium.launch(
            executable_path=str(CHROMIUM),
            headless=True,
            # Root in a container has no user namespaces for the sandbox; /dev/shm is small.
            args=["--no-sandbox", "--disable-dev-shm-usage", "--disable-gpu", "--lang=zh-CN"],
        )
        try:
            yield browser
        finally:
            await browser.close()


async def screenshot(page: Page, name: str, *, docs: bool = False) -> Path:
    """A full-page PNG under tests/artifacts/; the README's copies under docs/screenshots/
    (`docs`) are refreshed only on request (ELDERCARE_UPDATE_SCREENSHOTS=1), so running
    the tests leaves the checkout clean."""
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    path = ARTIFACTS / f"{name}.png"
    await page.screenshot(path=str(path), full_page=True)
    if docs and os.environ.get("ELDERCARE_UPDATE_SCREENSHOTS") == "1":
        DOCS_SCREENSHOTS.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(path, DOCS_SCREENSHOTS / f"{name}.png")
    return path


@dataclass
class ConsoleWorld:
    """The served app and what the tests act on behind the browser's back."""

    base_url: str
    pool: asyncpg.Pool
    alerts: AlertService
    context: ApiContext
    now: datetime  # when the district was seeded
    last_activity: datetime  # the resident's last sign of life before the test's alert
    _server: AsyncExitStack = field(default_factory=AsyncExitStack)

    async def start_server(self, port: int = 0) -> None:
        """Serve the app on 127.0.0.1:`port` (0: any free port)."""
        self.base_url = await self._server.enter_async_context(
            running_api(self.context, "127.0.0.1", port)
        )

    async def stop_server(self) -> None:
        """Stop serving: open event streams end, as in a restart or a network drop."""
        await self._server.aclose()

    async def raise_alert(
        self,
        home_id: str = HOME,
        kind: str = "motion_inactivity",
        category: Category = Category.INACTIVITY,
        severity: Severity = Severity.HIGH,
        explanation: str | None = None,
    ) -> int:
        """An alert raised as a detector would: AlertService.ingest(findings); the default
        one with its params, so the console renders it in either language."""
        text = explanation or self.explanation(Language.EN)
        params = self.params() if explanation is None and kind == "motion_inactivity" else {}
        finding = Finding(home_id, category, kind, severity, datetime.now(UTC), text, params=params)
        (result,) = await self.alerts.ingest([finding])
        assert result.alert_id is not None
        return result.alert_id

    def params(self) -> dict[str, Any]:
        """The default alert's params, as the inactivity detector writes them."""
        return {"since_at": round(self.last_activity.timestamp()), "limit_s": 3600,
                "learned": True}  # fmt: skip

    def explanation(self, language: Language = Language.ZH) -> str:
        """The default alert's explanation in `language`, as the console shows it."""
        return explain("motion_inactivity", self.params(), language, "Asia/Shanghai", "")


@asynccontextmanager
async def console_world(db_url: str) -> AsyncIterator[ConsoleWorld]:
    """The real app on 127.0.0.1 (a free port) over `db_url`, seeded."""
    pool = await asyncpg.create_pool(db_url, min_size=2, max_size=10)
    clock = WallClock()
    alerts = AlertService(pool, clock)
    context = ApiContext(pool, clock, alerts, wall_clock=clock)
    now = datetime.now(UTC).replace(microsecond=0)
    try:
        last_activity = await seed_district(pool, db_url, now)
        world = ConsoleWorld("", pool, alerts, context, now, last_activity)
        await world.start_server()
        try:
            yield world
        finally:
            await world.stop_server()
    finally:
        await pool.close()


async def seed_district(pool: asyncpg.Pool, db_url: str, now: datetime) -> datetime:
    """Two homes, their people and 48 h of readings; the last sign of life in HOME."""
    await add_home(
        pool, HOME, street="幸福街道", address="幸福路 8 号 3 单元 201", resident=RESIDENT
    )
    await add_home(
        pool, OTHER_HOME, street="幸福街道", address=OTHER_ADDRESS, resident=OTHER_RESIDENT
    )
    await add_user(pool, ADVISOR, Role.ADVISOR, display_name="王小明")
    await add_user(pool, FAMILY, Role.FAMILY, display_name="王丽")
    await add_user(pool, ADMIN, Role.ADMIN, display_name="区民政办")
    for home in (HOME, OTHER_HOME):
        await assign(pool, home, ADVISOR, "primary_advisor")
    await assign(pool, HOME, FAMILY, "family")
    quiet_since = now - timedelta(hours=3, minutes=20)
    last = await seed_readings(
        pool, db_url, HOME, now, quiet_since, random.Random(6), weak_battery=True
    )
    await seed_readings(pool, db_url, OTHER_HOME, now, now, random.Random(7))
    return last


async def seed_readings(
    pool: asyncpg.Pool,
    db_url: str,
    home_id: str,
    now: datetime,
    quiet_since: datetime,
    rng: random.Random,
    *,
    weak_battery: bool = False,
) -> datetime:
    """48 h (until `now`) of a resident's day: a water meter reporting every 15 minutes
    (more in the morning and evening), motion in four rooms by day and a little at night,
    hourly status reports; nothing but meter reports after `quiet_since`. The living
    room's sensor runs low on battery when `weak_battery`. Returns the last sign of life."""
    devices = [
        (f"{home_id}-water", DeviceType.WATER_METER, "厨房"),
        (f"{home_id}-smoke", DeviceType.SMOKE, "厨房"),
        *((f"{home_id}-pir-{i}", DeviceType.PIR, room) for i, room in enumerate(ROOMS, 1)),
    ]
    async with pool.acquire() as conn:
        await conn.executemany(
            "INSERT INTO devices (id, type, home_id, room, installed_at)"
            " VALUES ($1, $2, $3, $4, $5)",
            [(d, t.value, home_id, room, now - timedelta(days=90)) for d, t, room in devices],
        )
    start = now - timedelta(hours=48)
    rows: list[Reading] = []
    seq: dict[str, int] = {}
    last_life = start

    def add(device: str, kind: DeviceType, channel: Channel, ts: datetime, **fields: Any) -> None:
        seq[device] = seq.get(device, 0) + 1
        rows.append(Reading(device, kind, channel, ts, seq[device], ts, **fields))

    volume = 12_345.0
    step = timedelta(minutes=15)
    ts = start
    tick = 0
    while ts <= now:
        hour = ts.astimezone(SHANGHAI).hour
        active = ts < quiet_since
        used = 0.0
        if active and 6 <= hour <= 22:
            peak = hour in (7, 8, 12, 18, 19)
            used = round(rng.uniform(2, 9) if peak else rng.choice((0, 0, 0.5, 1.5, 3)), 1)
        volume += used
        add(
            devices[0][0],
            DeviceType.WATER_METER,
            Channel.TELEMETRY,
            ts,
            volume_l=round(volume, 1),
            flow_lpm=round(used / 15, 2),
            battery_pct=86,
        )
        if used > 0:
            last_life = max(last_life, ts)
        for device, _, room in devices[2:]:
            night = hour >= 23 or hour < 6
            chance = 0.04 if night and room == "卫生间" else 0.0 if night else 0.35
            if active and rng.random() < chance:
                moment = ts + timedelta(minutes=rng.randint(0, 14))
                if moment < quiet_since:
                    add(
                        device,
                        DeviceType.PIR,
                        Channel.TELEMETRY,
                        moment,
                        motion=True,
                        room=room,
                        battery_pct=15 if weak_battery and room == "客厅" else 72,
                    )
                    last_life = max(last_life, moment)
        if tick % 4 == 0:  # hourly status reports
            add(
                devices[1][0],
                DeviceType.SMOKE,
                Channel.STATUS,
                ts,
                online=True,
                battery_pct=97,
                rssi_dbm=-58,
            )
            for device, _, _ in devices[2:]:
                add(
                    device,
                    DeviceType.PIR,
                    Channel.STATUS,
                    ts,
                    online=True,
                    rssi_dbm=-67,
                    fw="1.4.2",
                )
        ts += step
        tick += 1
    conn = await asyncpg.connect(db_url)  # its own: ingest's staging table is per connection
    try:
        await prepare_ingest_connection(conn)
        records = [reading_record(r, home_id) for r in sorted(rows, key=lambda r: (r.ts, r.seq))]
        await write_batch(conn, records, [])
    finally:
        await conn.close()
    return last_life


# More of the district for the screenshots: (home, street, resident, what it shows).
EXTRA_HOMES = (
    ("H0003", "幸福街道", "赵桂兰", "ok"),
    ("H0004", "和平街道", "陈志强", "offline"),
    ("H0005", "和平街道", "刘淑珍", "away"),
)
PAST_KINDS = (
    ("no_morning_activity", Category.INACTIVITY, Severity.HIGH, "上午 10 点前没有任何活动"),
    ("leak_continuous_flow", Category.LEAK, Severity.HIGH, "连续 90 分钟用水不停"),
    ("battery_low", Category.DEVICE, Severity.LOW, "卧室人体感应器电量 12%"),
    ("night_wandering", Category.WANDERING, Severity.MEDIUM, "凌晨 2 点至 4 点频繁走动"),
    ("routine_outlier", Category.ROUTINE, Severity.MEDIUM, "今天起床比平时晚 2 小时"),
)
PAST_OUTCOMES = (
    Outcome.RESIDENT_OK,
    Outcome.RESIDENT_OK,
    Outcome.FALSE_ALARM,
    Outcome.ASSISTED,
    Outcome.DEVICE_FAULT,
)


async def enrich_district(world: ConsoleWorld, db_url: str) -> None:
    """Three more homes (one fine, one silent, one away) and eight weeks of handled
    alerts, so the homes list and the dashboard have something to show."""
    rng = random.Random(11)
    now = world.now
    for home_id, street, resident, shape in EXTRA_HOMES:
        await add_home(
            world.pool,
            home_id,
            street=street,
            address=f"{street} {rng.randint(1, 99)} 号",
            resident=resident,
        )
        await assign(world.pool, home_id, ADVISOR, "primary_advisor")
        if shape == "ok":
            await seed_readings(world.pool, db_url, home_id, now, now, rng)
        elif shape == "offline":
            await seed_readings(world.pool, db_url, home_id, now - timedelta(days=4), now, rng)
        else:
            await seed_readings(world.pool, db_url, home_id, now - timedelta(days=1), now, rng)
            async with world.pool.acquire() as conn:
                await conn.execute(
                    "INSERT INTO away_periods (home_id, starts_at, ends_at, note, declared_by)"
                    " VALUES ($1, $2, $3, '住在儿子家', $4)",
                    home_id, now - timedelta(days=1), now + timedelta(days=4), FAMILY,
                )  # fmt: skip
    # Past alerts, handled: one clock that only moves forward, through eight weeks.
    clock = ManualClock(now - timedelta(weeks=8))
    service = AlertService(world.pool, clock)
    homes = [HOME, OTHER_HOME, "H0003", "H0004", "H0005"]
    while clock.now() < now - timedelta(days=1):
        clock.advance(timedelta(hours=rng.randint(14, 40)))
        kind, category, severity, text = rng.choice(PAST_KINDS)
        finding = Finding(rng.choice(homes), category, kind, severity, clock.now(), text)
        (result,) = await service.ingest([finding])
        if result.alert_id is None:
            continue
        advisor = rng.choice((ADVISOR, ADVISOR, "li"))
        clock.advance(timedelta(minutes=rng.choice((2, 4, 6, 9, 13, 22))))
        await service.acknowledge(result.alert_id, advisor)
        if severity in (Severity.HIGH, Severity.CRITICAL):
            clock.advance(timedelta(minutes=1))
            await service.claim(result.alert_id, advisor, clock.now() + timedelta(minutes=20))
            clock.advance(timedelta(minutes=rng.randint(9, 35)))
            await service.arrive(result.alert_id, advisor)
        clock.advance(timedelta(minutes=rng.randint(10, 90)))
        await service.resolve(result.alert_id, advisor, rng.choice(PAST_OUTCOMES))


__all__ = ["PASSWORD", "ConsoleWorld", "chromium", "console_world", "screenshot"]
