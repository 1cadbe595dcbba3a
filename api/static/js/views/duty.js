// The duty page (supervisors: their street; admins: every street): who is on duty now and
// the next handoff, the rotations, the cover arranged, and a form to arrange cover.
import { del, get, post } from "../api.js";
import { h } from "../dom.js";
import { t } from "../i18n.js";
import { dateTime, zonedToUtc } from "../format.js";
import { errorBox, errorText, flash, loading } from "../ui.js";

const DEFAULT_TZ = "Asia/Shanghai";

function dayNames() {
  return [t("dutyPage.mon"), t("dutyPage.tue"), t("dutyPage.wed"), t("dutyPage.thu"),
    t("dutyPage.fri"), t("dutyPage.sat"), t("dutyPage.sun")];
}

function tierText(tier) {
  return tier === "backup" ? t("dutyPage.tierBackup") : t("dutyPage.tierPrimary");
}

function shiftText(seconds) {
  if (seconds % 86400 === 0) return t("dutyPage.shiftDays", { n: seconds / 86400 });
  if (seconds % 3600 === 0) return t("dutyPage.shiftHours", { n: seconds / 3600 });
  return t("dutyPage.shiftMinutes", { n: Math.round(seconds / 60) });
}

function daysText(days) {
  if (days.length === 7) return t("dutyPage.everyDay");
  const names = dayNames();
  return days.map((d) => names[d - 1]).join(t("dutyPage.listSep"));
}

const hhmm = (value) => (value ? value.slice(0, 5) : "");

function windowText(r) {
  return r.window_start ? `${hhmm(r.window_start)}–${hhmm(r.window_end)}` : t("dutyPage.allDay");
}

function zoneOf(street) {
  return (street.rotations[0] && street.rotations[0].timezone) || DEFAULT_TZ;
}

function who(p, testid) {
  if (!p) return h("span", { class: "muted", dataset: { testid } }, t("duty.homeAdvisors"));
  const why = p.source === "override" ? t("duty.override") : (p.layer || t("duty.rotation"));
  return h("span", { dataset: { testid } }, h("strong", null, p.name), h("span", { class: "muted small" }, ` · ${why}`));
}

function handoff(next, tz, testid) {
  if (!next) return h("span", { class: "muted", dataset: { testid } }, t("dutyPage.noHandoff"));
  return h("span", { dataset: { testid } },
    t("dutyPage.handoffLine", { at: dateTime(next.at, tz), who: next.name || t("duty.homeAdvisors") }));
}

function rotationsTable(street, tz, actions) {
  if (!street.rotations.length) return h("p", { class: "muted" }, t("dutyPage.noRotations"));
  const heads = ["dutyPage.layer", "dutyPage.tier", "dutyPage.members", "dutyPage.shift", "dutyPage.window",
    "dutyPage.days", "dutyPage.priority", "dutyPage.actions"];
  return h("div", { class: "table-scroll" }, h("table", { class: "table", dataset: { testid: "rotations" } },
    h("thead", null, h("tr", null, heads.map((k) => h("th", { scope: "col" }, t(k))))),
    h("tbody", null, street.rotations.map((r) => h("tr", { dataset: { rotation: String(r.id) } },
      h("th", { scope: "row" }, r.layer), h("td", null, tierText(r.tier)),
      h("td", null, r.members.map((m) => m.name).join(t("dutyPage.listSep"))),
      h("td", null, shiftText(r.shift_s), h("span", { class: "muted small" }, ` · ${t("dutyPage.from")} ${dateTime(r.start, tz)}`)),
      h("td", null, windowText(r)), h("td", null, daysText(r.days)), h("td", null, String(r.priority)),
      h("td", null, removeRotation(r, actions)))))));
}

