// Who is on duty: the alert detail's card and the supervisor dashboard's panel.
import { h } from "./dom.js";
import { label, t } from "./i18n.js";
import { clock, dateTime } from "./format.js";
import { telLink } from "./profile.js";

function person(p, testid) {
  if (!p) return h("span", { class: "muted" }, t("duty.homeAdvisors"));
  const why = p.source === "override" ? label("duty", "override") : (p.layer || label("duty", "rotation"));
  return h("span", { dataset: { testid } },
    p.sms ? telLink(p.sms, p.name, `${testid}-call`) : h("strong", null, p.name),
    h("span", { class: "muted small" }, ` · ${why}`));
}

/** The alert detail's card: who is on duty now for the home's street. */
export function onDutyCard(onDuty) {
  if (!onDuty) return null;
  return h("section", { class: "card on-duty", dataset: { testid: "on-duty" } },
    h("h2", null, t("duty.title")),
    h("dl", null,
      h("dt", null, t("duty.primary")), h("dd", null, person(onDuty.primary, "on-duty-primary")),
      h("dt", null, t("duty.backup")), h("dd", null, person(onDuty.backup, "on-duty-backup"))),
    h("p", { class: "muted small" }, t("duty.replyHint")));
}

/** The dashboard's panel: per street, who is on duty now, and the overrides to come. */
export function dutyPanel(duty, tz) {
  const streets = duty.streets || [];
  return h("section", { class: "card duty-panel", dataset: { testid: "duty-panel" } },
    h("h2", null, t("duty.title")),
    streets.length ? h("div", { class: "table-scroll" }, h("table", { class: "table" },
      h("thead", null, h("tr", null, ["duty.street", "duty.primary", "duty.backup", "duty.overrides"].map((k) => h("th", { scope: "col" }, t(k))))),
      h("tbody", null, streets.map((s) => h("tr", { dataset: { street: s.street } },
        h("th", { scope: "row" }, s.street),
        h("td", null, person(s.primary, "duty-primary")),
        h("td", null, person(s.backup, "duty-backup")),
        h("td", null, (s.overrides || []).length
          ? h("ul", { class: "plain-list" }, s.overrides.map((o) => h("li", null,
              t("duty.overrideLine", { who: o.name, from: dateTime(o.start, tz), to: clock(o.end, tz) }),
              o.reason ? h("span", { class: "muted" }, ` · ${o.reason}`) : null)))
          : h("span", { class: "muted" }, "—")))))))
      : h("p", { class: "muted" }, t("duty.none")));
}
