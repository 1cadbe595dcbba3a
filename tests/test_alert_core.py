"""The pure core: state machine, dedup/reopen decisions, escalation timing, throttling,
templates and signatures. Values in, values out; no database."""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime, time, timedelta

import pytest

from alerts import checkin, escalation, intake, lifecycle, templates
from alerts.outbox import RetryPolicy
from alerts.signing import sign_body, sign_webhook, verify_body, verify_webhook
from alerts.throttle import ThrottleConfig, over_rate_limit, quiet_hold_until
from core.alerts import Action, Alert, AlertState, IllegalTransition, InvalidCommand, Outcome
from core.contacts import Language, QuietHours, Role
from core.kinds import Category, Severity
from core.policy import (
    DEFAULT_POLICIES,
    EscalationPolicy,
    EscalationStep,
    PolicyError,
    policy_from_json,
    policy_to_json,
)
from detectors.findings import Finding

T0 = datetime(2026, 1, 5, 1, 0, tzinfo=UTC)
HIGH = DEFAULT_POLICIES["high"]


def an_alert(**changes: object) -> Alert:
    base = Alert(
        id=7,
        home_id="h1",
        category=Category.INACTIVITY,
        kind="motion_inactivity",
        severity=Severity.HIGH,
        state=AlertState.OPEN,
        explanation="no motion for 14 h",
        first_seen_at=T0,
        last_seen_at=T0,
        occurrences=1,
        opened_at=T0,
    )
    return dataclasses.replace(base, **changes)  # type: ignore[arg-type]


def minutes(n: float) -> timedelta:
    return timedelta(minutes=n)


# --- lifecycle -------------------------------------------------------------------------


def test_open_acknowledged_resolved_records_who_and_when() -> None:
    acked = lifecycle.acknowledge(an_alert(), "wang", T0 + minutes(3))
    assert acked.alert.state is AlertState.ACKNOWLEDGED
    assert (acked.alert.acknowledged_by, acked.alert.acknowledged_at) == ("wang", T0 + minutes(3))
    assert [e.action for e in acked.history] == [Action.ACKNOWLEDGED]
    assert (acked.history[0].from_state, acked.history[0].to_state) == (
        AlertState.OPEN,
        AlertState.ACKNOWLEDGED,
    )
    done = lifecycle.resolve_by_person(
        acked.alert, "wang", T0 + minutes(40), Outcome.ASSISTED, " helped up "
    )
    assert done.alert.state is AlertState.RESOLVED
    assert (done.alert.outcome, done.alert.resolution_note) == (Outcome.ASSISTED, "helped up")
    assert done.history[0].detail == {"outcome": "assisted", "note": "helped up"}


def test_claim_is_distinct_from_acknowledge_and_arrival_is_timed() -> None:
    claimed = lifecycle.claim(an_alert(), "li", T0 + minutes(2), T0 + minutes(20))
    # Claiming an open alert acknowledges it too, and says both.
    assert [e.action for e in claimed.history] == [Action.ACKNOWLEDGED, Action.CLAIMED]
    assert claimed.alert.claimed_by == "li" and claimed.alert.expected_arrival_at == T0 + minutes(
        20
    )
    arrived = lifecycle.arrive(claimed.alert, "li", T0 + minutes(17))
    assert arrived.alert.arrived_at == T0 + minutes(17)
    assert arrived.history[0].detail == {"seconds_to_arrive": 15 * 60}


def test_claiming_an_acknowledged_alert_adds_only_the_claim() -> None:
    acked = lifecycle.acknowledge(an_alert(), "wang", T0).alert
    claimed = lifecycle.claim(acked, "li", T0, T0 + minutes(10))
    assert [e.action for e in claimed.history] == [Action.CLAIMED]
    assert claimed.alert.acknowledged_by == "wang"


