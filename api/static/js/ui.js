// Small shared pieces: badges, messages, sections.
import { h } from "./dom.js";
import { DICTIONARIES, label, lang, t } from "./i18n.js";

const SEVERITY_ICON = { critical: "‼", high: "!", medium: "▲", low: "●", info: "i" };
const STATUS_ICON = { alert: "‼", attention: "!", ok: "✓", offline: "⨯", away: "⇥" };

export function severityBadge(severity, big = false) {
  return h("span", { class: `sev sev-${severity}${big ? " big" : ""}`, dataset: { severity } },
    h("span", { class: "sev-icon", "aria-hidden": "true" }, SEVERITY_ICON[severity] || "?"),
    label("sev", severity));
}

export function stateBadge(state) {
  return h("span", { class: `state state-${state}`, dataset: { state } }, label("state", state));
}

export function statusBadge(status, colour) {
  return h("span", { class: `status status-${colour || "grey"}`, dataset: { status } },
    h("span", { class: "status-icon", "aria-hidden": "true" }, STATUS_ICON[status] || "?"),
    label("status", status));
}

export function loading() {
  return h("p", { class: "loading", role: "status" }, t("common.loading"));
}

/** What went wrong, said for a person in their language: never the server's raw text. */
export function errorText(error) {
  const dict = DICTIONARIES[lang()];
  if (!error || typeof error !== "object") return t("error.server");
  if (error.status === 422 || error.status === 400) {
    const field = error.field ? String(error.field).replace(/^(body|query|path)\./, "") : null;
    if (field && dict[`error.field.${field}`]) return dict[`error.field.${field}`];
    const top = field ? field.split(".")[0] : null;
    if (top && dict[`error.field.${top}`]) return dict[`error.field.${top}`];
  }
  if (error.status === 429) {
    return error.retryAfterS ? t("login.lockedFor", { n: Math.max(1, Math.ceil(error.retryAfterS / 60)) }) : t("error.too_many_requests");
  }
  if (error.code && dict[`error.${error.code}`]) return dict[`error.${error.code}`];
  if (error.status === 0) return t("error.network");
  if (error.status === 401) return t("error.unauthorized");
  if (error.status === 403) return t("error.forbidden");
  if (error.status === 404) return t("error.not_found");
  if (error.status === 409) return t("error.conflict");
  if (error.status === 422) return t("error.invalid");
  return t("error.server");
}

export function errorBox(error, onRetry) {
  return h("div", { class: "message error", role: "alert" },
    errorText(error),
    onRetry ? [" ", h("button", { type: "button", class: "link", onclick: onRetry }, t("common.retry"))] : null);
}

export function notFound(what) {
  return h("section", { class: "not-found", role: "alert", dataset: { testid: "not-found" } },
    h("h1", { tabindex: "-1" }, t("common.notFound")),
    h("p", null, what));
}

export function forbidden() {
  return h("section", { class: "not-found", role: "alert" },
    h("h1", { tabindex: "-1" }, t("common.forbidden")));
}

/** An error from loading an object: 404 (and 403 for object pages) read "not found". */
export function loadFailure(error, what, onRetry) {
  if (error && (error.status === 404 || error.status === 403)) return notFound(what);
  return errorBox(error, onRetry);
}

export function section(title, ...children) {
  return h("section", { class: "card" }, h("h2", null, title), ...children);
}

export function flash(target, text, kind = "ok") {
  target.replaceChildren(h("div", { class: `message ${kind}`, role: kind === "error" ? "alert" : "status" }, text));
}
