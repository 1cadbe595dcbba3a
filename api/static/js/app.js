// The console: sign-in, the shell (navigation, language, sound, live status), hash routes.
import { alertStore } from "./alerts-store.js";
import { ApiError, get, post, setCsrfToken, whenSignedOut } from "./api.js";
import { h } from "./dom.js";
import { loadTexts } from "./explain.js";
import { label, lang, onLangChange, t, toggleLang } from "./i18n.js";
import { onSoundChange, setSoundEnabled, soundArmed, soundEnabled } from "./sound.js";
import { renderAdmin } from "./views/admin.js";
import { renderAlertDetail } from "./views/alert-detail.js";
import { renderAlerts } from "./views/alerts.js";
import { renderAccount } from "./views/account.js";
import { renderAudit } from "./views/audit.js";
import { renderDashboard } from "./views/dashboard.js";
import { renderDuty } from "./views/duty.js";
import { renderFamily } from "./views/family.js";
import { renderHome, renderHomes } from "./views/homes.js";
import { renderLogin } from "./views/login.js";
import { opsBanner } from "./ops-banner.js";
import { forbidden, notFound } from "./ui.js";

const STAFF = new Set(["admin", "supervisor", "advisor"]);
const MANAGERS = new Set(["admin", "supervisor"]);

const state = { user: null, cleanup: null };
const banner = opsBanner();
const app = document.getElementById("app");

// Routes: pattern, view, who may open it.
const ROUTES = [
  { re: /^\/alerts$/, view: renderAlerts, roles: STAFF, nav: "alerts" },
  { re: /^\/alerts\/(?<id>\d+)$/, view: renderAlertDetail, roles: STAFF, nav: "alerts" },
  { re: /^\/homes$/, view: renderHomes, roles: STAFF, nav: "homes" },
  { re: /^\/homes\/(?<id>[^/]+)$/, view: renderHome, roles: STAFF, nav: "homes" },
  { re: /^\/family$/, view: renderFamily, roles: new Set(["family"]), nav: "family" },
  { re: /^\/family\/(?<id>[^/]+)$/, view: renderFamily, roles: new Set(["family"]), nav: "family" },
  { re: /^\/dashboard$/, view: renderDashboard, roles: MANAGERS, nav: "dashboard" },
  { re: /^\/duty$/, view: renderDuty, roles: MANAGERS, nav: "duty" },
  { re: /^\/admin$/, view: renderAdmin, roles: new Set(["admin"]), nav: "admin" },
  { re: /^\/audit$/, view: renderAudit, roles: MANAGERS, nav: "audit" },
  { re: /^\/account$/, view: renderAccount, roles: new Set([...STAFF, "family"]), nav: "account" },
];

function home(user) {
  return user.role === "family" ? "#/family" : "#/alerts";
}

