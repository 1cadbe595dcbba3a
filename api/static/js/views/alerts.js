// The alert lists: open alerts live (worst and oldest first), recent ones (everything,
// newest first, including alerts that opened and closed within seconds) and resolved
// ones; filters mine / unclaimed / severity / street are the API's own.
import { alertStore } from "../alerts-store.js";
import { get, query } from "../api.js";
import { ageText, conditionState, overdue, peopleState } from "../alert-state.js";
import { h } from "../dom.js";
import { explainAlert, kindLabel } from "../explain.js";
import { label, t } from "../i18n.js";
import { dateTime } from "../format.js";
import { errorBox, loading, severityBadge, stateBadge } from "../ui.js";

const VIEWS = ["active", "recent", "resolved"];
const SEVERITIES = ["critical", "high", "medium", "low"];
const STATE_OF_VIEW = { active: "active", recent: "all", resolved: "resolved" };

export function alertRow(alert, now) {
  const tz = alert.timezone;
  const fresh = alertStore.isFresh(alert.id);
  const condition = conditionState(alert);
  const people = peopleState(alert, now);
  const late = overdue(alert, now);
  return h("li", { class: `alert-item sev-border-${alert.severity}${fresh ? " fresh" : ""}${late ? " overdue" : ""}`, dataset: { alertId: alert.id, severity: alert.severity, state: alert.state, now: condition.key } },
    h("a", { href: `#/alerts/${alert.id}`, class: "alert-link" },
      h("div", { class: "alert-badges" },
        severityBadge(alert.severity, true),
        fresh ? h("span", { class: "new-tag" }, t("alerts.new")) : null),
      h("div", { class: "alert-main" },
        h("div", { class: "alert-title" },
          h("strong", null, alert.resident_name || alert.home_id),
          " · ", kindLabel(alert.kind, alert.category),
          " ", stateBadge(alert.state)),
        h("div", { class: "alert-explanation", dataset: { testid: "explanation" } }, explainAlert(alert)),
        h("div", { class: `alert-now tone-${condition.tone}`, dataset: { testid: "alert-now" } },
          condition.text,
          people ? h("span", { class: people.unseen ? "unseen" : "" }, ` · ${people.text}`) : null,
          people && people.late ? h("strong", { class: "late", dataset: { testid: "overdue" } }, ` · ${people.late}`) : null),
        h("div", { class: "alert-meta muted" },
          alert.home_address || alert.home_id,
          alert.occurrences > 1 ? ` · ${t("alerts.occurrences", { n: alert.occurrences })}` : "")),
      h("div", { class: "alert-age" },
        h("div", { class: "age", dataset: { testid: "age" } }, ageText(alert, now)),
        h("div", { class: "muted small" }, t("alerts.opened", { time: dateTime(alert.opened_at || alert.first_seen_at, tz) })))));
}

function readFilters(q) {
  return {
    view: VIEWS.includes(q.get("view")) ? q.get("view") : "active",
    mine: q.get("mine") === "1",
    unclaimed: q.get("unclaimed") === "1",
    severity: SEVERITIES.includes(q.get("severity")) ? q.get("severity") : "",
    street: q.get("street") || "",
  };
}

function hashOf(f) {
  const q = query({ view: f.view === "active" ? null : f.view, mine: f.mine ? 1 : null, unclaimed: f.unclaimed ? 1 : null, severity: f.severity || null, street: f.street || null });
  return `#/alerts${q}`;
}

