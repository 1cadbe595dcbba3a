// The home's last hours as inline SVG: water litres per bucket as bars, motion per room
// as rows of marks, night hours shaded, the alert's start marked; and the device list.
import { h, s } from "./dom.js";
import { label, t } from "./i18n.js";
import { clock, dateTime, friendly, number, partsIn, toDate } from "./format.js";

const W = 960;
const LEFT = 112;
const RIGHT = 12;
const TOP = 24; // room for the water panel's title above its top gridline
const WATER_H = 120;
const ROW_H = 24;
const AXIS_H = 28;
const GAP = 18;

function niceMax(value) {
  if (!(value > 0)) return 10;
  const power = 10 ** Math.floor(Math.log10(value));
  for (const step of [1, 2, 2.5, 5, 10]) if (step * power >= value) return step * power;
  return 10 * power;
}

export function readingsChart(readings, tz, marker) {
  const from = toDate(readings.from);
  const to = toDate(readings.to);
  if (!from || !to || to <= from) return h("p", { class: "muted" }, t("chart.noData"));
  const span = to - from;
  const plotW = W - LEFT - RIGHT;
  const bucketMs = (readings.bucket_minutes || 60) * 60000;
  const x = (date) => LEFT + ((date - from) / span) * plotW;
  const barW = Math.max(1, (bucketMs / span) * plotW - 1.5);

  const water = (readings.water || []).map((w) => ({ t: toDate(w.t), litres: Number(w.litres) || 0 }));
  const motion = readings.motion || [];
  const rooms = [...new Set(motion.map((m) => m.room || "—"))].sort((a, b) => a.localeCompare(b));
  const totalLitres = water.reduce((sum, w) => sum + w.litres, 0);
  const totalEvents = motion.reduce((sum, m) => sum + (Number(m.events) || 0), 0);

  const motionTop = TOP + WATER_H + GAP + 16;
  const height = motionTop + Math.max(rooms.length, 1) * ROW_H + AXIS_H;
  const yMax = niceMax(Math.max(0, ...water.map((w) => w.litres)));
  const base = TOP + WATER_H;
  const yWater = (litres) => base - (litres / yMax) * WATER_H;

  const svg = s("svg", {
    viewBox: `0 0 ${W} ${height}`,
    class: "chart",
    role: "img",
    "aria-label": `${t("chart.water")}; ${t("chart.motion")}. ${t("chart.summary", {
      litres: number(totalLitres, 1), events: number(totalEvents),
    })}`,
  });

  // Night hours (22:00–06:00 in the home's timezone), and the time axis ticks.
  const ticks = [];
  let nightStart = null;
  const step = 15 * 60000;
  for (let ms = Math.ceil(from / step) * step; ms <= to.getTime(); ms += step) {
    const p = partsIn(new Date(ms), tz);
    const night = p.hour >= 22 || p.hour < 6;
    if (night && nightStart === null) nightStart = ms;
    if ((!night || ms + step > to.getTime()) && nightStart !== null) {
      svg.appendChild(s("rect", {
        class: "night", x: x(new Date(nightStart)), y: 0,
        width: Math.max(0, x(new Date(ms)) - x(new Date(nightStart))), height: height - AXIS_H,
      }));
      nightStart = null;
    }
    if (p.minute === 0 && p.hour % 6 === 0) ticks.push({ at: new Date(ms), midnight: p.hour === 0 });
  }
  for (const tick of ticks) {
    const tx = x(tick.at);
    svg.appendChild(s("line", { class: tick.midnight ? "grid strong" : "grid", x1: tx, x2: tx, y1: 0, y2: height - AXIS_H }));
    svg.appendChild(s("text", { class: "tick", x: tx, y: height - 8, "text-anchor": "middle" },
      tick.midnight ? dateTime(tick.at, tz).replace(/\s*00:00$/, "") : clock(tick.at, tz)));
  }

  // Water panel.
  svg.appendChild(s("text", { class: "panel-title", x: 4, y: 14 }, t("chart.water")));
  for (const level of [0, yMax / 2, yMax]) {
    const y = yWater(level);
    svg.appendChild(s("line", { class: "grid", x1: LEFT, x2: W - RIGHT, y1: y, y2: y }));
    svg.appendChild(s("text", { class: "tick", x: LEFT - 6, y: y + 4, "text-anchor": "end" }, number(level, 1)));
  }
  for (const w of water) {
    if (!w.t || w.litres <= 0) continue;
    const top = yWater(w.litres);
    svg.appendChild(s("rect", { class: "bar", x: x(w.t), y: top, width: barW, height: base - top },
      s("title", null, `${dateTime(w.t, tz)} — ${number(w.litres, 1)} L`)));
  }

  // Motion rows.
  svg.appendChild(s("text", { class: "panel-title", x: 4, y: motionTop - 6 }, t("chart.motion")));
  const maxEvents = Math.max(1, ...motion.map((m) => Number(m.events) || 0));
  rooms.forEach((room, i) => {
    const y = motionTop + i * ROW_H;
    svg.appendChild(s("line", { class: "row", x1: LEFT, x2: W - RIGHT, y1: y + ROW_H / 2, y2: y + ROW_H / 2 }));
    svg.appendChild(s("text", { class: "room", x: LEFT - 6, y: y + ROW_H / 2 + 4, "text-anchor": "end" }, room === "—" ? room : label("room", room)));
  });
  for (const m of motion) {
    const at = toDate(m.t);
    const events = Number(m.events) || 0;
    if (!at || events <= 0) continue;
    const y = motionTop + rooms.indexOf(m.room || "—") * ROW_H + 4;
    svg.appendChild(s("rect", {
      class: "mark", x: x(at), y, width: barW, height: ROW_H - 8, rx: 2,
      "fill-opacity": (0.35 + 0.65 * (events / maxEvents)).toFixed(2),
    }, s("title", null, `${m.room ? label("room", m.room) : "—"} ${dateTime(at, tz)} — ${events}`)));
  }

  // The alert's start.
  const mark = toDate(marker);
  if (mark && mark >= from && mark <= to) {
    const mx = x(mark);
    svg.appendChild(s("line", { class: "marker", x1: mx, x2: mx, y1: 0, y2: height - AXIS_H }));
    const nearEnd = mx > W - RIGHT - 160;
    svg.appendChild(s("text", {
      class: "marker-label", x: nearEnd ? mx - 4 : mx + 4, y: TOP + 12, "text-anchor": nearEnd ? "end" : "start",
    }, `${t("chart.alertMark")} ${clock(mark, tz)}`));
  }

  const empty = water.length === 0 && motion.length === 0;
  return h("figure", { class: "chart-figure" },
    svg,
    h("figcaption", { class: "muted" },
      empty ? t("chart.noData") : t("chart.summary", { litres: number(totalLitres, 1), events: number(totalEvents) })),
  );
}

