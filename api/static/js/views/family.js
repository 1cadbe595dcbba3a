// The family view: their relative's status in plain words, open alerts in plain words,
// today's summary, notification preferences and "staying with me until Friday".
import { enc, get, put } from "../api.js";
import { awayForm, awayList } from "../away.js";
import { h, s } from "../dom.js";
import { kindLabel } from "../explain.js";
import { label, lang, t } from "../i18n.js";
import { ago, clock, friendly, number } from "../format.js";
import { telLink } from "../profile.js";
import { errorBox, errorText, flash, loadFailure, loading, notFound, section, severityBadge, statusBadge } from "../ui.js";

const STATUS_COLOUR = { alert: "red", attention: "amber", ok: "green", offline: "grey", away: "blue" };

function hhmm(value) {
  return typeof value === "string" && value.length >= 5 ? value.slice(0, 5) : "";
}

function preferencesForm(homeId) {
  const box = h("div", null, loading());
  get(`/family/preferences/${enc(homeId)}`).then((prefs) => {
    const channels = prefs.channels || {};
    const uid = `prefs-${homeId.replace(/[^A-Za-z0-9_-]/g, "_")}`;
    // Channels are addresses (a phone number, an e-mail address) or on/off switches.
    const channelInput = (name, type) => {
      const value = channels[name];
      if (typeof value === "boolean") return h("input", { id: `${uid}-${name}`, type: "checkbox", checked: value });
      return h("input", { id: `${uid}-${name}`, type, value: value || "", autocomplete: type === "email" ? "email" : "tel" });
    };
    const sms = channelInput("sms", "tel");
    const email = channelInput("email", "email");
    const quietStart = h("input", { id: `${uid}-qs`, type: "time", value: hhmm(prefs.quiet_start) });
    const quietEnd = h("input", { id: `${uid}-qe`, type: "time", value: hhmm(prefs.quiet_end) });
    const language = h("select", { id: `${uid}-lang` },
      ["zh-CN", "en"].map((l) => h("option", { value: l, selected: prefs.language === l }, label("language", l))));
    const feedback = h("div", { "aria-live": "polite" });
    const submit = h("button", { type: "submit", class: "primary" }, t("common.save"));
    const read = (input) => (input.type === "checkbox" ? input.checked : input.value.trim() || null);
    const form = h("form", { class: "prefs-form", dataset: { testid: "prefs-form" } },
      h("span", { class: "field" }, h("label", { for: sms.id }, t("family.prefsSms")), sms),
      h("span", { class: "field" }, h("label", { for: email.id }, t("family.prefsEmail")), email),
      h("div", { class: "field-row" },
        h("span", { class: "field" }, h("label", { for: quietStart.id }, t("family.quietStart")), quietStart),
        h("span", { class: "field" }, h("label", { for: quietEnd.id }, t("family.quietEnd")), quietEnd)),
      h("p", { class: "muted small" }, t("family.quietExplain")),
      h("span", { class: "field" }, h("label", { for: language.id }, t("family.language")), language),
      submit, feedback);
    form.addEventListener("submit", async (event) => {
      event.preventDefault();
      submit.disabled = true;
      try {
        await put(`/family/preferences/${enc(homeId)}`, {
          channels: { sms: read(sms), email: read(email) },
          quiet_start: quietStart.value || null,
          quiet_end: quietEnd.value || null,
          language: language.value,
        });
        flash(feedback, t("common.saved"));
      } catch (error) {
        flash(feedback, t("common.error", { message: errorText(error) }), "error");
      } finally {
        submit.disabled = false;
      }
    });
    box.replaceChildren(form);
  }, (error) => box.replaceChildren(error.status === 404 ? notFound(t("common.notFoundHome")) : errorBox(error)));
  return box;
}

function plainStatus(relative) {
  const tz = relative.timezone;
  const life = relative.last_sign_of_life_at
    ? t("family.lastLife", { time: friendly(relative.last_sign_of_life_at, tz), ago: ago(relative.last_sign_of_life_at) })
    : t("family.noLife");
  return `${life} ${t(`family.plain.${relative.status}`)}`;
}

/** How staff stand with one alert, calmly and accurately; and whether the resident has
 * been active since it began (then it is most likely over). */
export function familyAlertState(alert, relative) {
  const tz = relative.timezone;
  const who = alert.helper_name || t("family.advisor");
  const parts = [];
  if (alert.arrived_at) parts.push(t("family.arrived", { who, time: clock(alert.arrived_at, tz) }));
  else if (alert.claimed_at) parts.push(t("family.onTheWay", { who, time: clock(alert.expected_arrival_at, tz) }));
  else if (alert.acknowledged_at) parts.push(t("family.seen", { who }));
  else parts.push(t("family.notSeen"));
  const life = relative.last_sign_of_life_at;
  const since = alert.first_seen_at || alert.opened_at;
  const activeAgain = alert.category === "inactivity" && life && Date.parse(life) > Date.parse(since);
  if (activeAgain) parts.push(t("family.activeAgain", { time: clock(life, tz) }));
  return { text: parts.join(" "), activeAgain, seen: Boolean(alert.acknowledged_at || alert.claimed_at) };
}

/** The badge a family member sees: red only for a critical alert nobody has seen yet. */
function familyStatus(relative) {
  const alerts = relative.open_alerts || [];
  if (!alerts.length) return relative.status;
  const states = alerts.map((a) => familyAlertState(a, relative));
  if (alerts.some((a, i) => a.severity === "critical" && !states[i].seen)) return "alert";
  if (states.every((x) => x.activeAgain)) return "ok";
  return "attention";
}

