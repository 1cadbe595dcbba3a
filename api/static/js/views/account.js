// Changing one's own password: the current one, the new one twice; the rules are the
// server's (12+ characters, not common, not the user name, no runs or repeats).
import { post } from "../api.js";
import { h } from "../dom.js";
import { t } from "../i18n.js";
import { flash } from "../ui.js";

function field(id, text, input) {
  return h("div", { class: "field" }, h("label", { for: id }, text), input);
}

export function renderAccount(root) {
  const current = h("input", { id: "pw-current", type: "password", autocomplete: "current-password", required: true });
  const next = h("input", { id: "pw-new", type: "password", autocomplete: "new-password", required: true, minlength: "12" });
  const again = h("input", { id: "pw-again", type: "password", autocomplete: "new-password", required: true, minlength: "12" });
  const message = h("div", { "aria-live": "polite" });
  const submit = h("button", { type: "submit", class: "primary" }, t("account.submit"));
  const form = h("form", { class: "card account-form" },
    field("pw-current", t("account.current"), current),
    field("pw-new", t("account.new"), next),
    field("pw-again", t("account.again"), again),
    h("p", { class: "muted small" }, t("account.rules")),
    message, submit);
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    if (next.value !== again.value) {
      flash(message, t("account.mismatch"), "error");
      return;
    }
    submit.disabled = true;
    try {
      await post("/auth/password", { current_password: current.value, new_password: next.value });
      form.reset();
      flash(message, t("account.done"));
    } catch (error) {
      const text = error.code === "wrong_password" ? t("account.wrong")
        : error.field === "new_password" ? t("account.weak")
          : error.status === 429 ? error.message : t("common.error", { message: error.message });
      flash(message, text, "error");
    } finally {
      submit.disabled = false;
    }
  });
  root.replaceChildren(h("h1", { tabindex: "-1" }, t("account.title")), form);
}