// Remove, then a second step in place (confirm or keep): a wrong cover or rota pages the
// wrong person, and a removed one cannot be brought back except by adding it again.
// `what` names the testids and texts: cover (an override) or rotation.
function removeControl(label, what, onConfirm) {
  const box = h("span", { class: "override-actions" });
  const ask = () => {
    const remove = h("button", { type: "button", class: "small", "aria-label": label,
      dataset: { testid: `remove-${what.id}` } }, t("dutyPage.remove"));
    remove.addEventListener("click", confirmStep);
    box.replaceChildren(remove);
  };
  const confirmStep = () => {
    const yes = h("button", { type: "button", class: "danger small", dataset: { testid: "confirm-remove" } },
      t("dutyPage.removeYes"));
    const keep = h("button", { type: "button", class: "small", dataset: { testid: `keep-${what.id}` } }, t("dutyPage.removeKeep"));
    keep.addEventListener("click", () => { ask(); box.querySelector("button").focus(); });
    yes.addEventListener("click", async () => {
      yes.disabled = true;
      keep.disabled = true;
      await onConfirm();
      if (box.isConnected) ask();
    });
    box.replaceChildren(h("span", { class: "override-confirm", role: "group", "aria-label": t(what.ask) },
      h("span", null, t(what.ask)), yes, keep));
    yes.focus();
  };
  ask();
  return box;
}

const COVER = { id: "cover", ask: "dutyPage.removeAsk" };
const ROTATION = { id: "rotation", ask: "dutyPage.removeRotationAsk" };

function removeCover(o, tz, actions) {
  const label = t("dutyPage.removeLabel", { who: o.name, from: dateTime(o.start, tz) });
  return removeControl(label, COVER, () => actions.remove(o));
}

function removeRotation(r, actions) {
  const label = t("dutyPage.removeRotationLabel", { layer: r.layer,
    who: r.members.map((m) => m.name).join(t("dutyPage.listSep")) });
  return removeControl(label, ROTATION, () => actions.removeRotation(r));
}

function overridesList(street, tz, actions) {
  if (!street.overrides.length) return h("p", { class: "muted", dataset: { testid: "overrides" } }, t("dutyPage.noOverrides"));
  return h("ul", { class: "plain-list", dataset: { testid: "overrides" } }, street.overrides.map((o) =>
    h("li", { dataset: { override: String(o.id) } },
      h("strong", null, o.name), ` · ${tierText(o.tier)} · `,
      t("dutyPage.span", { from: dateTime(o.start, tz), to: dateTime(o.end, tz) }),
      o.reason ? h("span", { class: "muted" }, ` · ${o.reason}`) : null,
      " ", removeCover(o, tz, actions))));
}

function streetCard(street, actions) {
  const tz = zoneOf(street);
  return h("section", { class: "card duty-street", dataset: { street: street.street } },
    h("h2", null, street.street),
    h("dl", { class: "duty-now" },
      h("dt", null, t("duty.primary")), h("dd", null, who(street.primary, "duty-primary")),
      h("dt", null, t("dutyPage.nextPrimary")), h("dd", null, handoff(street.next_primary, tz, "next-primary")),
      h("dt", null, t("duty.backup")), h("dd", null, who(street.backup, "duty-backup")),
      h("dt", null, t("dutyPage.nextBackup")), h("dd", null, handoff(street.next_backup, tz, "next-backup"))),
    h("h3", null, t("dutyPage.rotations")), rotationsTable(street, tz, actions),
    h("h3", null, t("dutyPage.overrides")), overridesList(street, tz, actions));
}