@pytest.mark.parametrize(
    ("command", "message"),
    [
        (lambda a: lifecycle.acknowledge(a, "x", T0), "already acknowledged"),
        (lambda a: lifecycle.arrive(a, "x", T0), "nobody claimed it"),
    ],
)
def test_illegal_transitions_on_an_acknowledged_alert(command: object, message: str) -> None:
    acked = lifecycle.acknowledge(an_alert(), "wang", T0).alert
    with pytest.raises(IllegalTransition, match=message):
        command(acked)  # type: ignore[operator]


@pytest.mark.parametrize(
    "command",
    [
        lambda a: lifecycle.acknowledge(a, "x", T0),
        lambda a: lifecycle.claim(a, "x", T0, T0),
        lambda a: lifecycle.arrive(a, "x", T0),
        lambda a: lifecycle.resolve(a, "x", T0, Outcome.OTHER),
    ],
    ids=["acknowledge", "claim", "arrive", "resolve"],
)
def test_a_resolved_alert_refuses_every_transition(command: object) -> None:
    resolved = lifecycle.resolve(an_alert(), "wang", T0, Outcome.FALSE_ALARM).alert
    with pytest.raises(IllegalTransition, match="resolved"):
        command(resolved)  # type: ignore[operator]


def test_comments_are_allowed_any_time_but_not_empty() -> None:
    resolved = lifecycle.resolve(an_alert(), "wang", T0, Outcome.AWAY).alert
    change = lifecycle.comment(resolved, "li", T0, "daughter confirms she is travelling")
    assert change.alert == resolved
    assert change.history[0].detail == {"text": "daughter confirms she is travelling"}
    with pytest.raises(InvalidCommand):
        lifecycle.comment(resolved, "li", T0, "   ")


def test_double_claim_arrival_twice_and_bad_input_are_refused() -> None:
    claimed = lifecycle.claim(an_alert(), "li", T0, T0 + minutes(5)).alert
    with pytest.raises(IllegalTransition, match="already claimed by li"):
        lifecycle.claim(claimed, "wang", T0, T0 + minutes(5))
    arrived = lifecycle.arrive(claimed, "li", T0 + minutes(4)).alert
    with pytest.raises(IllegalTransition, match="already arrived"):
        lifecycle.arrive(arrived, "li", T0 + minutes(5))
    with pytest.raises(InvalidCommand, match="past"):
        lifecycle.claim(an_alert(), "li", T0, T0 - minutes(1))
    with pytest.raises(InvalidCommand, match="actor"):
        lifecycle.acknowledge(an_alert(), " ", T0)
    with pytest.raises(InvalidCommand, match="only by the system"):
        lifecycle.resolve_by_person(an_alert(), "li", T0, Outcome.CONDITION_CLEARED)


# --- intake ----------------------------------------------------------------------------


def a_finding(**changes: object) -> Finding:
    base = Finding("h1", Category.INACTIVITY, "motion_inactivity", Severity.HIGH, T0, "no motion")
    return dataclasses.replace(base, **changes)  # type: ignore[arg-type]


def test_first_finding_opens_and_a_repeat_updates() -> None:
    config = intake.IntakeConfig()
    opened = intake.decide(a_finding(), None, None, T0, config)
    assert opened.verdict is intake.Verdict.OPENED and opened.new_alert is not None
    repeat = intake.decide(
        a_finding(at=T0 + minutes(30), explanation="still none"), an_alert(), None, T0, config
    )
    assert repeat.verdict is intake.Verdict.REPEATED and repeat.change is not None
    assert repeat.change.alert.occurrences == 2
    assert repeat.change.alert.last_seen_at == T0 + minutes(30)
    assert repeat.change.alert.explanation == "still none"


