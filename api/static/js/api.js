// The API client: cookie auth, the CSRF token on every write, JSON errors as ApiError.
import { lang } from "./i18n.js";

const BASE = "/api/v1";
let csrfToken = null;
let onSignedOut = null;

export class ApiError extends Error {
  constructor(status, code, message, field, retryAfterS) {
    super(message);
    this.status = status;
    this.code = code;
    this.field = field ?? null;
    this.retryAfterS = retryAfterS ?? null;
  }
}

export function setCsrfToken(token) {
  csrfToken = token || null;
}

/** Called when a request answers 401 while the console thinks it is signed in. */
export function whenSignedOut(callback) {
  onSignedOut = callback;
}

export async function request(method, path, body) {
  const headers = { Accept: "application/json", "Accept-Language": lang() };
  if (body !== undefined) headers["Content-Type"] = "application/json";
  if (method !== "GET" && method !== "HEAD" && csrfToken) headers["X-CSRF-Token"] = csrfToken;
  let response;
  try {
    response = await fetch(BASE + path, {
      method,
      headers,
      credentials: "same-origin",
      body: body === undefined ? undefined : JSON.stringify(body),
    });
  } catch (error) {
    throw new ApiError(0, "network", error.message || "network error");
  }
  if (response.status === 204) return null;
  let data = null;
  const type = response.headers.get("Content-Type") || "";
  if (type.includes("json")) {
    try {
      data = await response.json();
    } catch (_) {
      data = null;
    }
  }
  if (!response.ok) {
    const detail = (data && data.error) || {};
    const error = new ApiError(
      response.status,
      detail.code || "http_" + response.status,
      detail.message || response.statusText || String(response.status),
      detail.field,
      Number(response.headers.get("Retry-After")) || null,
    );
    if (response.status === 401 && !path.startsWith("/auth/") && onSignedOut) onSignedOut(error);
    throw error;
  }
  return data;
}

export const get = (path) => request("GET", path);
export const post = (path, body = {}) => request("POST", path, body);
export const put = (path, body = {}) => request("PUT", path, body);
export const del = (path) => request("DELETE", path);

export function query(params) {
  const pairs = Object.entries(params).filter(([, v]) => v !== undefined && v !== null && v !== "");
  if (!pairs.length) return "";
  return "?" + pairs.map(([k, v]) => `${encodeURIComponent(k)}=${encodeURIComponent(v)}`).join("&");
}

export const enc = encodeURIComponent;
