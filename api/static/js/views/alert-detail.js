// One alert: the explanation, the home's last 48 h, the history and deliveries, actions.
import { alertStore } from "../alerts-store.js";
import { enc, get, post } from "../api.js";
import { deviceTable, readingsChart } from "../chart.js";
import { h } from "../dom.js";
import { label, t } from "../i18n.js";
import { dateTime, duration, fullDateTime } from "../format.js";
import { flash, loadFailure, loading, section, severityBadge, stateBadge } from "../ui.js";

const OUTCOMES = ["resident_ok", "assisted", "emergency_services", "false_alarm", "device_fault", "away", "other"];

function detailText(entry, tz) {
  const d = entry.detail || {};
  const parts = [];
  if (d.outcome) parts.push(label("outcome", d.outcome));
  if (d.note) parts.push(d.note);
  if (d.text) parts.push(d.text);
  if (d.expected_arrival_at) parts.push(t("alerts.eta", { time: dateTime(d.expected_arrival_at, tz) }));
  if (d.reopened_from) parts.push(t("detail.reopenedFrom", { id: d.reopened_from }));
  if (typeof d.step === "number") parts.push(t("detail.escalationStep", { n: d.step + 1 }));
  if (Array.isArray(d.roles) && d.roles.length) parts.push(d.roles.map((r) => label("contact", r)).join("、"));
  if (d.digest === true) parts.push(label("purpose", "digest"));
  const known = new Set(["outcome", "note", "text", "expected_arrival_at", "reopened_from", "step", "roles", "digest"]);
  for (const [k, v] of Object.entries(d)) if (!known.has(k)) parts.push(`${k}: ${typeof v === "object" ? JSON.stringify(v) : v}`);
  return parts.join(" · ");
}

function historyTable(history, tz) {
  if (!history.length) return h("p", { class: "muted" }, t("detail.noHistory"));
  return h("table", { class: "table history" },
    h("thead", null, h("tr", null,
      ["col.time", "col.actor", "col.action", "col.state", "col.detail"].map((k) => h("th", { scope: "col" }, t(k))))),
    h("tbody", null, history.map((e) => h("tr", null,
      h("td", { class: "nowrap" }, fullDateTime(e.at, tz)),
      h("td", null, e.actor),
      h("td", null, label("action", e.action)),
      h("td", { class: "nowrap" }, e.from_state && e.to_state && e.from_state !== e.to_state
        ? `${label("state", e.from_state)} → ${label("state", e.to_state)}` : label("state", e.to_state) || ""),
      h("td", null, detailText(e, tz))))));
}

function deliveryTable(deliveries, tz) {
  if (!deliveries.length) return h("p", { class: "muted" }, t("detail.noDeliveries"));
  return h("table", { class: "table deliveries" },
    h("thead", null, h("tr", null,
      ["col.time", "col.purpose", "col.channel", "col.recipient", "col.status", "col.attempts", "col.error"].map((k) =>
        h("th", { scope: "col" }, t(k))))),
    h("tbody", null, deliveries.map((d) => h("tr", { class: d.status === "failed" ? "warn-row" : "" },
      h("td", { class: "nowrap" }, fullDateTime(d.sent_at || d.failed_at || d.created_at, tz)),
      h("td", null, label("purpose", d.purpose)),
      h("td", null, label("channel", d.channel)),
      h("td", null, `${label("contact", d.recipient_role)}${d.recipient_ref ? " · " + d.recipient_ref : ""}`),
      h("td", null, label("delivery", d.status)),
      h("td", null, d.attempts),
      h("td", null, [d.last_error, d.reply ? (typeof d.reply === "object" ? JSON.stringify(d.reply) : d.reply) : null].filter(Boolean).join(" · ") || "—")))));
}

function progressList(alert) {
  const tz = alert.timezone;
  const rows = [
    ["detail.opened", alert.opened_at, null],
    ["detail.lastSeen", alert.last_seen_at, null],
    ["detail.acknowledged", alert.acknowledged_at, alert.acknowledged_by],
    ["detail.claimed", alert.claimed_at, alert.claimed_by],
    ["detail.arrived", alert.arrived_at, alert.arrived_by],
    ["detail.resolved", alert.resolved_at, alert.resolved_by],
  ];
  return h("dl", { class: "progress-list" }, rows.map(([key, at, who]) => [
    h("dt", null, t(key)),
    h("dd", { class: at ? "done" : "pending" }, at
      ? [fullDateTime(at, tz), who ? ` · ${who}` : "",
         key === "detail.claimed" && alert.expected_arrival_at ? ` · ${t("alerts.eta", { time: dateTime(alert.expected_arrival_at, tz) })}` : "",
         key === "detail.resolved" && alert.outcome ? ` · ${label("outcome", alert.outcome)}` : "",
         key === "detail.resolved" && alert.resolution_note ? ` · ${alert.resolution_note}` : ""]
      : "—"),
  ]));
}