function parseHash() {
  const raw = location.hash.replace(/^#/, "") || "/";
  const [path, search] = raw.split("?");
  return { path: path.replace(/\/+$/, "") || "/", query: new URLSearchParams(search || "") };
}

// ---- shell ---------------------------------------------------------------------------

const shell = {
  header: null,
  main: null,
  live: null,
  streamLabel: null,
  soundButton: null,
};

function navLink(key, href, current) {
  return h("a", { href, class: "nav-link", "aria-current": current === key ? "page" : null, dataset: { nav: key } }, t(`nav.${key}`));
}

function langButton() {
  return h("button", { type: "button", class: "lang-toggle", lang: lang() === "zh-CN" ? "en" : "zh-CN", "aria-label": t("lang.switch.label"), dataset: { testid: "lang-toggle" }, onclick: toggleLang }, t("lang.switch"));
}

function drawStreamStatus() {
  if (!shell.streamLabel) return;
  const status = alertStore.status;
  const text = status === "live" ? t("stream.live") : status === "reconnecting" ? t("stream.reconnecting") : t("stream.connecting");
  shell.streamLabel.className = `stream stream-${status}`;
  shell.streamLabel.textContent = text;
}

function drawSoundButton() {
  if (!shell.soundButton) return;
  const on = soundEnabled();
  shell.soundButton.textContent = on ? t("sound.on") : t("sound.off");
  shell.soundButton.setAttribute("aria-pressed", String(on));
  shell.soundButton.title = on && !soundArmed() ? t("sound.hint") : "";
}

function drawShell(current) {
  const user = state.user;
  const staff = STAFF.has(user.role);
  shell.streamLabel = staff ? h("span", { class: "stream", role: "status" }) : null;
  shell.soundButton = staff ? h("button", { type: "button", class: "sound-toggle", dataset: { testid: "sound-toggle" }, onclick: () => setSoundEnabled(!soundEnabled()) }) : null;
  const logout = h("button", { type: "button", class: "link", onclick: signOut }, t("nav.logout"));
  const nav = h("nav", { "aria-label": t("app.title") },
    staff ? [navLink("alerts", "#/alerts", current), navLink("homes", "#/homes", current)] : null,
    MANAGERS.has(user.role) ? navLink("dashboard", "#/dashboard", current) : null,
    MANAGERS.has(user.role) ? navLink("duty", "#/duty", current) : null,
    user.role === "admin" ? navLink("admin", "#/admin", current) : null,
    MANAGERS.has(user.role) ? navLink("audit", "#/audit", current) : null,
    user.role === "family" ? navLink("family", "#/family", current) : null);
  shell.header = h("header", { class: "topbar" },
    h("a", { class: "skip", href: "#main", onclick: (e) => { e.preventDefault(); shell.main.focus(); } }, t("app.skip")),
    h("a", { class: "brand", href: home(user) }, t("app.title")),
    nav,
    h("div", { class: "topbar-right" },
      shell.streamLabel, shell.soundButton, langButton(),
      h("span", { class: "who" }, `${user.display_name || user.username} · ${label("role", user.role)}`),
      h("a", { class: "link", href: "#/account", dataset: { nav: "account" } }, t("nav.account")),
      logout));
  shell.main = h("main", { id: "main", tabindex: "-1" });
  shell.live = h("div", { class: "sr-only", "aria-live": "assertive", role: "status" });
  app.replaceChildren(shell.header, staff ? banner.element() : null, shell.main, shell.live);
  drawStreamStatus();
  drawSoundButton();
}

// ---- routing -------------------------------------------------------------------------

function route() {
  if (state.cleanup) {
    try { state.cleanup(); } catch (_) { /* a view's cleanup must not stop navigation */ }
    state.cleanup = null;
  }
  if (!state.user) return showLogin();
  const { path, query } = parseHash();
  const user = state.user;
  // A family member following a staff link to a home goes to their own view of it.
  const familyHome = user.role === "family" && path.match(/^\/homes\/([^/]+)$/);
  if (familyHome) {
    location.replace(`#/family/${familyHome[1]}`);
    return;
  }
  if (path === "/" || path === "/login") {
    location.replace(home(user));
    return;
  }
  const match = ROUTES.map((r) => ({ r, m: path.match(r.re) })).find((x) => x.m);
  drawShell(match ? match.r.nav : null);
  const main = shell.main;
  if (!match) {
    main.replaceChildren(notFound(""));
  } else if (!match.r.roles.has(user.role)) {
    main.replaceChildren(forbidden());
  } else {
    const params = { ...(match.m.groups || {}), query };
    if (params.id) params.id = decodeURIComponent(params.id);
    document.title = `${t(`nav.${match.r.nav}`)} · ${t("app.title")}`;
    state.cleanup = match.r.view(main, { params, user }) || null;
  }
  document.body.dataset.route = path;
  const heading = main.querySelector("h1");
  if (heading && document.activeElement === document.body) heading.focus({ preventScroll: true });
}

// ---- session -------------------------------------------------------------------------

function showLogin(notice) {
  alertStore.stop();
  banner.stop();
  shell.streamLabel = shell.soundButton = null;
  document.title = `${t("login.title")} · ${t("app.title")}`;
  document.body.dataset.route = "/login";
  const bar = h("header", { class: "topbar" }, h("span", { class: "brand" }, t("app.title")), h("div", { class: "topbar-right" }, langButton()));
  const main = h("main", { id: "main" });
  app.replaceChildren(bar, main);
  renderLogin(main, { onSignedIn: signedIn, notice });
}

function signedIn(user) {
  state.user = user;
  document.body.dataset.role = user.role;
  if (STAFF.has(user.role)) {
    alertStore.start();
    banner.start();
  }
  const { path } = parseHash();
  if (path === "/" || path === "/login") location.hash = home(user);
  else route();
}

async function signOut() {
  try {
    await post("/auth/logout", {});
  } catch (_) {
    /* signed out locally either way */
  }
  state.user = null;
  setCsrfToken(null);
  delete document.body.dataset.role;
  if (state.cleanup) state.cleanup();
  state.cleanup = null;
  alertStore.stop();
  banner.stop();
  history.replaceState(null, "", "#/login");
  showLogin();
}

whenSignedOut(() => {
  if (!state.user) return;
  state.user = null;
  setCsrfToken(null);
  if (state.cleanup) state.cleanup();
  state.cleanup = null;
  showLogin(t("common.signedOut"));
});

alertStore.subscribe((change) => {
  if (change.type === "status") drawStreamStatus();
});
alertStore.onNew = (alert) => {
  if (shell.live) {
    shell.live.textContent = t("alerts.newAnnounce", {
      home: alert.resident_name || alert.home_id, category: label("cat", alert.category), severity: label("sev", alert.severity),
    });
  }
};
onSoundChange(drawSoundButton);
onLangChange(() => (state.user ? route() : showLogin()));
window.addEventListener("hashchange", () => {
  if (state.user) route();
});

async function boot() {
  document.documentElement.lang = lang();
  await loadTexts(); // the explanation templates; without them, English fallbacks
  try {
    const me = await get("/auth/me");
    setCsrfToken(me.csrf_token);
    signedIn(me.user);
  } catch (error) {
    if (!(error instanceof ApiError) || error.status !== 401) console.warn("auth/me failed", error);
    showLogin();
  }
  document.body.dataset.ready = "true";
}

boot();
