// The family view: their relative's status in plain words, open alerts in plain words,
// today's summary, notification preferences and "staying with me until Friday".
import { enc, get, put } from "../api.js";
import { awayForm, awayList } from "../away.js";
import { h } from "../dom.js";
import { label, t } from "../i18n.js";
import { ago, friendly, number } from "../format.js";
import { errorBox, flash, loadFailure, loading, notFound, section, severityBadge, statusBadge } from "../ui.js";

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
        flash(feedback, t("common.error", { message: error.message }), "error");
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
  return h("article", { class: "family-card", dataset: { homeId: relative.home_id, status: relative.status } },
    h("div", { class: "card family-status" },
      h("div", { class: "alert-head-top" },
        statusBadge(relative.status, STATUS_COLOUR[relative.status] || "grey"),
        h("h2", null, relative.resident_name)),
      // Composed here from the figures, so it follows the console's language switch; the
      // API's own status_text (in the user's saved language) is the fallback.
      h("p", { class: "plain-status", dataset: { testid: "plain-status" } },
        relative.status ? plainStatus(relative) : relative.status_text || "")),
    h("div", { class: "detail-grid" },
      h("div", { class: "detail-main" },
        section(t("family.openAlerts"), alerts.length
          ? h("ul", { class: "plain-list family-alerts" }, alerts.map((a) => h("li", null,
              severityBadge(a.severity), " ",
              h("strong", null, label("cat", a.category)), " — ", a.text || "",
              h("span", { class: "muted" }, ` · ${friendly(a.opened_at, tz)}`))))
          : h("p", null, t("family.noAlerts"))),
        section(t("family.today"), h("ul", { class: "plain-list today" },
          h("li", null, t("family.todayWater", { litres: number(today.water_litres, 1) })),
          h("li", null, t("family.todayMotion", { n: number(today.motion_events) })),
          h("li", null, today.first_activity_at ? t("family.firstActivity", { time: friendly(today.first_activity_at, tz) }) : t("family.noActivityToday")),
          today.out_of_home === undefined ? null : h("li", null, today.out_of_home ? t("family.outOfHome") : t("family.atHome")))),
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
