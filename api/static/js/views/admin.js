// Administration (admins): users — list and add —, escalation policies — read, edit as
// JSON, go back to the default — and how long each kind of data is kept. Duty rotations
// have their own page (views/duty.js).
import { del, get, post, put } from "../api.js";
import { h } from "../dom.js";
import { label, t } from "../i18n.js";
import { dateTime, fullDateTime } from "../format.js";
import { errorBox, errorText, flash, loading, section } from "../ui.js";

const ROLES = ["advisor", "supervisor", "family", "admin"];

function usersSection() {
  const box = h("div", null, loading());
  const draw = async () => {
    try {
      const data = await get("/users");
      box.replaceChildren(h("div", { class: "table-scroll" }, h("table", { class: "table admin-table", dataset: { testid: "users" } },
        h("thead", null, h("tr", null, ["admin.displayName", "admin.username", "admin.role", "admin.street", "admin.language"].map((k) => h("th", { scope: "col" }, t(k))))),
        h("tbody", null, (data.users || []).map((u) => h("tr", { class: u.disabled ? "muted" : "" },
          h("td", null, u.display_name, u.disabled ? ` (${t("admin.disabled")})` : ""),
          h("td", null, u.username), h("td", null, label("role", u.role)),
          h("td", null, u.street || "—"), h("td", null, label("language", u.language))))))));
    } catch (error) {
      box.replaceChildren(errorBox(error, draw));
    }
  };
  const input = (name, attrs = {}) => h("input", { id: `new-${name}`, name, ...attrs });
  const fields = {
    username: input("username", { required: true, autocomplete: "off" }),
    display_name: input("display_name", { required: true }),
    password: input("password", { type: "password", required: true, autocomplete: "new-password" }),
    street: input("street"),
  };
  const role = h("select", { id: "new-role" }, ROLES.map((r) => h("option", { value: r }, label("role", r))));
  const language = h("select", { id: "new-language" }, ["zh-CN", "en"].map((l) => h("option", { value: l }, label("language", l))));
  const feedback = h("div", { "aria-live": "polite" });
  const submit = h("button", { type: "submit", class: "primary" }, t("admin.addUser"));
  const labelled = (key, el) => h("span", { class: "field" }, h("label", { for: el.id }, t(key)), el);
  const form = h("form", { class: "profile-form", dataset: { testid: "add-user" } },
    labelled("admin.username", fields.username), labelled("admin.displayName", fields.display_name),
    labelled("admin.role", role), labelled("admin.street", fields.street), labelled("admin.language", language),
    labelled("admin.password", fields.password), submit, feedback);
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    submit.disabled = true;
    try {
      await post("/users", {
        username: fields.username.value.trim(), display_name: fields.display_name.value.trim(),
        password: fields.password.value, role: role.value, language: language.value,
        street: fields.street.value.trim() || null,
      });
      form.reset();
      flash(feedback, t("common.saved"));
      draw();
    } catch (error) {
      flash(feedback, errorText(error), "error");
    } finally {
      submit.disabled = false;
    }
  });
  draw();
  return section(t("admin.users"), box, h("h3", null, t("admin.addUser")), form);
}

function stepText(step) {
  const when = step.after_s ? t("admin.afterMinutes", { n: Math.round(step.after_s / 60) }) : t("admin.atOnce");
  return `${when}: ${step.roles.map((r) => label("contact", r)).join(" + ")}${step.digest ? ` (${label("purpose", "digest")})` : ""}`;
}

function policiesSection() {
  const box = h("div", null, loading());
  const draw = async () => {
    try {
      const data = await get("/policies");
      box.replaceChildren(...(data.policies || []).map((p) => {
        const text = h("textarea", { rows: 6, class: "policy-json", "aria-label": `${t("admin.policyJson")} ${p.name}` }, JSON.stringify(p.policy, null, 2));
        const feedback = h("div", { "aria-live": "polite" });
        const save = h("button", { type: "button", class: "primary" }, t("common.save"));
        const reset = h("button", { type: "button" }, t("admin.reset"));
        save.addEventListener("click", async () => {
          try {
            await put(`/policies/${p.name}`, JSON.parse(text.value));
            flash(feedback, t("common.saved"));
            draw();
          } catch (error) {
            flash(feedback, error instanceof SyntaxError ? t("error.invalid") : errorText(error), "error");
          }
        });
        reset.addEventListener("click", async () => {
          try {
            await del(`/policies/${p.name}`);
            draw();
          } catch (error) {
            flash(feedback, errorText(error), "error");
          }
        });
        return h("div", { class: "policy card", dataset: { policy: p.name } },
          h("h3", null, `${label("sev", p.name) || p.name} · ${p.stored ? `${t("admin.customised")} ${p.updated_by || ""} ${p.updated_at ? dateTime(p.updated_at) : ""}` : t("admin.default")}`),
          h("ol", null, p.policy.steps.map((s) => h("li", null, stepText(s)))),
          h("details", null, h("summary", null, t("admin.policyJson")), text, h("div", { class: "action-row" }, save, reset), feedback));
      }));
    } catch (error) {
      box.replaceChildren(errorBox(error, draw));
    }
  };
  draw();
  return section(t("admin.policies"), box);
}

function retentionSection() {
  const box = h("div", null, loading());
  const draw = async () => {
    try {
      const data = await get("/retention");
      const day = (value) => (value ? fullDateTime(value) : "—");
      box.replaceChildren(h("p", null, t("admin.retentionIntro")), h("div", { class: "table-scroll" },
        h("table", { class: "table admin-table", dataset: { testid: "retention" } },
          h("thead", null, h("tr", null, ["admin.retentionKind", "admin.retentionDays", "admin.retentionCutoff",
            "admin.retentionOldest", "admin.retentionDue"].map((k) => h("th", { scope: "col" }, t(k))))),
          h("tbody", null, (data.kinds || []).map((k) => h("tr", { dataset: { kind: k.kind } },
            h("td", null, label("retention", k.kind)), h("td", null, String(k.keep_days)),
            h("td", null, day(k.cutoff)), h("td", null, day(k.oldest)), h("td", null, String(k.due_rows))))))));
    } catch (error) {
      box.replaceChildren(errorBox(error, draw));
    }
  };
  draw();
  return section(t("admin.retention"), box);
}

export function renderAdmin(root) {
  root.replaceChildren(h("h1", { tabindex: "-1" }, t("admin.title")), usersSection(), policiesSection(),
    retentionSection());
}