def test_recurrence_within_the_window_reopens_with_a_link() -> None:
    config = intake.IntakeConfig(reopen_window_s=6 * 3600)
    resolved = lifecycle.resolve(an_alert(), "wang", T0, Outcome.RESIDENT_OK).alert
    soon = intake.decide(a_finding(at=T0 + timedelta(hours=5)), None, resolved, T0, config)
    assert soon.verdict is intake.Verdict.REOPENED
    assert soon.new_alert is not None and soon.new_alert.reopened_from == 7
    later = intake.decide(a_finding(at=T0 + timedelta(hours=7)), None, resolved, T0, config)
    assert later.verdict is intake.Verdict.OPENED
    assert later.new_alert is not None and later.new_alert.reopened_from is None


def test_severity_defaults_per_kind() -> None:
    config = intake.IntakeConfig()
    expected = {
        ("smoke_alarm", Severity.HIGH): Severity.CRITICAL,
        ("motion_inactivity", Severity.MEDIUM): Severity.HIGH,
        ("leak_continuous_flow", Severity.HIGH): Severity.MEDIUM,
        ("battery_low", Severity.MEDIUM): Severity.LOW,
        ("some_new_kind", Severity.MEDIUM): Severity.MEDIUM,  # the detector's own
    }
    for (kind, given), severity in expected.items():
        assert config.severity_for(a_finding(kind=kind, severity=given)) is severity


def test_clears_resolve_low_and_medium_but_only_note_high_and_critical() -> None:
    config = intake.IntakeConfig()
    clear = a_finding(severity=Severity.INFO, clears=True, explanation="device back online")
    medium = an_alert(severity=Severity.MEDIUM, category=Category.DEVICE)
    done = intake.decide(clear, medium, None, T0 + minutes(1), config)
    assert done.verdict is intake.Verdict.AUTO_RESOLVED and done.change is not None
    assert done.change.alert.outcome is Outcome.CONDITION_CLEARED
    assert done.change.alert.resolution_note == "device back online"
    noted = intake.decide(clear, an_alert(), None, T0, config)
    assert noted.verdict is intake.Verdict.CLEAR_NOTED and noted.change is not None
    assert noted.change.alert.state is AlertState.OPEN
    assert noted.change.alert.condition_cleared_at == T0
    assert intake.decide(clear, None, None, T0, config).verdict is intake.Verdict.IGNORED
    info = a_finding(kind="smoke_test", severity=Severity.INFO)
    assert intake.decide(info, None, None, T0, config).verdict is intake.Verdict.IGNORED


# --- escalation ------------------------------------------------------------------------


def test_high_policy_steps_fire_on_time() -> None:
    start = escalation.start(an_alert(), HIGH, T0)
    assert [f.index for f in start.fired] == [0]
    assert start.fired[0].step.roles == (Role.RESIDENT,)
    assert start.alert.escalation_due_at == T0 + minutes(5)
    second = escalation.on_due(start.alert, HIGH, T0 + minutes(5))
    assert second.fired[0].step.roles == (Role.PRIMARY_ADVISOR,)
    assert second.alert.escalation_due_at == T0 + minutes(20)
    third = escalation.on_due(second.alert, HIGH, T0 + minutes(20))
    assert third.fired[0].step.roles == (Role.BACKUP_ADVISOR, Role.FAMILY)
    fourth = escalation.on_due(third.alert, HIGH, T0 + minutes(35))
    assert fourth.fired[0].step.roles == (Role.SUPERVISOR,)
    assert fourth.alert.escalation_due_at is None
    assert [e.action for e in fourth.history] == [Action.ESCALATED]


def test_steps_without_delay_fire_together_and_critical_reaches_everyone() -> None:
    policy = EscalationPolicy(
        (
            EscalationStep(0, (Role.RESIDENT,)),
            EscalationStep(0, (Role.PRIMARY_ADVISOR,)),
            EscalationStep(60, (Role.SUPERVISOR,)),
        )
    )
    start = escalation.start(an_alert(), policy, T0)
    assert [f.index for f in start.fired] == [0, 1]
    assert start.alert.escalation_due_at == T0 + timedelta(seconds=60)
    critical = escalation.start(
        an_alert(severity=Severity.CRITICAL), DEFAULT_POLICIES["critical"], T0
    )
    roles = set(critical.fired[0].step.roles)
    assert roles >= {Role.RESIDENT, Role.PRIMARY_ADVISOR, Role.BACKUP_ADVISOR, Role.SUPERVISOR,
                     Role.FAMILY, Role.EMERGENCY}  # fmt: skip