function overrideForm(streets, onDone) {
  const labelled = (key, el) => h("span", { class: "field" }, h("label", { for: el.id }, t(key)), el);
  const people = new Map();
  for (const s of streets) {
    for (const r of s.rotations) for (const m of r.members) people.set(m.person, m.name);
    for (const o of s.overrides) people.set(o.person, o.name);
  }
  const list = h("datalist", { id: "duty-people" }, [...people].map(([ref, name]) => h("option", { value: ref }, name)));
  const street = h("select", { id: "cover-street", name: "street" }, streets.map((s) => h("option", { value: s.street }, s.street)));
  const person = h("input", { id: "cover-person", name: "person", list: "duty-people", autocomplete: "off", required: true });
  const tier = h("select", { id: "cover-tier", name: "tier" },
    h("option", { value: "primary" }, t("dutyPage.tierPrimary")), h("option", { value: "backup" }, t("dutyPage.tierBackup")));
  const from = h("input", { id: "cover-from", name: "start", type: "datetime-local", required: true });
  const to = h("input", { id: "cover-to", name: "end", type: "datetime-local", required: true });
  const reason = h("input", { id: "cover-reason", name: "reason", maxlength: 200 });
  const feedback = h("div", { "aria-live": "polite", dataset: { testid: "cover-feedback" } });
  const submit = h("button", { type: "submit", class: "primary" }, t("dutyPage.addCover"));
  const form = h("form", { class: "profile-form", novalidate: true, dataset: { testid: "add-cover" } },
    labelled("duty.street", street), labelled("dutyPage.person", person), labelled("dutyPage.tier", tier),
    labelled("dutyPage.coverFrom", from), labelled("dutyPage.coverTo", to), labelled("dutyPage.reason", reason),
    submit, feedback, list);
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    const chosen = streets.find((s) => s.street === street.value);
    const tz = chosen ? zoneOf(chosen) : DEFAULT_TZ;
    if (!person.value.trim() || !from.value || !to.value) {
      flash(feedback, t("dutyPage.needAll"), "error");
      return;
    }
    const instant = (value) => zonedToUtc(...value.split("T"), tz);
    const start = instant(from.value);
    const end = instant(to.value);
    if (end <= start) {
      flash(feedback, t("dutyPage.endAfterStart"), "error");
      return;
    }
    submit.disabled = true;
    try {
      await post("/duty/overrides", {
        street: street.value, person: person.value.trim(), tier: tier.value,
        start: start.toISOString(), end: end.toISOString(), reason: reason.value.trim() || null,
      });
      form.reset();
      flash(feedback, t("common.saved"));
      onDone();
    } catch (error) {
      flash(feedback, errorText(error), "error");
    } finally {
      submit.disabled = false;
    }
  });
  return h("section", { class: "card" }, h("h2", null, t("dutyPage.addCover")),
    h("p", { class: "muted small" }, t("dutyPage.coverHint")), form);
}

export function renderDuty(root) {
  const body = h("div", null, loading());
  const form = h("div");
  const feedback = h("div", { "aria-live": "polite", dataset: { testid: "duty-feedback" } });
  root.replaceChildren(h("h1", { tabindex: "-1" }, t("dutyPage.title")), feedback, body, form);
  let alive = true;
  const actions = {
    async remove(o) {
      try {
        await del(`/duty/overrides/${o.id}`);
        flash(feedback, t("dutyPage.removed", { who: o.name }));
      } catch (error) {
        // 404: over, or removed by someone else meanwhile; the list is stale either way.
        flash(feedback, error.status === 404 ? t("dutyPage.removeGone") : errorText(error), "error");
        if (error.status !== 404) return;
      }
      await load();
    },
    async removeRotation(r) {
      try {
        await del(`/duty/rotations/${r.id}`);
        flash(feedback, t("dutyPage.rotationRemoved", { layer: r.layer }));
      } catch (error) {
        // 404: removed by someone else meanwhile; the list is stale.
        flash(feedback, error.status === 404 ? t("dutyPage.rotationGone") : errorText(error), "error");
        if (error.status !== 404) return;
      }
      await load();
    },
  };
  const load = async () => {
    try {
      const data = await get("/duty/rotations");
      if (!alive) return;
      const streets = data.streets || [];
      body.replaceChildren(...(streets.length ? streets.map((s) => streetCard(s, actions)) : [h("p", { class: "muted" }, t("duty.none"))]));
      if (!form.firstChild && streets.length) form.replaceChildren(overrideForm(streets, load));
    } catch (error) {
      if (alive) body.replaceChildren(errorBox(error, load));
    }
  };
  load();
  return () => { alive = false; };
}
