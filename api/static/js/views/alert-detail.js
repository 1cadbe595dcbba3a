// One alert, phone first: who, where, what and how it stands now, the calls to make and
// the actions that still apply; then the resident's profile, progress, the home's last
// 48 h, the history and the deliveries (tables scroll inside their own box).
import { alertStore } from "../alerts-store.js";
import { ageText, conditionState, overdue, peopleState } from "../alert-state.js";
import { enc, get, post } from "../api.js";
import { deviceTable, readingsChart } from "../chart.js";
import { h } from "../dom.js";
import { explainAlert, explainFinding, kindLabel, personName } from "../explain.js";
import { joinList, label, t } from "../i18n.js";
import { clock, dateTime, duration, fullDateTime } from "../format.js";
import { errorText, flash, loadFailure, loading, section, severityBadge, stateBadge } from "../ui.js";
import { profileCard, telLink } from "../profile.js";
import { onDutyCard } from "../duty.js";

const OUTCOMES = ["resident_ok", "assisted", "emergency_services", "false_alarm", "device_fault", "away", "other"];

/** A history entry's details in words: never a raw key, code or ISO time. */
export function detailText(entry, alert) {
  const tz = alert.timezone;
  const d = entry.detail || {};
  const parts = [];
  if (d.outcome) parts.push(label("outcome", d.outcome));
  if (d.note) parts.push(d.note);
  if (d.text) parts.push(d.text);
  if (d.expected_arrival_at) parts.push(t("alerts.eta", { time: dateTime(d.expected_arrival_at, tz) }));
  if (typeof d.seconds_to_arrive === "number") parts.push(t("detail.arriveAfter", { age: duration(d.seconds_to_arrive * 1000) }));
  if (d.reopened_from) parts.push(t("detail.reopenedFrom", { id: d.reopened_from }));
  if (typeof d.step === "number") parts.push(t("detail.escalationStep", { n: d.step + 1 }));
  if (Array.isArray(d.roles) && d.roles.length) parts.push(joinList(d.roles.map((r) => label("contact", r))));
  if (d.digest === true) parts.push(label("purpose", "digest"));
  if (d.result) parts.push(label("checkin", d.result));
  if (d.via === "sms") parts.push(t("detail.viaSms"));
  if (d.via === "call") parts.push(t("detail.viaCall"));
  if (entry.action === "condition_cleared" && (d.explanation || d.params)) {
    parts.push(explainFinding(alert.kind, d.params, tz, d.explanation, true));
  }
  if (d.at && entry.action === "condition_cleared") parts.push(t("detail.at", { time: clock(d.at, tz) }));
  return parts.join(" · ");
}

function historyTable(history, alert) {
  if (!history.length) return h("p", { class: "muted" }, t("detail.noHistory"));
  const tz = alert.timezone;
  return h("div", { class: "table-scroll" }, h("table", { class: "table history" },
    h("thead", null, h("tr", null,
      ["col.time", "col.actor", "col.action", "col.detail"].map((k) => h("th", { scope: "col" }, t(k))))),
    h("tbody", null, history.map((e) => h("tr", { dataset: { action: e.action } },
      h("td", { class: "nowrap" }, dateTime(e.at, tz)),
      h("td", null, e.actor === "system" || e.actor === "resident_checkin" ? label("actor", e.actor) : personName(alert, e.actor)),
      h("td", null, label("action", e.action),
        e.from_state && e.to_state && e.from_state !== e.to_state ? h("div", { class: "muted small" }, `${label("state", e.from_state)} → ${label("state", e.to_state)}`) : null),
      h("td", null, detailText(e, alert)))))));
}

function deliveryTable(deliveries, tz) {
  if (!deliveries.length) return h("p", { class: "muted" }, t("detail.noDeliveries"));
  return h("div", { class: "table-scroll" }, h("table", { class: "table deliveries" },
    h("thead", null, h("tr", null,
      ["col.time", "col.recipient", "col.channel", "col.status"].map((k) => h("th", { scope: "col" }, t(k))))),
    h("tbody", null, deliveries.map((d) => h("tr", { class: d.status === "failed" ? "warn-row" : "" },
      h("td", { class: "nowrap" }, dateTime(d.sent_at || d.failed_at || d.created_at, tz)),
      h("td", null, d.recipient_name || label("contact", d.recipient_role),
        h("div", { class: "muted small" }, `${label("contact", d.recipient_role)} · ${label("purpose", d.purpose)}`)),
      h("td", null, label("channel", d.channel)),
      h("td", null, label("delivery", d.status),
        d.reply ? h("div", { class: "small" }, label("checkin", d.reply)) : null,
        d.attempts > 1 ? h("div", { class: "muted small" }, t("detail.attempts", { n: d.attempts })) : null))))));
}