def test_acknowledgement_stops_and_an_unresolved_alert_resumes() -> None:
    started = escalation.on_due(escalation.start(an_alert(), HIGH, T0).alert, HIGH, T0 + minutes(5))
    acked = lifecycle.acknowledge(started.alert, "wang", T0 + minutes(8)).alert
    timed = escalation.after_command(acked, HIGH)
    assert timed.escalation_due_at == T0 + minutes(68)  # resolve_within_s = 1 h
    resumed = escalation.on_due(timed, HIGH, T0 + minutes(68))
    assert resumed.fired[0].resumed and resumed.fired[0].step.roles == (
        Role.BACKUP_ADVISOR,
        Role.FAMILY,
    )
    assert [e.action for e in resumed.history] == [Action.ESCALATION_RESUMED]
    assert resumed.alert.escalation_due_at == T0 + minutes(128)
    resolved = lifecycle.resolve(resumed.alert, "wang", T0 + minutes(70), Outcome.ASSISTED).alert
    assert escalation.after_command(resolved, HIGH).escalation_due_at is None


def test_a_claimed_alert_resumes_when_the_helper_is_late() -> None:
    claimed = lifecycle.claim(an_alert(escalation_step=1), "li", T0, T0 + minutes(20)).alert
    timed = escalation.after_command(claimed, HIGH)
    assert timed.escalation_due_at == T0 + minutes(35)  # expected arrival + 15 min grace
    arrived = lifecycle.arrive(timed, "li", T0 + minutes(19)).alert
    assert escalation.after_command(arrived, HIGH).escalation_due_at == T0 + minutes(79)


def test_checkin_answers() -> None:
    alert = escalation.start(an_alert(), HIGH, T0).alert
    fine = checkin.answer(alert, checkin.CheckinResult.FINE, T0 + minutes(1), HIGH, "c1")
    assert fine.resolved and fine.change.alert.outcome is Outcome.RESIDENT_OK
    assert fine.change.alert.escalation_due_at is None
    help_ = checkin.answer(alert, checkin.CheckinResult.HELP, T0 + minutes(1), HIGH, "c1")
    assert not help_.resolved and help_.change.alert.escalation_due_at == T0 + minutes(1)
    critical = dataclasses.replace(alert, severity=Severity.CRITICAL)
    kept = checkin.answer(critical, checkin.CheckinResult.FINE, T0, HIGH, "c1")
    assert not kept.resolved and kept.change.alert.state is AlertState.OPEN
    acked = lifecycle.acknowledge(alert, "wang", T0).alert
    late = checkin.answer(acked, checkin.CheckinResult.NO_ANSWER, T0, HIGH, "c1")
    assert late.change.alert == acked
    assert late.change.history[0].detail == {"result": "no_answer", "call_id": "c1"}


def test_policy_json_round_trip_and_validation() -> None:
    for policy in DEFAULT_POLICIES.values():
        assert policy_from_json(policy_to_json(policy)) == policy
    with pytest.raises(PolicyError, match="roles must be among"):
        policy_from_json({"steps": [{"after_s": 0, "roles": ["mayor"]}]})
    with pytest.raises(PolicyError, match="unknown field"):
        policy_from_json({"steps": [], "retries": 3})
    with pytest.raises(PolicyError, match="after_s"):
        policy_from_json({"steps": [{"after_s": -5, "roles": ["family"]}]})


# --- throttling, retries ---------------------------------------------------------------


