// Times in the HOME's timezone (never the browser's), durations and numbers.
import { lang, t } from "./i18n.js";

const formatters = new Map();

export function safeZone(tz) {
  if (!tz) return "UTC";
  try {
    new Intl.DateTimeFormat("en", { timeZone: tz });
    return tz;
  } catch (_) {
    return "UTC";
  }
}

function formatter(tz, options) {
  const key = lang() + "|" + tz + "|" + JSON.stringify(options);
  let f = formatters.get(key);
  if (!f) {
    f = new Intl.DateTimeFormat(lang(), { timeZone: safeZone(tz), hourCycle: "h23", ...options });
    formatters.set(key, f);
  }
  return f;
}

export function toDate(value) {
  if (!value) return null;
  const d = value instanceof Date ? value : new Date(value);
  return Number.isNaN(d.getTime()) ? null : d;
}

/** "11/29 15:10" */
export function dateTime(value, tz) {
  const d = toDate(value);
  if (!d) return "—";
  return formatter(tz, { month: "2-digit", day: "2-digit", hour: "2-digit", minute: "2-digit" }).format(d);
}

/** "2026/11/29 15:10" */
export function fullDateTime(value, tz) {
  const d = toDate(value);
  if (!d) return "—";
  return formatter(tz, {
    year: "numeric", month: "2-digit", day: "2-digit", hour: "2-digit", minute: "2-digit",
  }).format(d);
}

/** "15:10" */
export function clock(value, tz) {
  const d = toDate(value);
  if (!d) return "—";
  return formatter(tz, { hour: "2-digit", minute: "2-digit" }).format(d);
}

/** The calendar parts of an instant in a timezone: {year, month, day, hour, minute, weekday}. */
export function partsIn(value, tz) {
  const d = toDate(value);
  const f = new Intl.DateTimeFormat("en-US", {
    timeZone: safeZone(tz), hourCycle: "h23", year: "numeric", month: "2-digit", day: "2-digit",
    hour: "2-digit", minute: "2-digit", second: "2-digit", weekday: "short",
  });
  const out = {};
  for (const p of f.formatToParts(d)) out[p.type] = p.value;
  const weekdays = { Sun: 0, Mon: 1, Tue: 2, Wed: 3, Thu: 4, Fri: 5, Sat: 6 };
  return {
    year: Number(out.year), month: Number(out.month), day: Number(out.day),
    hour: Number(out.hour) % 24, minute: Number(out.minute), second: Number(out.second),
    weekday: weekdays[out.weekday],
  };
}

function dayKey(p) {
  return p.year * 10000 + p.month * 100 + p.day;
}

/** "今天 09:42" / "昨天 21:10" / "11/27 08:00", judged in the home's timezone. */
export function friendly(value, tz, now = new Date()) {
  const d = toDate(value);
  if (!d) return "—";
  const then = partsIn(d, tz);
  const today = partsIn(now, tz);
  const yesterday = partsIn(new Date(now.getTime() - 86400000), tz);
  if (dayKey(then) === dayKey(today)) return t("time.today", { time: clock(d, tz) });
  if (dayKey(then) === dayKey(yesterday)) return t("time.yesterday", { time: clock(d, tz) });
  return dateTime(d, tz);
}

export function ago(value, now = new Date()) {
  const d = toDate(value);
  if (!d) return "—";
  const minutes = Math.floor((now - d) / 60000);
  if (minutes < 1) return t("time.justNow");
  if (minutes < 60) return t("time.minutesAgo", { n: minutes });
  if (minutes < 48 * 60) return t("time.hoursAgo", { n: Math.floor(minutes / 60) });
  return t("time.daysAgo", { n: Math.floor(minutes / 1440) });
}

export function duration(ms) {
  const minutes = Math.max(0, Math.floor(ms / 60000));
  if (minutes < 1) return t("time.underMinute");
  if (minutes < 60) return t("time.minutes", { n: minutes });
  if (minutes < 1440) {
    const hours = Math.floor(minutes / 60);
    return minutes % 60 ? t("time.hours", { h: hours, m: minutes % 60 }) : t("time.hoursOnly", { h: hours });
  }
  return t("time.days", { d: Math.floor(minutes / 1440), h: Math.floor((minutes % 1440) / 60) });
}

/** The UTC instant of a wall-clock date and time in timezone `tz`. */
export function zonedToUtc(dateText, timeText, tz) {
  const [y, mo, d] = dateText.split("-").map(Number);
  const [hh, mm] = (timeText || "00:00").split(":").map(Number);
  const wanted = Date.UTC(y, mo - 1, d, hh, mm);
  let guess = wanted;
  for (let i = 0; i < 3; i += 1) {
    const p = partsIn(new Date(guess), tz);
    const shown = Date.UTC(p.year, p.month - 1, p.day, p.hour, p.minute);
    const diff = wanted - shown;
    if (diff === 0) break;
    guess += diff;
  }
  return new Date(guess);
}

/** "YYYY-MM-DD" of the calendar day `offsetDays` after today in `tz`. */
export function dateInZone(tz, offsetDays = 0, now = new Date()) {
  const p = partsIn(now, tz);
  const d = new Date(Date.UTC(p.year, p.month - 1, p.day + offsetDays));
  return d.toISOString().slice(0, 10);
}

/** Days from today (in tz) to the next given weekday (0 = Sunday); today counts if not past. */
export function daysUntilWeekday(tz, weekday, now = new Date()) {
  const today = partsIn(now, tz).weekday;
  const diff = (weekday - today + 7) % 7;
  return diff === 0 ? 7 : diff;
}

export function number(value, digits = 0) {
  if (value === null || value === undefined || Number.isNaN(Number(value))) return "—";
  return new Intl.NumberFormat(lang(), { maximumFractionDigits: digits }).format(Number(value));
}

export function percent(value) {
  if (value === null || value === undefined) return "—";
  return new Intl.NumberFormat(lang(), { style: "percent", maximumFractionDigits: 0 }).format(value);
}