export function renderAlertDetail(root, { params }) {
  const id = params.id;
  let alive = true;
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
    if (alive) draw(data);
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
        deviceTable(readings.devices, alert.timezone));
    } catch (error) {
      chartBox.replaceChildren(h("p", { class: "message error" }, t("chart.unavailable", { message: error.message })));
    }
  };

  const feedback = h("div", { class: "action-feedback", "aria-live": "polite" });

  const act = async (button, path, body, doneLabel) => {
    button.disabled = true;
    try {
      const data = await post(`/alerts/${enc(id)}/${path}`, body);
      if (data && data.alert) alertStore.apply(data.alert);
      await load();
      if (!alive) return;
      flash(feedback, t("detail.done", { action: doneLabel }));
    } catch (error) {
      flash(feedback, t("detail.refused", { message: error.message }), "error");
    } finally {
      button.disabled = false;
    }
  };

  function actions(alert) {
    const active = alert.state !== "resolved";
    const eta = h("input", { id: "eta", type: "number", min: 1, max: 720, value: 15, inputmode: "numeric", class: "short" });
    const claim = h("button", { type: "button", class: "primary", dataset: { action: "claim" } }, t("detail.claim"));
    claim.addEventListener("click", () => act(claim, "claim", { eta_minutes: Number(eta.value) }, t("detail.claim")));
    const arrive = h("button", { type: "button", dataset: { action: "arrive" } }, t("detail.arrive"));
    arrive.addEventListener("click", () => act(arrive, "arrive", {}, t("detail.arrive")));
    const ack = h("button", { type: "button", dataset: { action: "acknowledge" } }, t("detail.acknowledge"));
    ack.addEventListener("click", () => act(ack, "acknowledge", {}, t("detail.acknowledge")));

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

    const commentText = h("textarea", { id: "comment-text", rows: 2, maxlength: 2000 });
    const comment = h("button", { type: "submit", dataset: { action: "comment" } }, t("detail.comment"));
    const commentForm = h("form", { class: "comment-form" },
      h("label", { for: "comment-text" }, t("detail.commentLabel")), commentText, comment);
    commentForm.addEventListener("submit", (e) => {
      e.preventDefault();
      act(comment, "comment", { text: commentText.value }, t("detail.comment"));
    });

    return section(t("detail.actions"),
      feedback,
      active ? [
        h("div", { class: "action-row" },
          h("span", { class: "field-inline" }, h("label", { for: "eta" }, t("detail.etaLabel")), eta), claim),
        h("div", { class: "action-row" }, arrive, ack),
        resolveForm,
      ] : h("p", { class: "message info" }, t("detail.resolvedNotice")),
      commentForm);
  }

  function draw(data) {
    const alert = data.alert;
    const tz = alert.timezone;
    const opened = alert.opened_at || alert.first_seen_at;
    document.title = `${t("detail.title", { id: alert.id })} · ${t("app.title")}`;
    root.replaceChildren(
      h("p", null, h("a", { href: "#/alerts" }, "← " + t("nav.alerts"))),
      h("div", { class: `alert-head card sev-border-${alert.severity}`, dataset: { alertId: alert.id, state: alert.state } },
        h("div", { class: "alert-head-top" },
          severityBadge(alert.severity, true),
          h("h1", { tabindex: "-1" }, `${alert.resident_name || alert.home_id} · ${label("cat", alert.category)}`),
          stateBadge(alert.state)),
        h("p", { class: "explanation", dataset: { testid: "explanation" } }, alert.explanation),
        h("p", { class: "muted" },
          h("a", { href: `#/homes/${enc(alert.home_id)}` }, alert.home_id), ` · ${alert.home_address || ""}`,
          alert.street ? ` · ${alert.street}` : "",
          ` · ${alert.kind}`,
          ` · ${t("alerts.age", { age: duration((alert.resolved_at ? Date.parse(alert.resolved_at) : Date.now()) - Date.parse(opened)) })}`,
          ` · ${t("home.timezone", { tz })}`,
          alert.reopened_from ? [" · ", h("a", { href: `#/alerts/${alert.reopened_from}` }, t("detail.reopenedFrom", { id: alert.reopened_from }))] : null)),
      h("div", { class: "detail-grid" },
        h("div", { class: "detail-main" },
          section(t("detail.chart"), chartBox),
          section(t("detail.history"), historyTable(data.history || [], tz)),
          section(t("detail.deliveries"), deliveryTable(data.deliveries || [], tz))),
        h("div", { class: "detail-side" },
          actions(alert),
          section(t("detail.progress"), progressList(alert)))));
    if (!chartLoaded) loadChart(alert);
  }

  // Someone else acting on this alert shows up here too.
  const unsubscribe = alertStore.subscribe((change) => {
    if (change.alert && String(change.alert.id) === String(id)) load();
  });
  load();
  return () => {
    alive = false;
    unsubscribe();
  };
}