def test_quiet_hours_hold_family_until_morning_except_critical() -> None:
    quiet = QuietHours(time(22, 0), time(7, 0))
    night = datetime(2026, 1, 5, 15, 30, tzinfo=UTC)  # 23:30 in Shanghai
    until = quiet_hold_until(Role.FAMILY, quiet, Severity.HIGH, night, "Asia/Shanghai")
    assert until == datetime(2026, 1, 5, 23, 0, tzinfo=UTC)  # 07:00 next morning there
    assert quiet_hold_until(Role.FAMILY, quiet, Severity.CRITICAL, night, "Asia/Shanghai") is None
    assert (
        quiet_hold_until(Role.PRIMARY_ADVISOR, quiet, Severity.HIGH, night, "Asia/Shanghai") is None
    )
    day = datetime(2026, 1, 5, 4, 0, tzinfo=UTC)  # noon
    assert quiet_hold_until(Role.FAMILY, quiet, Severity.HIGH, day, "Asia/Shanghai") is None


def test_rate_limit_spares_critical() -> None:
    config = ThrottleConfig(max_per_hour=3)
    assert not over_rate_limit(2, Severity.HIGH, config)
    assert over_rate_limit(3, Severity.HIGH, config)
    assert not over_rate_limit(30, Severity.CRITICAL, config)


def test_retry_delays_grow_exponentially_up_to_the_cap() -> None:
    policy = RetryPolicy(max_attempts=6, base_delay_s=10, cap_delay_s=60, jitter=0)
    assert [policy.delay_s(n) for n in range(1, 6)] == [10, 20, 40, 60, 60]


# --- templates and signatures ----------------------------------------------------------


def test_texts_in_chinese_and_english() -> None:
    alert = an_alert()
    zh = templates.render_alert(alert, "幸福路 8 号", "Asia/Shanghai", Role.PRIMARY_ADVISOR,
                                Language.ZH, 1, False)  # fmt: skip
    assert "居家养老告警 #7【高】" in zh.text and "长时间无活动迹象" in zh.text
    assert "2026-01-05 09:00" in zh.text  # local time in the home's zone
    assert "升级通知" in zh.text and "no motion for 14 h" in zh.text
    en = templates.render_alert(alert, "8 Xingfu Rd", "Asia/Shanghai", Role.FAMILY, Language.EN,
                                2, False)  # fmt: skip
    assert en.text.startswith("Eldercare: at 2026-01-05 09:00 we noticed no sign of activity")
    assert "no motion for 14 h" not in en.text  # family get no detector internals
    assert "<p>" in en.html
    zh_family = templates.render_alert(alert, "幸福路 8 号", "Asia/Shanghai", Role.FAMILY,
                                       Language.ZH, 2, False)  # fmt: skip
    assert "您家人的住所" in zh_family.text
    assert "按1" in templates.checkin_script(Language.ZH)
    assert "press 1" in templates.checkin_script(Language.EN)
    digest = templates.render_digest(["a", "b"], Language.ZH)
    assert digest.subject == "居家养老汇总：2 条更新"


def test_signatures() -> None:
    body = b'{"result": "fine"}'
    header = sign_body(b"k" * 16, body)
    assert header.startswith("sha256=") and verify_body(b"k" * 16, body, header)
    assert not verify_body(b"k" * 16, body + b" ", header)
    assert not verify_body(b"other-key-000000", body, header)
    ts = int(T0.timestamp())
    signed = sign_webhook(b"s" * 16, body, ts)
    assert verify_webhook(b"s" * 16, body, str(ts), signed, T0)
    assert not verify_webhook(b"s" * 16, body, str(ts), signed, T0 + minutes(10))  # stale
    assert not verify_webhook(b"s" * 16, body, str(ts + 1), signed, T0)


def test_a_long_digest_lists_the_newest_lines_and_counts_the_rest() -> None:
    lines = [f"line {i}" for i in range(40)]
    digest = templates.render_digest(lines, Language.EN)
    assert digest.subject == "Eldercare digest: 40 updates"
    assert "line 39" in digest.text and "line 24" not in digest.text
    assert digest.text.endswith("(and 25 earlier updates: see the console)")