function progressList(alert) {
  const tz = alert.timezone;
  const rows = [
    ["detail.opened", alert.opened_at, null],
    ["detail.acknowledged", alert.acknowledged_at, alert.acknowledged_by],
    ["detail.claimed", alert.claimed_at, alert.claimed_by],
    ["detail.arrived", alert.arrived_at, alert.arrived_by],
    ["detail.resolved", alert.resolved_at, alert.resolved_by],
  ];
  return h("dl", { class: "progress-list" }, rows.map(([key, at, who]) => [
    h("dt", null, t(key)),
    h("dd", { class: at ? "done" : "pending" }, at
      ? [fullDateTime(at, tz), who ? ` · ${who === "system" || who === "resident_checkin" ? label("actor", who) : personName(alert, who)}` : "",
         key === "detail.claimed" && alert.expected_arrival_at ? ` · ${t("alerts.eta", { time: clock(alert.expected_arrival_at, tz) })}` : "",
         key === "detail.resolved" && alert.outcome ? ` · ${label("outcome", alert.outcome)}` : "",
         key === "detail.resolved" && alert.resolution_note ? ` · ${alert.resolution_note}` : ""]
      : "—"),
  ]));
}

export function renderAlertDetail(root, { params, user }) {
  const id = params.id;
  let alive = true;
  let current = null;
  let profile = null;
  root.replaceChildren(loading());

  // Loads coalesce: one in flight, at most one more queued behind it.
  let inFlight = null;
  let queued = false;
  const load = () => {
    if (inFlight) {
      queued = true;
      return inFlight;
    }
    inFlight = fetchAndDraw().finally(() => {
      inFlight = null;
      if (queued && alive) {
        queued = false;
        load();
      }
    });
    return inFlight;
  };

  const fetchAndDraw = async () => {
    let data;
    try {
      data = await get(`/alerts/${enc(id)}`);
    } catch (error) {
      if (alive) root.replaceChildren(h("p", null, h("a", { href: "#/alerts" }, "← " + t("common.back"))), loadFailure(error, t("common.notFoundAlert"), load));
      return;
    }
    if (!alive) return;
    current = data;
    if (profile === null && data.alert.home_id !== "*") {
      profile = get(`/homes/${enc(data.alert.home_id)}/profile`).then((p) => p, () => null);
    }
    draw(data, profile ? await profile : null);
  };

  const chartBox = h("div", { class: "chart-box" }, loading());
  let chartLoaded = false;
  const loadChart = async (alert) => {
    chartLoaded = true;
    try {
      const readings = await get(`/homes/${enc(alert.home_id)}/readings?hours=48`);
      if (!alive) return;
      chartBox.replaceChildren(
        readingsChart(readings, alert.timezone, alert.opened_at),
        h("h3", null, t("chart.devices")),
        h("div", { class: "table-scroll" }, deviceTable(readings.devices, alert.timezone)));
    } catch (error) {
      chartBox.replaceChildren(h("p", { class: "message error" }, t("chart.unavailable", { message: errorText(error) })));
    }
  };

  const feedback = h("div", { class: "action-feedback", "aria-live": "polite", dataset: { testid: "action-feedback" } });

  const act = async (button, path, body, doneLabel) => {
    button.disabled = true;
    try {
      const data = await post(`/alerts/${enc(id)}/${path}`, body);
      if (data && data.alert) alertStore.apply(data.alert);
      await load();
      if (!alive) return;
      flash(feedback, t("detail.done", { action: doneLabel }));
    } catch (error) {
      // The alert moved on under us (someone else acted): show where it is now.
      if (error.status === 409) await load();
      if (alive) flash(feedback, errorText(error), "error");
    } finally {
      button.disabled = false;
    }
  };

  function actions(alert) {
    const active = alert.state !== "resolved";
    if (!active) return section(t("detail.actions"), feedback, h("p", { class: "message info" }, t("detail.resolvedNotice")), commentForm());
    const rows = [];
    if (!alert.claimed_at) {
      const eta = h("input", { id: "eta", type: "number", min: 1, max: 720, value: 15, inputmode: "numeric", class: "short" });
      const claim = h("button", { type: "button", class: "primary", dataset: { action: "claim" } }, t("detail.claim"));
      claim.addEventListener("click", () => act(claim, "claim", { eta_minutes: Number(eta.value) }, t("detail.claim")));
      rows.push(h("div", { class: "action-row" }, h("span", { class: "field-inline" }, h("label", { for: "eta" }, t("detail.etaLabel")), eta), claim));
    } else if (!alert.arrived_at) {
      if (alert.claimed_by !== user.username) rows.push(h("p", { class: "muted" }, t("detail.alreadyClaimed", { who: personName(alert, alert.claimed_by) })));
      const arrive = h("button", { type: "button", class: "primary", dataset: { action: "arrive" } }, t("detail.arrive"));
      arrive.addEventListener("click", () => act(arrive, "arrive", {}, t("detail.arrive")));
      rows.push(h("div", { class: "action-row" }, arrive));
    }
    if (alert.state === "open") {
      const ack = h("button", { type: "button", dataset: { action: "acknowledge" } }, t("detail.acknowledge"));
      ack.addEventListener("click", () => act(ack, "acknowledge", {}, t("detail.acknowledge")));
      rows.push(h("div", { class: "action-row" }, ack));
    }
    const outcome = h("select", { id: "outcome", required: true },
      h("option", { value: "" }, t("detail.outcomePick")),
      OUTCOMES.map((o) => h("option", { value: o }, label("outcome", o))));
    const note = h("textarea", { id: "resolve-note", rows: 2, maxlength: 2000 });
    const resolve = h("button", { type: "submit", class: "danger", dataset: { action: "resolve" } }, t("detail.resolve"));
    const resolveForm = h("form", { class: "resolve-form" },
      h("label", { for: "outcome" }, t("detail.outcome")), outcome,
      h("label", { for: "resolve-note" }, t("detail.note")), note, resolve);
    resolveForm.addEventListener("submit", (e) => {
      e.preventDefault();
      const body = { outcome: outcome.value };
      if (note.value.trim()) body.note = note.value.trim();
      act(resolve, "resolve", body, t("detail.resolve"));
    });
    return section(t("detail.actions"), feedback, rows, resolveForm, commentForm());
  }

  function commentForm() {
    const commentText = h("textarea", { id: "comment-text", rows: 2, maxlength: 2000 });
    const comment = h("button", { type: "submit", dataset: { action: "comment" } }, t("detail.comment"));
    const form = h("form", { class: "comment-form" },
      h("label", { for: "comment-text" }, t("detail.commentLabel")), commentText, comment);
    form.addEventListener("submit", (e) => {
      e.preventDefault();
      act(comment, "comment", { text: commentText.value }, t("detail.comment"));
    });
    return form;
  }

  const nowLine = h("p", { class: "alert-now", dataset: { testid: "alert-now" } });
  const ageLine = h("span", { dataset: { testid: "age" } });
  const drawNow = () => {
    if (!current) return;
    const alert = current.alert;
    const now = Date.now();
    const condition = conditionState(alert);
    const people = peopleState(alert, now);
    nowLine.className = `alert-now tone-${condition.tone}${overdue(alert, now) ? " overdue" : ""}`;
    nowLine.replaceChildren(...[
      h("strong", null, condition.text),
      people ? ` · ${people.text}` : "",
      people && people.late ? h("strong", { class: "late", dataset: { testid: "overdue" } }, ` · ${people.late}`) : "",
    ].filter(Boolean));
    ageLine.textContent = ageText(alert, now);
  };

  function draw(data, prof) {
    const alert = data.alert;
    const tz = alert.timezone;
    document.title = `${t("detail.title", { id: alert.id })} · ${t("app.title")}`;
    const place = prof ? [prof.address, prof.building && !String(prof.address || "").includes(prof.building) ? prof.building : null,
      prof.floor ? t("profile.floorN", { n: prof.floor }) : null].filter(Boolean).join(" · ") : alert.home_address;
    const calls = prof ? [
      prof.phone ? telLink(prof.phone, t("detail.callResident"), "call-resident") : null,
      prof.key_holder_phone ? telLink(prof.key_holder_phone, t("detail.callKeyHolder"), "call-key-holder") : null,
    ].filter(Boolean) : [];
    drawNow();
    root.replaceChildren(
      h("p", { class: "back" }, h("a", { href: "#/alerts" }, "← " + t("nav.alerts"))),
      h("div", { class: `alert-head card sev-border-${alert.severity}`, dataset: { alertId: alert.id, state: alert.state } },
        h("div", { class: "alert-head-top" },
          severityBadge(alert.severity, true),
          h("h1", { tabindex: "-1" }, `${alert.resident_name || alert.home_id} · ${kindLabel(alert.kind, alert.category)}`),
          stateBadge(alert.state)),
        h("p", { class: "explanation", dataset: { testid: "explanation" } }, explainAlert(alert)),
        nowLine,
        h("p", { class: "where" }, place || "", alert.street ? h("span", { class: "muted" }, ` · ${alert.street}`) : null),
        calls.length ? h("div", { class: "call-row" }, calls) : null,
        h("p", { class: "muted small" },
          ageLine, ` · ${t("alerts.opened", { time: dateTime(alert.opened_at, tz) })}`,
          " · ", h("a", { href: `#/homes/${enc(alert.home_id)}` }, alert.home_id),
          alert.reopened_from ? [" · ", h("a", { href: `#/alerts/${alert.reopened_from}` }, t("detail.reopenedFrom", { id: alert.reopened_from }))] : null)),
      h("div", { class: "detail-grid" },
        h("div", { class: "detail-side" },
          actions(alert),
          onDutyCard(data.on_duty),
          prof ? profileCard(prof) : null,
          section(t("detail.progress"), progressList(alert))),
        h("div", { class: "detail-main" },
          section(t("detail.chart"), chartBox),
          section(t("detail.history"), historyTable(data.history || [], alert)),
          section(t("detail.deliveries"), deliveryTable(data.deliveries || [], tz)))));
    if (!chartLoaded && alert.home_id !== "*") loadChart(alert);
  }

  // Someone else acting on this alert shows up here too.
  const unsubscribe = alertStore.subscribe((change) => {
    if (change.alert && String(change.alert.id) === String(id)) load();
  });
  const timer = setInterval(drawNow, 15000); // the live duration and the overdue flag
  load();
  return () => {
    alive = false;
    unsubscribe();
    clearInterval(timer);
  };
}
