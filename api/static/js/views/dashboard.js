// The district dashboard (supervisor: own street; admin: all): coverage, alerts per week
// by category, response times p50/p90 by street and by advisor, false-alarm share; CSV.
import { get, query } from "../api.js";
import { h, s } from "../dom.js";
import { kindLabel } from "../explain.js";
import { label, t } from "../i18n.js";
import { ago, clock, number, percent } from "../format.js";
import { errorBox, loading, section } from "../ui.js";
import { dutyPanel } from "../duty.js";

/** Right now: alerts nobody acknowledged within 15 min, arrivals overdue, homes offline. */
function nowPanel(now) {
  const item = (i, text) => h("li", null,
    i.alert_id ? h("a", { href: `#/alerts/${i.alert_id}` }, `${i.resident_name || i.home_id} · ${kindLabel(i.kind, i.category)}`)
      : h("a", { href: `#/homes/${encodeURIComponent(i.home_id)}` }, i.resident_name || i.home_id),
    h("span", { class: "muted" }, ` · ${text(i)}`));
  const block = (key, items, text) => items.length
    ? h("div", { class: "now-block", dataset: { testid: `now-${key}` } }, h("h3", null, `${t(`dash.${key}`)} (${items.length})`), h("ul", null, items.map((i) => item(i, text)))) : null;
  const blocks = [
    block("unacked", now.unacknowledged || [], (i) => ago(i.since)),
    block("overdue", now.overdue_arrivals || [], (i) => `${i.who || ""} · ${t("alerts.eta", { time: clock(i.since) })}`),
    block("offlineHomes", now.homes_offline || [], (i) => (i.since ? ago(i.since) : t("device.neverSeen"))),
  ].filter(Boolean);
  return h("section", { class: "card now-panel", dataset: { testid: "now-panel" } }, h("h2", null, t("dash.now")),
    blocks.length ? blocks : h("p", { class: "muted" }, t("dash.nothingNow")));
}

const CATEGORIES = ["inactivity", "leak", "smoke", "wandering", "routine", "device", "system"];

function niceMax(value) {
  const power = 10 ** Math.floor(Math.log10(value));
  for (const step of [1, 2, 2.5, 5, 10]) if (step * power >= value) return Math.max(step * power, 2);
  return 10 * power;
}

function minutes(value) {
  return value === null || value === undefined ? "—" : t("dash.minutes", { n: number(value, 1) });
}

function pair(a, b) {
  return `${minutes(a)} / ${minutes(b)}`;
}

function tile(title, value, sub) {
  return h("div", { class: "tile card" }, h("div", { class: "tile-value" }, value), h("div", { class: "tile-title" }, title), sub ? h("div", { class: "muted small" }, sub) : null);
}

/** The `count` weeks ending with the latest one in the data (or this week): empty weeks
 * stay on the axis, so a quiet week shows as a gap rather than vanishing. */
function weekAxis(rows, count) {
  const days = rows.map((r) => String(r.week_start).slice(0, 10)).sort();
  let last;
  if (days.length) last = new Date(days[days.length - 1] + "T00:00:00Z");
  else {
    const today = new Date();
    last = new Date(Date.UTC(today.getUTCFullYear(), today.getUTCMonth(), today.getUTCDate() - ((today.getUTCDay() + 6) % 7)));
  }
  const weeks = [];
  for (let i = count - 1; i >= 0; i -= 1) weeks.push(new Date(last.getTime() - i * 7 * 86400000).toISOString().slice(0, 10));
  for (const day of days) if (!weeks.includes(day)) weeks.push(day);
  return weeks.sort();
}

function weeklyChart(allRows, count) {
  const rows = allRows.map((r) => ({ ...r, week_start: String(r.week_start).slice(0, 10) }));
  const weeks = weekAxis(rows, count);
  if (!rows.length) return h("p", { class: "muted" }, t("dash.empty"));
  const cats = CATEGORIES.filter((c) => rows.some((r) => r.category === c))
    .concat([...new Set(rows.map((r) => r.category))].filter((c) => !CATEGORIES.includes(c)));
  const totals = weeks.map((w) => rows.filter((r) => r.week_start === w).reduce((sum, r) => sum + r.count, 0));
  const max = niceMax(Math.max(1, ...totals));
  const W = 720, H = 200, left = 40, bottom = 24, barGap = 8;
  const bw = Math.min(64, (W - left) / weeks.length - barGap);
  const slot = (W - left) / weeks.length;
  const svg = s("svg", { viewBox: `0 0 ${W} ${H + bottom}`, class: "chart weekly", role: "img", "aria-label": t("dash.byWeek") });
  for (const level of [0, max / 2, max]) {
    const y = H - (level / max) * (H - 10);
    svg.append(s("line", { class: "grid", x1: left, x2: W, y1: y, y2: y }), s("text", { class: "tick", x: left - 6, y: y + 4, "text-anchor": "end" }, number(level)));
  }
  weeks.forEach((week, i) => {
    let y = H;
    const x = left + i * slot + (slot - bw) / 2;
    for (const cat of cats) {
      const row = rows.find((r) => r.week_start === week && r.category === cat);
      if (!row || !row.count) continue;
      const height = (row.count / max) * (H - 10);
      y -= height;
      svg.append(s("rect", { class: `cat cat-${cat}`, x, y, width: bw, height }, s("title", null, `${week.slice(0, 10)} ${label("cat", cat)}: ${row.count}`)));
    }
    svg.append(s("text", { class: "tick", x: x + bw / 2, y: H + 16, "text-anchor": "middle" }, week.slice(5, 10)));
  });
  const legend = h("ul", { class: "legend" }, cats.map((c) => h("li", null, h("span", { class: `swatch cat-${c}`, "aria-hidden": "true" }), label("cat", c))));
  const table = h("table", { class: "table compact" },
    h("thead", null, h("tr", null, h("th", { scope: "col" }, t("dash.week")), cats.map((c) => h("th", { scope: "col" }, label("cat", c))))),
    h("tbody", null, weeks.map((w) => h("tr", null, h("th", { scope: "row" }, w.slice(0, 10)),
      cats.map((c) => h("td", null, String((rows.find((r) => r.week_start === w && r.category === c) || {}).count || 0)))))));
  return h("div", null, svg, legend, h("details", null, h("summary", null, t("dash.byWeek")), table));
}

