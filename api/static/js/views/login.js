import { post, setCsrfToken } from "../api.js";
import { h } from "../dom.js";
import { t } from "../i18n.js";
import { errorText } from "../ui.js";

export function renderLogin(root, { onSignedIn, notice }) {
  const error = h("div", { class: "form-error", role: "alert", "aria-live": "assertive" });
  if (notice) error.append(h("div", { class: "message info" }, notice));
  const username = h("input", { id: "username", name: "username", autocomplete: "username", required: true, autofocus: true });
  const password = h("input", { id: "password", name: "password", type: "password", autocomplete: "current-password", required: true });
  const submit = h("button", { type: "submit", class: "primary big" }, t("login.submit"));

  const form = h("form", { class: "login-form card", novalidate: false },
    h("h1", null, t("login.title")),
    h("label", { for: "username" }, t("login.username")), username,
    h("label", { for: "password" }, t("login.password")), password,
    error, submit);

  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    error.replaceChildren();
    submit.disabled = true;
    submit.textContent = t("login.busy");
    try {
      const data = await post("/auth/login", { username: username.value.trim(), password: password.value });
      setCsrfToken(data.csrf_token);
      onSignedIn(data.user);
    } catch (e) {
      // The server answers a 429 in the console's language (Accept-Language), with the wait.
      const text = e.status === 401 ? t("login.bad") : e.status === 429 ? e.message : errorText(e);
      error.replaceChildren(h("div", { class: "message error" }, text));
      password.value = "";
      password.focus();
    } finally {
      submit.disabled = false;
      submit.textContent = t("login.submit");
    }
  });

  root.replaceChildren(h("div", { class: "login-page" }, form));
  username.focus();
}
