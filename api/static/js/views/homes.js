// The homes list (status colour, last sign of life, devices online) and one home.
import { enc, get, query } from "../api.js";
import { awayForm, awayList } from "../away.js";
import { deviceTable, readingsChart } from "../chart.js";
import { h } from "../dom.js";
import { label, t } from "../i18n.js";
import { ago, dateTime, friendly } from "../format.js";
import { errorBox, errorText, loadFailure, loading, section, severityBadge, stateBadge, statusBadge } from "../ui.js";
import { conditionState } from "../alert-state.js";
import { explainAlert, kindLabel } from "../explain.js";
import { profileCard, profileForm } from "../profile.js";

const MANAGERS = new Set(["admin", "supervisor"]);

const STATUSES = ["alert", "attention", "ok", "offline", "away"];

function homeRow(home) {
  const tz = home.timezone;
  return h("tr", { dataset: { homeId: home.id, status: home.status } },
    h("td", null, statusBadge(home.status, home.colour)),
    h("td", null, h("a", { href: `#/homes/${enc(home.id)}` }, home.id)),
    h("td", null, home.resident_name || "—"),
    h("td", null, home.address || "—", home.street ? h("div", { class: "muted small" }, home.street) : null),
    h("td", null, home.last_sign_of_life_at
      ? [friendly(home.last_sign_of_life_at, tz), h("div", { class: "muted small" }, ago(home.last_sign_of_life_at))] : "—"),
    h("td", { class: home.devices_online < home.devices_total ? "warn" : "" }, `${home.devices_online} / ${home.devices_total}`),
    h("td", null, home.open_alerts ? [String(home.open_alerts), " ", home.highest_severity ? severityBadge(home.highest_severity) : null] : "—"));
}

export function renderHomes(root, { params }) {
  const status = params.query.get("status") || "";
  const filter = h("select", { id: "status-filter" },
    h("option", { value: "" }, t("homes.all")),
    STATUSES.map((s) => h("option", { value: s, selected: s === status }, label("status", s))));
  filter.addEventListener("change", () => {
    location.hash = filter.value ? `#/homes?status=${enc(filter.value)}` : "#/homes";
  });
  const tbody = h("tbody");
  const more = h("div");
  const body = h("div", null, loading());
  root.replaceChildren(
    h("div", { class: "page-head" },
      h("h1", { tabindex: "-1" }, t("homes.title")),
      h("span", { class: "field-inline" }, h("label", { for: "status-filter" }, t("homes.filter")), filter)),
    body);
  let alive = true;
  const table = h("table", { class: "table homes" },
    h("thead", null, h("tr", null,
      ["col.status", "col.home", "col.resident", "col.address", "col.lastLife", "col.devices", "col.openAlerts"].map((k) => h("th", { scope: "col" }, t(k))))),
    tbody);

  const page = async (afterId) => {
    try {
      const data = await get(`/homes${query({ status, limit: 100, after_id: afterId })}`);
      if (!alive) return;
      const homes = data.homes || [];
      if (!afterId && !homes.length) {
        body.replaceChildren(h("p", { class: "empty" }, t("homes.empty")));
        return;
      }
      tbody.append(...homes.map(homeRow));
      if (body.firstChild !== table) body.replaceChildren(table, more);
      more.replaceChildren(data.next_after_id
        ? h("button", { type: "button", onclick: () => page(data.next_after_id) }, t("common.loadMore")) : "");
    } catch (error) {
      if (alive) body.replaceChildren(errorBox(error, () => page(afterId)));
    }
  };
  page(null);
  return () => { alive = false; };
}