function responseTable(rows, keyName, keyLabel, target) {
  if (!rows || !rows.length) return h("p", { class: "muted" }, t("dash.empty"));
  return h("table", { class: "table" },
    h("thead", null, h("tr", null,
      h("th", { scope: "col" }, keyLabel), h("th", { scope: "col" }, t("dash.alerts")),
      h("th", { scope: "col" }, t("dash.ack")), h("th", { scope: "col" }, t("dash.arrive")),
      h("th", { scope: "col" }, t("dash.resolveTime")), h("th", { scope: "col" }, t("dash.withinTarget", { n: target })))),
    h("tbody", null, rows.map((r) => h("tr", null,
      h("th", { scope: "row" }, r[keyName] ?? "—"), h("td", null, number(r.alerts)),
      h("td", null, pair(r.ack_p50_min, r.ack_p90_min)), h("td", null, pair(r.arrive_p50_min, r.arrive_p90_min)),
      h("td", null, pair(r.resolve_p50_min, r.resolve_p90_min)), h("td", null, percent(r.ack_within_target))))));
}

export function renderDashboard(root, { params }) {
  const weeks = Number(params.query.get("weeks")) || 8;
  const select = h("select", { id: "weeks" }, [4, 8, 12, 26, 52].map((w) => h("option", { value: w, selected: w === weeks }, String(w))));
  select.addEventListener("change", () => { location.hash = `#/dashboard?weeks=${select.value}`; });
  const body = h("div", null, loading());
  root.replaceChildren(
    h("div", { class: "page-head" },
      h("h1", { tabindex: "-1" }, t("dash.title")),
      h("span", { class: "field-inline" }, h("label", { for: "weeks" }, t("dash.weeks")), select),
      h("a", { class: "button", href: `/api/v1/dashboard.csv${query({ weeks })}`, download: "dashboard.csv" }, t("dash.csv"))),
    body);
  let alive = true;
  const load = async () => {
    try {
      const [d, now, duty] = await Promise.all([get(`/dashboard${query({ weeks })}`), get("/dashboard/now"), get("/duty")]);
      if (!alive) return;
      const target = d.ack_target_minutes ?? 15;
      body.replaceChildren(
        nowPanel(now),
        dutyPanel(duty),
        h("div", { class: "tiles" },
          tile(t("dash.homes"), number(d.homes_monitored)),
          tile(t("dash.devicesOnline"), `${number(d.devices_online)} / ${number(d.devices_total)}`,
            d.devices_total ? percent(d.devices_online / d.devices_total) : null),
          tile(t("dash.neverSeen"), number(d.devices_never_seen))),
        section(t("dash.byWeek"), weeklyChart(d.alerts_by_week || [], weeks)),
        section(t("dash.byStreet"), responseTable(d.response_by_street, "street", t("dash.street"), target)),
        section(t("dash.byAdvisor"), responseTable(d.response_by_advisor, "advisor", t("dash.advisor"), target)),
        section(t("dash.falseAlarms"), (d.false_alarm_share || []).length
          ? h("table", { class: "table" },
              h("thead", null, h("tr", null, ["dash.kind", "dash.resolvedCount", "dash.falseCount", "dash.share"].map((k) => h("th", { scope: "col" }, t(k))))),
              h("tbody", null, d.false_alarm_share.map((r) => h("tr", null,
                h("th", { scope: "row" }, kindLabel(r.kind)), h("td", null, number(r.resolved)), h("td", null, number(r.false_alarms)),
                h("td", null, h("meter", { min: 0, max: 1, value: r.share || 0 }), " ", percent(r.share))))))
          : h("p", { class: "muted" }, t("dash.empty"))));
    } catch (error) {
      if (alive) body.replaceChildren(errorBox(error, load));
    }
  };
  load();
  return () => { alive = false; };
}
