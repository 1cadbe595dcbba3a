"""End to end: simulated homes publish through the real broker; ingest, the detectors and
the alert stage run as `eldercare run` runs them; the SMS and voice gateway stand-ins
receive exactly what the escalation policies say, in order.

Smoke in one home (critical: everyone at once, the resident's call included) and a fall
in another (high: the check-in call, unanswered; then the primary advisor; 15 minutes
on, the backup advisor and the family; 15 more, the street office; then an advisor
acknowledges and nothing more is sent).
"""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from functools import partial
from zoneinfo import ZoneInfo

import asyncpg
import pytest

from alerts.config import ChannelSettings
from core.clock import ManualClock
from core.contacts import Role
from core.pipeline import CommittedBatch
from core.settings import Settings
from eldercare.backfill import backfill
from eldercare.people import (
    ADVISORS,
    SUPERVISOR,
    HomePeople,
    people_for,
    register_people,
    staff_phone,
)
from eldercare.runtime import Broker
from eldercare.stack import running_stack
from simulators.gateways.sms import sms_gateway
from simulators.gateways.voice import voice_gateway
from simulators.incidents import IncidentRates
from simulators.publisher import DevicePublisher
from simulators.record import simulate_homes
from simulators.scheduled import ScheduledIncident, ScheduledKind
from storage.registry import import_registry
from tests.ingest_helpers import wait_until
from tests.services import INGEST_USER, SIMULATOR_USER, Mosquitto, unique_name

pytestmark = pytest.mark.slow

TZ = ZoneInfo("Asia/Shanghai")
SECRET = b"scenario-callback-secret-0123"
STEP = timedelta(minutes=1)


def _day_start(days_ago: int) -> datetime:
    today = datetime.now(TZ).date()
    return datetime.combine(today - timedelta(days=days_ago), datetime.min.time(), TZ)


DAY0 = _day_start(3)  # history from here; the incidents happen on the next day
SMOKE_AT = DAY0 + timedelta(days=1, hours=9, minutes=20)
FALL_AT = DAY0 + timedelta(days=1, hours=10)
LIVE_FROM = DAY0 + timedelta(days=1, hours=9)
LIVE_UNTIL = FALL_AT + timedelta(hours=6)