export function renderHome(root, { params, user }) {
  const id = params.id;
  let alive = true;
  root.replaceChildren(loading());
  const load = async () => {
    let data;
    try {
      data = await get(`/homes/${enc(id)}`);
    } catch (error) {
      if (alive) root.replaceChildren(h("p", null, h("a", { href: "#/homes" }, "← " + t("nav.homes"))), loadFailure(error, t("common.notFoundHome"), load));
      return;
    }
    if (!alive) return;
    const home = data.home;
    const tz = home.timezone;
    const chartBox = h("div", null, loading());
    const alertsBox = h("div", null, loading());
    const profileBox = h("div", { dataset: { testid: "profile-box" } });
    const showProfile = (p) => {
      profileBox.replaceChildren(profileCard(p), MANAGERS.has(user.role) ? profileForm(home.id, p, showProfile) : "");
    };
    get(`/homes/${enc(id)}/profile`).then((p) => { if (alive) showProfile(p); }, () => profileBox.replaceChildren());
    const periods = [...(data.away_periods || [])];
    const awayBox = h("div", null, awayList(periods, tz));
    root.replaceChildren(
      h("p", null, h("a", { href: "#/homes" }, "← " + t("nav.homes"))),
      h("div", { class: "card home-head", dataset: { homeId: home.id } },
        h("div", { class: "alert-head-top" },
          statusBadge(home.status, home.colour),
          h("h1", { tabindex: "-1" }, `${home.resident_name || home.id} · ${home.id}`)),
        h("p", null, `${home.address || ""}${home.street ? " · " + home.street : ""}${home.district ? " · " + home.district : ""}`),
        h("p", { class: "muted" },
          `${t("col.lastLife")}: ${home.last_sign_of_life_at ? friendly(home.last_sign_of_life_at, tz) : "—"}`,
          ` · ${t("col.devices")}: ${home.devices_online} / ${home.devices_total}`,
          home.away_until ? ` · ${t("home.awayUntil", { time: dateTime(home.away_until, tz) })}` : "",
          ` · ${t("home.timezone", { tz })}`)),
      h("div", { class: "detail-grid" },
        h("div", { class: "detail-main" },
          section(t("home.alerts"), alertsBox),
          section(t("detail.chart"), chartBox),
          section(t("home.devices"), deviceTable(data.devices, tz))),
        h("div", { class: "detail-side" },
          profileBox,
          section(t("home.away"), awayBox, awayForm(home.id, tz, (period) => {
            if (period) periods.push(period);
            awayBox.replaceChildren(awayList(periods, tz));
          })),
          section(t("home.residents"), h("ul", { class: "plain-list" }, (data.residents || []).map((r) =>
            h("li", null, r.display_name, r.birth_year ? ` (${r.birth_year})` : "", r.language ? h("span", { class: "muted" }, ` · ${r.language}`) : null)))),
          section(t("home.contacts"), h("ul", { class: "plain-list" }, (data.contacts || []).map((c) =>
            h("li", null, `${label("contact", c.role)}${c.position ? " #" + (c.position + 1) : ""}: ${c.display_name || c.person_ref}`, c.language ? h("span", { class: "muted" }, ` · ${label("language", c.language)}`) : null)))))));
    // The home's alerts, open and past, newest first: what happened here before.
    get(`/alerts${query({ home_id: home.id, state: "all", limit: 30 })}`).then((a) => {
      if (!alive) return;
      const alerts = a.alerts || [];
      alertsBox.replaceChildren(alerts.length ? h("ul", { class: "plain-list home-alerts", dataset: { testid: "home-alerts" } }, alerts.map((al) => h("li", { dataset: { alertId: al.id, state: al.state } },
        severityBadge(al.severity), " ", stateBadge(al.state), " ",
        h("a", { href: `#/alerts/${al.id}` }, `${kindLabel(al.kind, al.category)} — ${explainAlert(al)}`),
        h("div", { class: "muted small" }, `${dateTime(al.opened_at, tz)} · ${conditionState(al).text}`))))
        : h("p", { class: "muted" }, t("home.noAlerts")));
    }, (error) => alertsBox.replaceChildren(errorBox(error)));
    get(`/homes/${enc(home.id)}/readings?hours=48`).then((r) => {
      if (alive) chartBox.replaceChildren(readingsChart(r, tz, null));
    }, (error) => chartBox.replaceChildren(h("p", { class: "message error" }, t("chart.unavailable", { message: errorText(error) }))));
  };
  load();
  return () => { alive = false; };
}