function filterBar(f, streets) {
  const go = (change) => { location.hash = hashOf({ ...f, ...change }); };
  const tabs = h("div", { class: "tabs", role: "tablist" }, VIEWS.map((v) =>
    h("a", { href: hashOf({ ...f, view: v }), role: "tab", class: "tab", "aria-selected": String(v === f.view), dataset: { view: v } }, t(`views.${v}`))));
  const check = (name) => {
    const box = h("input", { type: "checkbox", id: `filter-${name}`, checked: f[name], dataset: { filter: name } });
    box.addEventListener("change", () => go({ [name]: box.checked }));
    return h("label", { class: "chip", for: `filter-${name}` }, box, " ", t(`filter.${name}`));
  };
  const severity = h("select", { id: "filter-severity", dataset: { filter: "severity" } },
    h("option", { value: "" }, t("filter.any")),
    SEVERITIES.map((s) => h("option", { value: s, selected: s === f.severity }, label("sev", s))));
  severity.addEventListener("change", () => go({ severity: severity.value }));
  const streetList = [...new Set([...streets, f.street].filter(Boolean))].sort();
  const street = h("select", { id: "filter-street", dataset: { filter: "street" } },
    h("option", { value: "" }, t("filter.any")),
    streetList.map((s) => h("option", { value: s, selected: s === f.street }, s)));
  street.addEventListener("change", () => go({ street: street.value }));
  const any = f.mine || f.unclaimed || f.severity || f.street;
  return h("div", { class: "filters" }, tabs,
    h("div", { class: "filter-row" },
      check("mine"), check("unclaimed"),
      h("span", { class: "field-inline" }, h("label", { for: "filter-severity" }, t("filter.severity")), severity),
      streetList.length > 1 || f.street ? h("span", { class: "field-inline" }, h("label", { for: "filter-street" }, t("filter.street")), street) : null,
      any ? h("a", { href: hashOf({ view: f.view }), class: "link" }, t("filter.clear")) : null));
}

export function renderAlerts(root, { params }) {
  const f = readFilters(params.query);
  const live = f.view === "active" && !f.mine && !f.unclaimed && !f.severity && !f.street;
  const title = f.view === "recent" ? t("alerts.recentTitle") : f.view === "resolved" ? t("alerts.resolvedTitle") : t("alerts.title");
  const count = h("p", { class: "muted", "aria-live": "polite" });
  const list = h("ul", { class: "alert-list", "aria-label": title });
  const body = h("div", null, loading());
  const more = h("div");
  const bar = h("div");
  root.replaceChildren(
    h("div", { class: "page-head" }, h("h1", { tabindex: "-1" }, title), count),
    bar, body, more);
  const streetsSeen = () => [...new Set(alertStore.sorted().map((a) => a.street).filter(Boolean))];
  bar.replaceChildren(filterBar(f, streetsSeen()));

  let alive = true;
  let fetched = [];
  let nextBefore = null;
  let failed = false;
  const drawList = (alerts) => {
    const now = Date.now();
    count.textContent = t("alerts.count", { n: alerts.length });
    if (!alerts.length) {
      const empty = live ? t("alerts.empty") : t("alerts.emptyFiltered");
      body.replaceChildren(h("p", { class: "empty", dataset: { testid: "alerts-empty" } }, empty));
      return;
    }
    list.replaceChildren(...alerts.map((a) => alertRow(a, now)));
    if (body.firstChild !== list) body.replaceChildren(list);
  };
  const draw = () => {
    if (live) {
      if (!alertStore.loaded) {
        if (failed) body.replaceChildren(errorBox(new Error(t("stream.reconnecting"))));
        return;
      }
      drawList(alertStore.sorted());
    } else {
      drawList(fetched);
      more.replaceChildren(nextBefore ? h("button", { type: "button", onclick: () => fetchPage(nextBefore) }, t("alerts.more")) : "");
    }
  };
  const fetchPage = async (before) => {
    try {
      const data = await get(`/alerts${query({ state: STATE_OF_VIEW[f.view], mine: f.mine || null, unclaimed: f.unclaimed || null, severity: f.severity, street: f.street, limit: 100, before_id: before })}`);
      if (!alive) return;
      fetched = before ? fetched.concat(data.alerts || []) : data.alerts || [];
      nextBefore = data.next_before_id;
      draw();
    } catch (error) {
      if (alive) body.replaceChildren(errorBox(error, () => fetchPage(before)));
    }
  };
  // A change anywhere may move an alert into or out of a fetched list: refetch, at most
  // one every second.
  let refetchTimer = null;
  const unsubscribe = alertStore.subscribe((change) => {
    if (change.type === "error") failed = true;
    if (change.type === "status") return;
    if (live) draw();
    else if (!refetchTimer) refetchTimer = setTimeout(() => { refetchTimer = null; if (alive) fetchPage(null); }, 1000);
  });
  if (live) draw();
  else fetchPage(null);
  const timer = setInterval(draw, 15000); // ages, overdue flags and highlights move on
  return () => {
    alive = false;
    unsubscribe();
    clearInterval(timer);
    clearTimeout(refetchTimer);
  };
}
