// The signed-in staff member's active alerts, kept live over Server-Sent Events.
// Loads the list, then applies every `event: alert`; a resolved alert leaves. When the
// stream drops it reconnects (with backoff) and reloads the list to catch up.
import { get } from "./api.js";
import { beep } from "./sound.js";

const SEVERITY_RANK = { critical: 0, high: 1, medium: 2, low: 3, info: 4 };
const HIGHLIGHT_MS = 60000;

export function compareAlerts(a, b) {
  const rank = (SEVERITY_RANK[a.severity] ?? 9) - (SEVERITY_RANK[b.severity] ?? 9);
  if (rank !== 0) return rank;
  const age = Date.parse(a.opened_at || a.first_seen_at) - Date.parse(b.opened_at || b.first_seen_at);
  return age !== 0 ? age : a.id - b.id;
}

class AlertStore {
  constructor() {
    this.alerts = new Map();
    this.fresh = new Map(); // id → time it arrived live (for the highlight)
    this.status = "idle"; // idle | connecting | live | reconnecting
    this.loaded = false;
    this.listeners = new Set();
    this.source = null;
    this.retryTimer = null;
    this.retryDelay = 1000;
    this.running = false;
    this.onNew = null;
  }

  subscribe(listener) {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  emit(change) {
    for (const listener of this.listeners) listener(change);
  }

  setStatus(status) {
    this.status = status;
    document.body.dataset.stream = status;
    this.emit({ type: "status" });
  }

  sorted() {
    return [...this.alerts.values()].sort(compareAlerts);
  }

  isFresh(id) {
    const at = this.fresh.get(id);
    return at !== undefined && Date.now() - at < HIGHLIGHT_MS;
  }

  start() {
    if (this.running) return;
    this.running = true;
    this.reload().catch(() => this.emit({ type: "error" }));
    this.connect();
  }

  stop() {
    this.running = false;
    this.duringReload = null;
    clearTimeout(this.retryTimer);
    if (this.source) this.source.close();
    this.source = null;
    this.alerts.clear();
    this.fresh.clear();
    this.loaded = false;
    this.setStatus("idle");
  }

  connect() {
    if (!this.running) return;
    this.setStatus(this.loaded ? "reconnecting" : "connecting");
    const source = new EventSource("/api/v1/alerts/stream", { withCredentials: true });
    this.source = source;
    source.addEventListener("hello", () => {
      // Connected: (re)load the list so nothing that changed while away is missed.
      this.retryDelay = 1000;
      this.reload().then(
        () => this.setStatus("live"),
        () => this.setStatus("live"),
      );
    });
    source.addEventListener("alert", (event) => {
      let alert;
      try {
        alert = JSON.parse(event.data);
      } catch (_) {
        return;
      }
      this.apply(alert, true);
    });
    source.onerror = () => {
      if (!this.running || this.source !== source) return;
      if (source.readyState === EventSource.CLOSED) {
        // The browser gave up (e.g. a non-200 answer): retry ourselves, with backoff.
        source.close();
        this.setStatus("reconnecting");
        clearTimeout(this.retryTimer);
        this.retryTimer = setTimeout(() => this.connect(), this.retryDelay);
        this.retryDelay = Math.min(this.retryDelay * 2, 30000);
      } else {
        this.setStatus("reconnecting"); // the browser retries by itself
      }
    };
  }

  async reload() {
    // Only the latest of overlapping reloads wins; changes that streamed in while it was
    // being fetched are newer than its answer and are applied on top.
    const generation = (this.generation = (this.generation || 0) + 1);
    const streamed = [];
    this.duringReload = streamed;
    const data = await get("/alerts?state=active&limit=500").finally(() => {
      if (this.generation === generation) this.duringReload = null;
    });
    if (this.generation !== generation || !this.running) return;
    const before = new Set(this.alerts.keys());
    const wasLoaded = this.loaded;
    const next = new Map();
    for (const alert of data.alerts || []) next.set(alert.id, alert);
    for (const alert of streamed) {
      if (alert.state === "resolved") next.delete(alert.id);
      else next.set(alert.id, alert);
    }
    this.alerts = next;
    this.loaded = true;
    const arrived = wasLoaded ? [...next.values()].filter((a) => !before.has(a.id)) : [];
    for (const alert of arrived) this.fresh.set(alert.id, Date.now());
    this.emit({ type: "reload", arrived });
    if (arrived.length) this.announce(arrived);
  }

  /** Apply one alert change (from the stream, or the answer to an action). */
  apply(alert, live = false) {
    if (!alert || alert.id === undefined) return;
    if (this.duringReload) this.duringReload.push(alert);
    const known = this.alerts.has(alert.id);
    if (alert.state === "resolved") {
      if (known) {
        this.alerts.delete(alert.id);
        this.fresh.delete(alert.id);
        this.emit({ type: "removed", alert });
      }
      return;
    }
    this.alerts.set(alert.id, alert);
    if (!known && live && this.loaded) {
      this.fresh.set(alert.id, Date.now());
      this.emit({ type: "added", alert });
      this.announce([alert]);
    } else {
      this.emit({ type: "updated", alert });
    }
  }

  announce(alerts) {
    const worst = [...alerts].sort(compareAlerts)[0];
    beep(worst.severity);
    if (this.onNew) this.onNew(worst);
  }
}

export const alertStore = new AlertStore();
