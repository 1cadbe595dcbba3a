// Declaring an away period: "staying with me until Friday" (a date and time in the
// home's timezone), with a note. POST /homes/{id}/away.
import { enc, post } from "./api.js";
import { h } from "./dom.js";
import { t } from "./i18n.js";
import { dateInZone, daysUntilWeekday, fullDateTime, zonedToUtc } from "./format.js";
import { errorText, flash } from "./ui.js";

export function awayForm(homeId, tz, onDone, { title = t("away.title"), explain } = {}) {
  const uid = `away-${homeId.replace(/[^A-Za-z0-9_-]/g, "_")}`;
  const date = h("input", { id: `${uid}-date`, type: "date", required: true, value: dateInZone(tz, 1), min: dateInZone(tz, 0) });
  const time = h("input", { id: `${uid}-time`, type: "time", required: true, value: "20:00" });
  const note = h("input", { id: `${uid}-note`, type: "text", maxlength: 500, placeholder: t("away.notePlaceholder") });
  const feedback = h("div", { "aria-live": "polite" });
  const submit = h("button", { type: "submit", class: "primary" }, t("away.submit"));
  const quick = (text, days) => h("button", { type: "button", class: "chip", onclick: () => { date.value = dateInZone(tz, days); } }, text);

  const form = h("form", { class: "away-form", dataset: { testid: "away-form" } },
    h("h3", null, title),
    explain ? h("p", { class: "muted" }, explain) : null,
    h("div", { class: "chips" },
      quick(t("away.tomorrow"), 1),
      quick(t("away.friday"), daysUntilWeekday(tz, 5)),
      quick(t("away.sunday"), daysUntilWeekday(tz, 0))),
    h("div", { class: "field-row" },
      h("span", { class: "field" }, h("label", { for: date.id }, `${t("away.until")} · ${t("away.date")}`), date),
      h("span", { class: "field" }, h("label", { for: time.id }, t("away.time")), time)),
    h("span", { class: "field" }, h("label", { for: note.id }, t("away.note")), note),
    submit, feedback);

  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    if (!date.value || !time.value) return;
    const endsAt = zonedToUtc(date.value, time.value, tz);
    const body = { ends_at: endsAt.toISOString() };
    if (note.value.trim()) body.note = note.value.trim();
    submit.disabled = true;
    try {
      const data = await post(`/homes/${enc(homeId)}/away`, body);
      const ends = (data && data.away_period && data.away_period.ends_at) || body.ends_at;
      flash(feedback, t("away.done", { time: fullDateTime(ends, tz) }));
      note.value = "";
      if (onDone) onDone(data && data.away_period);
    } catch (error) {
      flash(feedback, t("common.error", { message: errorText(error) }), "error");
    } finally {
      submit.disabled = false;
    }
  });
  return form;
}

export function awayList(periods, tz) {
  if (!periods || !periods.length) return h("p", { class: "muted" }, t("home.awayNone"));
  return h("ul", { class: "plain-list" }, periods.map((p) => h("li", null,
    t("away.from", { from: fullDateTime(p.starts_at, tz), to: fullDateTime(p.ends_at, tz) }),
    p.note ? ` · ${p.note}` : "",
    p.declared_by ? h("span", { class: "muted" }, ` · ${t("away.by", { who: p.declared_by })}`) : null)));
}
