// The live list of active alerts (open and acknowledged), worst and oldest first.
import { alertStore } from "../alerts-store.js";
import { h } from "../dom.js";
import { label, t } from "../i18n.js";
import { clock, dateTime, duration } from "../format.js";
import { errorBox, loading, severityBadge, stateBadge } from "../ui.js";

function alertRow(alert, now) {
  const tz = alert.timezone;
  const opened = alert.opened_at || alert.first_seen_at;
  const fresh = alertStore.isFresh(alert.id);
  const progress = [];
  if (alert.arrived_at) progress.push(t("alerts.arrivedBy", { who: alert.arrived_by }));
  else if (alert.claimed_at) {
    progress.push(t("alerts.claimedBy", { who: alert.claimed_by }));
    if (alert.expected_arrival_at) progress.push(t("alerts.eta", { time: clock(alert.expected_arrival_at, tz) }));
  } else if (alert.acknowledged_at) progress.push(t("alerts.ackBy", { who: alert.acknowledged_by }));
  return h("li", { class: `alert-item sev-border-${alert.severity}${fresh ? " fresh" : ""}`, dataset: { alertId: alert.id, severity: alert.severity } },
    h("a", { href: `#/alerts/${alert.id}`, class: "alert-link" },
      h("div", { class: "alert-badges" },
        severityBadge(alert.severity, true),
        fresh ? h("span", { class: "new-tag" }, t("alerts.new")) : null),
      h("div", { class: "alert-main" },
        h("div", { class: "alert-title" },
          h("strong", null, alert.resident_name || alert.home_id),
          " · ", label("cat", alert.category),
          " ", stateBadge(alert.state)),
        h("div", { class: "alert-explanation" }, alert.explanation),
        h("div", { class: "alert-meta muted" },
          `${alert.home_id} · ${alert.home_address || ""}`,
          alert.occurrences > 1 ? ` · ${t("alerts.occurrences", { n: alert.occurrences })}` : "",
          progress.length ? h("span", { class: "progress" }, " · " + progress.join(" · ")) : null)),
      h("div", { class: "alert-age" },
        h("div", { class: "age" }, t("alerts.age", { age: duration(now - Date.parse(opened)) })),
        h("div", { class: "muted small" }, t("alerts.opened", { time: dateTime(opened, tz) })))));
}

export function renderAlerts(root) {
  const count = h("p", { class: "muted", "aria-live": "polite" });
  const list = h("ul", { class: "alert-list", "aria-label": t("alerts.title") });
  const body = h("div", null, loading());
  root.replaceChildren(
    h("div", { class: "page-head" }, h("h1", { tabindex: "-1" }, t("alerts.title")), count),
    body);

  let failed = false;
  const draw = () => {
    if (!alertStore.loaded) {
      if (failed) body.replaceChildren(errorBox(new Error(t("stream.reconnecting"))));
      return;
    }
    const now = Date.now();
    const alerts = alertStore.sorted();
    count.textContent = t("alerts.count", { n: alerts.length });
    if (!alerts.length) {
      body.replaceChildren(h("p", { class: "empty", dataset: { testid: "alerts-empty" } }, t("alerts.empty")));
      return;
    }
    list.replaceChildren(...alerts.map((a) => alertRow(a, now)));
    if (body.firstChild !== list) body.replaceChildren(list);
  };
  const unsubscribe = alertStore.subscribe((change) => {
    if (change.type === "error") failed = true;
    if (change.type !== "status") draw();
  });
  draw();
  const timer = setInterval(draw, 30000); // ages and highlights move on
  return () => {
    unsubscribe();
    clearInterval(timer);
  };
}