function hourlyChart(hourly) {
  const today = hourly.today || [];
  const usual = hourly.usual || [];
  const max = Math.max(1, ...today, ...usual);
  const W = 480, H = 120, bottom = 18, slot = W / 24;
  const svg = s("svg", { viewBox: `0 0 ${W} ${H + bottom}`, class: "family-chart", role: "img", "aria-label": t("family.chartExplain"), "data-testid": "family-chart" });
  today.forEach((n, hour) => {
    const height = (n / max) * (H - 6);
    svg.append(s("rect", { class: "today", x: hour * slot + 2, y: H - height, width: slot - 4, height }, s("title", null, `${hour}:00 ${t("family.chartToday")} ${n}`)));
  });
  const points = usual.map((n, hour) => `${hour * slot + slot / 2},${H - (n / max) * (H - 6)}`).join(" ");
  svg.append(s("polyline", { class: "usual", points }));
  for (const hour of [0, 6, 12, 18]) svg.append(s("text", { class: "tick", x: hour * slot + 2, y: H + 14 }, `${hour}:00`));
  return h("div", null, svg,
    h("ul", { class: "legend" },
      h("li", null, h("span", { class: "swatch today-swatch", "aria-hidden": "true" }), t("family.chartToday")),
      h("li", null, h("span", { class: "swatch usual-swatch", "aria-hidden": "true" }), t("family.chartUsual"))),
    h("p", { class: "muted small" }, t("family.chartExplain")));
}

function awaySection(relative) {
  const tz = relative.timezone;
  const periods = [...(relative.away_periods || [])];
  const list = h("div", null, awayList(periods, tz));
  const added = (period) => {
    if (period) periods.push(period);
    list.replaceChildren(awayList(periods, tz));
  };
  return section(t("home.away"), list,
    awayForm(relative.home_id, tz, added, { title: t("family.awayTitle"), explain: t("family.awayExplain") }));
}

function relativeCard(relative) {
  const tz = relative.timezone;
  const today = relative.today || {};
  const alerts = relative.open_alerts || [];
  const status = familyStatus(relative);
  const advisor = relative.advisor || {};
  return h("article", { class: "family-card", dataset: { homeId: relative.home_id, status } },
    h("div", { class: "card family-status" },
      h("div", { class: "alert-head-top" },
        statusBadge(status, STATUS_COLOUR[status] || "grey"),
        h("h2", null, relative.resident_name)),
      // Composed here from the figures, so it follows the console's language switch; the
      // API's own status_text (in the user's saved language) is the fallback.
      h("p", { class: "plain-status", dataset: { testid: "plain-status" } },
        relative.status ? plainStatus({ ...relative, status }) : relative.status_text || ""),
      advisor.name ? h("p", { class: "advisor", dataset: { testid: "advisor" } }, `${t("family.advisor")}${lang() === "zh-CN" ? "：" : ": "}${advisor.name} `,
        advisor.phone ? telLink(advisor.phone, advisor.name, "tel-advisor") : null) : null),
    h("div", { class: "detail-grid" },
      h("div", { class: "detail-main" },
        section(t("family.openAlerts"), alerts.length
          ? h("ul", { class: "plain-list family-alerts" }, alerts.map((a) => h("li", { dataset: { alertId: a.id } },
              severityBadge(a.severity), " ",
              h("strong", null, kindLabel(a.kind, a.category)),
              h("span", { class: "muted" }, ` · ${friendly(a.first_seen_at || a.opened_at, tz)}`),
              h("div", { class: "family-alert-state", dataset: { testid: "family-alert-state" } }, familyAlertState(a, relative).text))))
          : h("p", null, t("family.noAlerts"))),
        section(t("family.today"), h("ul", { class: "plain-list today" },
          h("li", null, t("family.todayWater", { litres: number(today.water_litres, 1) })),
          h("li", null, t("family.todayMotion", { n: number(today.motion_events) })),
          h("li", null, today.first_activity_at ? t("family.firstActivity", { time: friendly(today.first_activity_at, tz) }) : t("family.noActivityToday")),
          today.out_of_home === undefined ? null : h("li", null, today.out_of_home ? t("family.outOfHome") : t("family.atHome"))),
          relative.hourly ? [h("h3", null, t("family.chart")), hourlyChart(relative.hourly)] : null),
        awaySection(relative)),
      h("div", { class: "detail-side" },
        section(t("family.prefs"), preferencesForm(relative.home_id)))));
}

export function renderFamily(root, { params }) {
  const wanted = params.id || null;
  let alive = true;
  root.replaceChildren(loading());
  const load = async () => {
    let data;
    try {
      data = await get("/family");
    } catch (error) {
      if (alive) root.replaceChildren(loadFailure(error, t("common.notFoundHome"), load));
      return;
    }
    if (!alive) return;
    let relatives = data.relatives || [];
    if (wanted) relatives = relatives.filter((r) => r.home_id === wanted);
    if (wanted && !relatives.length) {
      root.replaceChildren(notFound(t("common.notFoundHome")), h("p", null, h("a", { href: "#/family" }, "← " + t("nav.family"))));
      return;
    }
    root.replaceChildren(
      h("h1", { tabindex: "-1" }, t("family.title")),
      ...(relatives.length ? relatives.map((r) => relativeCard(r)) : [h("p", { class: "empty" }, t("family.none"))]));
  };
  load();
  return () => { alive = false; };
}
