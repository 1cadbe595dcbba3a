// What an alert is about, in the reader's language: rendered from the finding's kind and
// params with the server's templates (GET /api/v1/texts, core/explain.py), so the console
// says what the SMS said. The detector's English explanation is the fallback.
import { get } from "./api.js";
import { clock, duration } from "./format.js";
import { DICTIONARIES, joinList, lang } from "./i18n.js";

let texts = null;
let loading = null;

/** Fetch the templates once; the console works (in English fallbacks) without them. */
export function loadTexts() {
  if (!loading) {
    loading = get("/texts").then((data) => { texts = data; }, () => { loading = null; });
  }
  return loading;
}

function table(name) {
  return (texts && texts[name] && texts[name][lang()]) || {};
}

function named(tableName, value) {
  return table(tableName)[value] || String(value).replace(/_/g, " ");
}

function value(name, params, tz) {
  if (name === "in_room") return params.room ? ` in the ${named("rooms", params.room)}` : "";
  if (!(name in params)) throw new Error(`missing ${name}`);
  const v = params[name];
  if (name === "room") return v ? named("rooms", v) : "";
  if (name === "device_type") return named("device_types", v);
  if (name === "channel") return named("channels", v);
  if (name === "recipient_role") return named("contact_roles", v);
  if (name === "roles") return joinList(v.map((r) => named("contact_roles", r)));
  if (name === "features") return features(params, tz);
  if (typeof v === "number" && name.endsWith("_at")) return clock(new Date(v * 1000), tz);
  if (typeof v === "number" && name.endsWith("_s")) return duration(v * 1000);
  return String(v);
}

function fill(template, params, tz) {
  return template.replace(/\{(\w+)\}/g, (_, name) => value(name, params, tz));
}

function features(params, tz) {
  const zh = lang() === "zh-CN";
  const parts = (params.features || []).map((feature) => {
    const template = table("routine_features")[feature];
    if (!template) throw new Error(`no feature ${feature}`);
    if (feature === "first_water") {
      const shift = params.first_water_shift_s;
      const amount = duration(Math.abs(shift) * 1000);
      const word = zh ? (shift > 0 ? `晚了 ${amount}` : `早了 ${amount}`) : `${amount} ${shift > 0 ? "later" : "earlier"}`;
      return template.replace("{shift}", word);
    }
    return fill(template, params, tz);
  });
  return parts.join(zh ? "；" : "; ");
}

/** A finding's sentence: (kind, params) rendered, else `fallback`. */
export function explainFinding(kind, params, tz, fallback, clears = false) {
  const templates = table("templates");
  const p = params || {};
  // As core/explain.py's template_key: a withdrawal reads the same whatever the kind.
  const key = p.variant === "withdrawn" ? "withdrawn"
    : clears ? `${kind}.cleared` : typeof p.variant === "string" ? `${kind}.${p.variant}` : kind;
  const template = templates[key] || (clears ? null : templates[kind]);
  if (!template) return fallback || "";
  try {
    const text = fill(template, p, tz);
    if (p.repeat === true) return lang() === "zh-CN" ? `仍无活动迹象：${text}` : `still no sign of activity: ${text}`;
    return text;
  } catch (_) {
    return fallback || "";
  }
}

/** The alert's explanation in the reader's language. */
export function explainAlert(alert) {
  return explainFinding(alert.kind, alert.params, alert.timezone, alert.explanation);
}

/** A short name of what the alert is about: the kind's, else the category's. */
export function kindLabel(kind, category) {
  const key = `kind.${kind}`;
  const dict = DICTIONARIES[lang()];
  if (dict[key]) return dict[key];
  return dict[`cat.${category}`] || String(kind || category || "").replace(/_/g, " ");
}

/** A person's display name from the alert's `names`, else the user name. */
export function personName(alert, username) {
  if (!username) return "";
  return (alert && alert.names && alert.names[username]) || username;
}