export function deviceTable(devices, tz) {
  if (!devices || !devices.length) return h("p", { class: "muted" }, t("common.none"));
  return h("table", { class: "table devices" },
    h("thead", null, h("tr", null,
      h("th", { scope: "col" }, t("col.type")),
      h("th", { scope: "col" }, t("col.room")),
      h("th", { scope: "col" }, t("col.online")),
      h("th", { scope: "col" }, t("col.lastSeen")),
      h("th", { scope: "col" }, t("col.battery")),
      h("th", { scope: "col" }, t("col.signal")),
    )),
    h("tbody", null, devices.map((d) => h("tr", { class: d.online ? "" : "offline-row" },
      h("td", null, label("device", d.type), h("span", { class: "muted small" }, ` ${d.id}`)),
      h("td", null, d.room ? label("room", d.room) : "—"),
      h("td", null, h("span", { class: `dot ${d.online ? "green" : "grey"}`, "aria-hidden": "true" }),
        d.last_seen_at ? (d.online ? t("device.online") : t("device.offline")) : t("device.neverSeen")),
      h("td", null, d.last_seen_at ? friendly(d.last_seen_at, tz) : "—"),
      h("td", { class: d.battery_pct !== null && d.battery_pct < 20 ? "warn" : "" },
        d.battery_pct === null || d.battery_pct === undefined ? "—" : `${d.battery_pct}%`),
      h("td", null, d.rssi_dbm === null || d.rssi_dbm === undefined ? "—" : `${d.rssi_dbm} dBm`),
    ))),
  );
}
