// The audit log (admins: everything; supervisors: their street's homes): filters by user,
// home, action, outcome and dates; newest first with "more"; CSV of the same filter.
import { get, query } from "../api.js";
import { h } from "../dom.js";
import { t } from "../i18n.js";
import { errorBox, loading } from "../ui.js";

function field(id, text, input) {
  return h("div", { class: "field" }, h("label", { for: id }, text), input);
}

function dayStart(value) {
  return value ? new Date(value + "T00:00:00").toISOString() : undefined;
}

function dayEnd(value) {
  if (!value) return undefined;
  const end = new Date(value + "T00:00:00");
  end.setDate(end.getDate() + 1);
  return end.toISOString();
}

function row(entry) {
  return h("tr", { dataset: { outcome: entry.outcome } },
    h("td", null, new Date(entry.at).toLocaleString()),
    h("td", null, entry.username),
    h("td", null, entry.action),
    h("td", null, entry.outcome === "refused" ? t("audit.refused") : t("audit.read")),
    h("td", null, entry.reason || ""),
    h("td", null, entry.home_ids.join(" ") || (entry.requested_home ? `(${entry.requested_home})` : "")),
    h("td", { class: "muted small" }, entry.resource));
}

export function renderAudit(root) {
  const inputs = {
    username: h("input", { id: "audit-user", name: "username", autocomplete: "off" }),
    home_id: h("input", { id: "audit-home", name: "home_id", autocomplete: "off" }),
    action: h("input", { id: "audit-action", name: "action", autocomplete: "off", placeholder: "home." }),
    outcome: h("select", { id: "audit-outcome", name: "outcome" },
      h("option", { value: "" }, t("audit.any")),
      h("option", { value: "read" }, t("audit.read")),
      h("option", { value: "refused" }, t("audit.refused"))),
    since: h("input", { id: "audit-since", name: "since", type: "date" }),
    until: h("input", { id: "audit-until", name: "until", type: "date" }),
  };
  const body = h("tbody");
  const status = h("div", { role: "status" });
  const more = h("button", { type: "button", class: "link" }, t("audit.more"));
  const moreSlot = h("div");
  const csv = h("a", { class: "button", href: "/api/v1/audit.csv", download: "audit.csv" }, t("audit.csv"));
  let next = null;

  function filters() {
    return {
      username: inputs.username.value.trim(), home_id: inputs.home_id.value.trim(),
      action: inputs.action.value.trim(), outcome: inputs.outcome.value,
      since: dayStart(inputs.since.value), until: dayEnd(inputs.until.value),
    };
  }

  async function load(append) {
    const wanted = filters();
    csv.href = "/api/v1/audit.csv" + query(wanted);
    if (!append) {
      body.replaceChildren();
      status.replaceChildren(loading());
    }
    try {
      const page = await get("/audit" + query({ ...wanted, before_id: append ? next : undefined }));
      status.replaceChildren(!append && !page.entries.length ? h("p", { class: "muted" }, t("audit.empty")) : "");
      body.append(...page.entries.map(row));
      next = page.next_before_id;
      moreSlot.replaceChildren(next === null ? "" : more);
    } catch (error) {
      status.replaceChildren(errorBox(error, () => load(append)));
    }
  }

  const form = h("form", { class: "card audit-filters" },
    h("div", { class: "field-row" },
      field("audit-user", t("audit.user"), inputs.username),
      field("audit-home", t("audit.home"), inputs.home_id),
      field("audit-action", t("audit.action"), inputs.action),
      field("audit-outcome", t("audit.outcome"), inputs.outcome),
      field("audit-since", t("audit.since"), inputs.since),
      field("audit-until", t("audit.until"), inputs.until)),
    h("button", { type: "submit", class: "primary" }, t("audit.search")), " ", csv);
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    load(false);
  });
  more.addEventListener("click", () => load(true));

  root.replaceChildren(
    h("h1", { tabindex: "-1" }, t("audit.title")),
    h("p", { class: "muted" }, t("audit.intro")),
    form,
    h("table", { class: "table audit", dataset: { testid: "audit-table" } },
      h("thead", null, h("tr", null,
        ...["audit.at", "audit.user", "audit.action", "audit.outcome", "audit.reason", "audit.homes", "audit.resource"]
          .map((key) => h("th", { scope: "col" }, t(key))))),
      body),
    status, moreSlot);
  load(false);
}