async def test_smoke_and_a_fall_reach_exactly_the_people_the_policy_names(
    db: asyncpg.Connection, db_url: str, mosquitto: Mosquitto
) -> None:
    simulation = simulate_homes(
        2, days=3, seed=11, start=DAY0.date(), timezone="Asia/Shanghai",
        rates=IncidentRates().scaled(0),
        scheduled=(ScheduledIncident(0, ScheduledKind.FALL, FALL_AT, 240),
                   ScheduledIncident(1, ScheduledKind.SMOKE, SMOKE_AT, 10)),
    )  # fmt: skip
    rows = simulation.registry()
    await import_registry(db, rows, installed_at=DAY0)
    fallen, smoky = people_for(["H0001", "H0002"])
    await register_people(db, [fallen, smoky])
    cursor = simulation.cursor()
    await backfill(db_url, rows, cursor.advance_encoded(LIVE_FROM))

    settings = Settings.from_env({"ELDERCARE_API_PORT": "0",
                                  "ELDERCARE_INGEST_CLIENT_ID": unique_name("ingest")})  # fmt: skip
    committed = 0

    def count(batch: CommittedBatch) -> None:
        nonlocal committed
        committed += len(batch.readings)

    async def all_committed(published: int) -> bool:
        return committed >= published

    async def settled(moment: datetime) -> bool:
        if any(call.callback_status == "pending" for call in voice.calls):
            return False
        due = await db.fetchval(
            "SELECT count(*) FROM alert_deliveries WHERE status IN ('pending', 'sending')"
            " AND next_attempt_at <= $1",
            moment,
        )
        return int(due) == 0

    clock = ManualClock(LIVE_FROM.astimezone(UTC))
    async with (
        sms_gateway() as sms,
        voice_gateway(SECRET, answer_delay_s=0.05, default_answer="fine") as voice,
    ):
        voice.set_answers({fallen.resident_phone: "no_answer", smoky.resident_phone: "fine"})
        channels = ChannelSettings(
            sms_base_url=sms.url, voice_base_url=voice.url, voice_callback_secret=SECRET
        )
        broker = Broker(mosquitto.target(INGEST_USER), embedded=False)
        async with running_stack(
            settings, db_url, broker, clock, channels=channels, on_committed=count
        ) as stack:
            devices = DevicePublisher(mosquitto.target(SIMULATOR_USER), unique_name("homes"))
            await asyncio.to_thread(devices.connect)
            try:
                published = 0
                acknowledged = False
                moment = LIVE_FROM
                while moment < LIVE_UNTIL:
                    moment += STEP
                    clock.set(moment.astimezone(UTC))
                    # The test steps the pipeline's clock, so it proves the pipeline at
                    # each step too, as the heartbeat schedule would on a clock of its own.
                    stack.ingest.heartbeat_now()
                    batch = cursor.advance_encoded(moment)
                    if batch:
                        await devices.publish_all_async(batch)
                        published += len(batch)
                        await wait_until(partial(all_committed, published), 30, "ingest")
                    stack.detectors.nudge()
                    await asyncio.sleep(0.02)  # let the detectors and the alerts run
                    # The simulated clock waits for what is under way to finish (a call
                    # being answered, what it escalated to being sent), however busy the
                    # machine: the minutes asserted below are the policy's, not the load's.
                    await wait_until(partial(settled, moment), 30, "the alert stage")
                    # Escalation timers are judged on the simulated clock at every step,
                    # not only when the sweeper's real-time second comes round.
                    await stack.stage.sweeper.sweep_once()
                    supervisor_told = any(
                        m.to == staff_phone(SUPERVISOR) and "H0001" in m.text for m in sms.messages
                    )
                    if supervisor_told and not acknowledged:
                        fall_alert = await _active_alert(db, "H0001", "inactivity")
                        await stack.alerts.acknowledge(fall_alert, ADVISORS[0])
                        acknowledged = True
                        stop_at = moment + timedelta(minutes=45)  # 15 past the next step
                    if acknowledged and moment >= stop_at:
                        break
            finally:
                await asyncio.to_thread(devices.close)

    assert acknowledged, "the fall never escalated to the street office"
    # The voice gateway placed two calls: the smoke home's resident, then the fallen one.
    assert [call.to for call in voice.calls] == [smoky.resident_phone, fallen.resident_phone]
    smoke_texts = [m for m in sms.messages if "H0002" in m.text]
    fall_texts = [m for m in sms.messages if "H0001" in m.text]
    assert len(smoke_texts) + len(fall_texts) == len(sms.messages), "an SMS about nothing"
    # Smoke: everyone of that home at once, each exactly once.
    primary, backup = ADVISORS[1], ADVISORS[0]  # H0002 is in the second half: Zhang's
    assert sorted(m.to for m in smoke_texts) == sorted(
        [staff_phone(primary), staff_phone(backup), staff_phone(SUPERVISOR),
         _family_phone(smoky)]
    )  # fmt: skip
    # The fall: the primary advisor once the call went unanswered, then the backup and
    # the family, then the street office; nothing after the acknowledgement.
    order = [m.to for m in fall_texts]
    assert order[0] == staff_phone(ADVISORS[0])
    assert sorted(order[1:3]) == sorted([staff_phone(ADVISORS[1]), _family_phone(fallen)])
    assert order[3:] == [staff_phone(SUPERVISOR)]
    # When, on the simulated clock: at once, then 15 and 15 minutes later.
    steps = await db.fetch(
        "SELECT recipient_role, min(created_at) AS at FROM alert_deliveries"
        " WHERE home_id = 'H0001' GROUP BY recipient_role"
    )
    at = {row["recipient_role"]: row["at"] for row in steps}
    assert at["primary_advisor"] - at["resident"] <= timedelta(minutes=2)
    assert at["backup_advisor"] == at["family"]
    quarter = timedelta(minutes=15)
    assert quarter <= at["backup_advisor"] - at["primary_advisor"] <= quarter + STEP
    assert quarter <= at["supervisor"] - at["backup_advisor"] <= quarter + STEP
    # The resident's "fine" to the smoke call is recorded; smoke still waits for a person.
    smoke_state = await db.fetchval("SELECT state FROM alerts WHERE home_id = 'H0002'")
    assert smoke_state == "open"


def _family_phone(home: HomePeople) -> str:
    (family,) = [c for c in home.contacts if c.role is Role.FAMILY]
    return family.endpoints[0].address


async def _active_alert(db: asyncpg.Connection, home_id: str, category: str) -> int:
    alert_id = await db.fetchval(
        "SELECT id FROM alerts WHERE home_id = $1 AND category = $2 AND state = 'open'",
        home_id,
        category,
    )
    assert alert_id is not None, f"no open {category} alert for {home_id}"
    return int(alert_id)
