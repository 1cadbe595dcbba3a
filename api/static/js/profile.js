// The resident's profile for the advisor on the way: name, age, where exactly, phones as
// tap-to-call links, the key holder, short care notes; an edit form for admins and street
// offices. The API leaves out what a role may not see (and audits every read).
import { enc, put } from "./api.js";
import { h } from "./dom.js";
import { lang, t } from "./i18n.js";
import { errorText, flash, section } from "./ui.js";

const TOPICS = ["hearing", "mobility", "medication", "pets", "other"];

/** A phone number as a tap-to-call link. */
export function telLink(phone, text, testid) {
  const number = String(phone).replace(/[^0-9+]/g, "");
  return h("a", { class: "button call", href: `tel:${number}`, dataset: { testid } }, `☎ ${text}`, h("span", { class: "small" }, ` ${phone}`));
}

function row(key, value) {
  return value ? [h("dt", null, t(key)), h("dd", null, value)] : null;
}

export function profileCard(p) {
  const notes = p.care_notes || {};
  const place = [p.address, p.building, p.floor ? t("profile.floorN", { n: p.floor }) : null, p.unit].filter(Boolean);
  return h("section", { class: "card profile", dataset: { testid: "profile" } },
    h("h2", null, t("profile.title")),
    h("dl", { class: "facts" },
      row("profile.name", p.name),
      row("profile.age", p.age ? t("profile.ageYears", { n: p.age }) : null),
      row("profile.address", place.length ? [...new Set(place)].join(" · ") : null),
      row("profile.phone", p.phone ? telLink(p.phone, p.name || t("detail.callResident"), "tel-resident") : null),
      row("profile.keyHolder", p.key_holder_name || p.key_holder_phone
        ? [p.key_holder_name || "", p.key_holder_phone ? [" ", telLink(p.key_holder_phone, p.key_holder_name || t("profile.keyHolder"), "tel-key-holder")] : null] : null),
      row("profile.advisor", p.advisor_name ? [p.advisor_name, p.advisor_phone ? [" ", telLink(p.advisor_phone, p.advisor_name, "tel-advisor")] : null] : null)),
    TOPICS.some((k) => notes[k]) ? [h("h3", null, t("profile.notes")),
      h("ul", { class: "plain-list notes" }, TOPICS.filter((k) => notes[k]).map((k) => h("li", null, h("strong", null, `${t(`profile.${k}`)}${lang() === "zh-CN" ? "：" : ": "}`), notes[k])))] : null);
}

/** The edit form (admins, street offices). `saved(profile)` after a successful save. */
export function profileForm(homeId, p, saved) {
  const notes = p.care_notes || {};
  const field = (name, value, attrs = {}) => {
    const input = h("input", { id: `profile-${name}`, name, value: value ?? "", ...attrs });
    return [input, h("span", { class: "field" }, h("label", { for: input.id }, t(`profile.${name === "name" ? "name" : name.replace(/_([a-z])/g, (_, c) => c.toUpperCase())}`)), input)];
  };
  const inputs = {};
  const parts = [];
  for (const [name, value, attrs] of [
    ["name", p.name], ["birth_year", p.birth_year, { type: "number", min: 1900, max: 2100 }],
    ["phone", p.phone, { type: "tel" }], ["building", p.building], ["floor", p.floor], ["unit", p.unit],
    ["key_holder", p.key_holder_name], ["key_holder_phone", p.key_holder_phone, { type: "tel" }],
  ]) {
    const [input, wrapped] = field(name, value, attrs);
    inputs[name] = input;
    parts.push(wrapped);
  }
  for (const topic of TOPICS) {
    const [input, wrapped] = field(topic, notes[topic], { maxlength: 200 });
    inputs[topic] = input;
    parts.push(wrapped);
  }
  const feedback = h("div", { "aria-live": "polite" });
  const submit = h("button", { type: "submit", class: "primary" }, t("common.save"));
  const form = h("form", { class: "profile-form", dataset: { testid: "profile-form" } }, parts, submit, feedback);
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    const value = (name) => inputs[name].value.trim() || null;
    const body = {
      name: value("name"), birth_year: value("birth_year") ? Number(value("birth_year")) : null,
      phone: value("phone"), building: value("building"), floor: value("floor"), unit: value("unit"),
      key_holder_name: value("key_holder"), key_holder_phone: value("key_holder_phone"),
      care_notes: Object.fromEntries(TOPICS.map((k) => [k, value(k)])),
    };
    for (const key of Object.keys(body)) if (body[key] === null) delete body[key];
    submit.disabled = true;
    try {
      const next = await put(`/homes/${enc(homeId)}/profile`, body);
      flash(feedback, t("common.saved"));
      if (saved) saved(next);
    } catch (error) {
      flash(feedback, errorText(error), "error");
    } finally {
      submit.disabled = false;
    }
  });
  return section(t("profile.edit"), form);
}
