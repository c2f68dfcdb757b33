// Small helpers: building DOM safely, calling the platform's APIs.

/** An element with attributes (on* as listeners) and children (strings become text). */
export function h(tag, attrs = {}, ...children) {
  const el = document.createElement(tag);
  for (const [key, value] of Object.entries(attrs || {})) {
    if (value === null || value === undefined || value === false) continue;
    if (key.startsWith("on") && typeof value === "function") el.addEventListener(key.slice(2), value);
    else if (key === "class") el.className = value;
    else if (key === "dataset") Object.assign(el.dataset, value);
    else el.setAttribute(key, value === true ? "" : String(value));
  }
  for (const child of children.flat(Infinity)) {
    if (child === null || child === undefined || child === false) continue;
    el.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return el;
}

/** The tenant's prefix: "" for the default tenant at /, "/t/name" at /t/name/. */
export const BASE = location.pathname.replace(/\/+$/, "");

/** A failed API call; ``body`` is the platform's JSON error ({code, message, …}). */
export class ApiError extends Error {
  constructor(message, body = null, status = 0) { super(message); this.body = body; this.status = status; }
}

const KEY_ITEM = "quartier.apiKey";

/** The API key this browser tab sends (kept in sessionStorage: gone with the tab). */
export function apiKey() { return sessionStorage.getItem(KEY_ITEM) || ""; }

export function setApiKey(key) {
  if (key) sessionStorage.setItem(KEY_ITEM, key);
  else sessionStorage.removeItem(KEY_ITEM);
}

let csrfToken = "";

/** The CSRF token of the logged-in session (from GET /api/session), sent on every write
 * that the session cookie authenticates. */
export function setCsrfToken(token) { csrfToken = token || ""; }

export async function getJson(path, options = {}) {
  const key = apiKey();
  const writes = !["GET", "HEAD"].includes((options.method || "GET").toUpperCase());
  const response = await fetch(path.startsWith("http") ? path : BASE + path, {
    credentials: "same-origin",
    ...options,
    headers: {
      Accept: "application/json",
      ...(options.body ? { "Content-Type": "application/json" } : {}),
      ...(writes && !key && csrfToken ? { "X-CSRF-Token": csrfToken } : {}),
      ...(options.headers || {}),
      ...(key ? { Authorization: `Bearer ${key}` } : {}),
    },
  });
  const body = response.status === 204 ? null : await response.json().catch(() => null);
  if (!response.ok) throw new ApiError(body?.message || `${response.status} ${response.statusText}`, body, response.status);
  return body;
}

/** Every write of the dashboard (POST, PUT, PATCH, DELETE) goes through here, so that how
 * a write is authorised is decided in this one place. */
export function sendJson(method, path, body = undefined) {
  return getJson(path, { method, ...(body === undefined ? {} : { body: JSON.stringify(body) }) });
}

export function postJson(path, body) {
  return sendJson("POST", path, body);
}

/** Every entity of a SensorThings collection, following nextLinks. */
export async function all(path) {
  let page = await getJson(path);
  const out = [...page.value];
  while (page["@iot.nextLink"]) {
    page = await getJson(page["@iot.nextLink"]);
    out.push(...page.value);
  }
  return out;
}

export function announce(text) {
  const el = document.getElementById("announcer");
  el.textContent = "";
  setTimeout(() => { el.textContent = text; }, 50);
}

export const SEVERITIES = ["minor", "moderate", "severe", "extreme"];

/** The time of a phenomenonTime (an instant, or the end of an interval). */
export function timeOf(phenomenonTime) {
  return phenomenonTime ? String(phenomenonTime).split("/").pop() : null;
}

/** The browser's time zone, e.g. "Europe/Berlin". */
export function timeZone() { return Intl.DateTimeFormat().resolvedOptions().timeZone || "UTC"; }

/** A date as YYYY-MM-DD in the browser's time zone (today when none is given). */
export function localDate(date = new Date()) {
  return `${date.getFullYear()}-${String(date.getMonth() + 1).padStart(2, "0")}-${String(date.getDate()).padStart(2, "0")}`;
}
