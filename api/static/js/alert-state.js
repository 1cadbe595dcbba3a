// An alert's current state in a few words, from its fields (not its first sentence):
// still going / stopped at / answered fine / no answer / resolved, who is on the way and
// whether they are late. Durations are computed here, from timestamps, at each redraw.
import { personName } from "./explain.js";
import { clock, duration } from "./format.js";
import { label, t } from "./i18n.js";

/** True when someone claimed the visit, the expected arrival has passed, and nobody arrived. */
export function overdue(alert, now = Date.now()) {
  return Boolean(alert.state !== "resolved" && alert.claimed_at && !alert.arrived_at &&
    alert.expected_arrival_at && Date.parse(alert.expected_arrival_at) < now);
}

/** {tone, text} of what is happening now with the condition itself. */
export function conditionState(alert) {
  const tz = alert.timezone;
  if (alert.state === "resolved") {
    if (alert.outcome === "condition_cleared") return { tone: "ok", key: "cleared", text: t("now.clearedAt", { time: clock(alert.condition_cleared_at || alert.resolved_at, tz) }) };
    if (alert.outcome === "resident_ok" && alert.checkin_result === "fine") return { tone: "ok", key: "fine", text: t("now.answeredFine") };
    return { tone: "ok", key: "resolved", text: t("now.resolvedAt", { time: clock(alert.resolved_at, tz), outcome: label("outcome", alert.outcome) }) };
  }
  if (alert.checkin_result === "help") return { tone: "bad", key: "help", text: t("now.askedHelp") };
  if (alert.condition_cleared_at) return { tone: "warn", key: "cleared", text: t("now.clearedWaiting", { time: clock(alert.condition_cleared_at, tz) }) };
  if (alert.checkin_result === "no_answer") return { tone: "bad", key: "no_answer", text: t("now.noAnswer") };
  if (alert.checkin_result === "fine") return { tone: "warn", key: "fine", text: t("now.answeredFine") };
  return { tone: "bad", key: "going", text: t("now.going") };
}

/** Who is doing what about it, or null; `late` when the expected arrival has passed. */
export function peopleState(alert, now = Date.now()) {
  const tz = alert.timezone;
  if (alert.state === "resolved") return null;
  if (alert.arrived_at) return { text: t("now.arrived", { who: personName(alert, alert.arrived_by), time: clock(alert.arrived_at, tz) }) };
  if (alert.claimed_at) {
    const text = t("now.onTheWay", { who: personName(alert, alert.claimed_by), time: clock(alert.expected_arrival_at, tz) });
    if (overdue(alert, now)) return { text, late: t("now.overdue", { late: duration(now - Date.parse(alert.expected_arrival_at)) }) };
    return { text };
  }
  if (alert.acknowledged_at) return { text: t("now.ackedBy", { who: personName(alert, alert.acknowledged_by), time: clock(alert.acknowledged_at, tz) }) };
  return { text: t("now.notSeen"), unseen: true };
}

/** How long it has been going on (live), or how long it lasted (ended). */
export function ageText(alert, now = Date.now()) {
  const start = Date.parse(alert.first_seen_at || alert.opened_at);
  const endAt = alert.condition_cleared_at || alert.resolved_at;
  if (endAt) return t("now.lasted", { age: duration(Date.parse(endAt) - start) });
  return t("alerts.age", { age: duration(now - start) });
}
