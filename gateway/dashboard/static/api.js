/* The JSON API (x-api-key from sessionStorage), shared state, toasts and dialogs. */
import { append, clear, h, short } from "./ui.js";

export const KEY = "gateway.apiKey";
export const state = {
  key: sessionStorage.getItem(KEY),
  stream: null,
  view: null, // the page on screen: { onChange(change), dispose() }
  destinations: null, // id -> destination, for names and filters
  me: null, // GET /hooks/me: {tenantId, keyId, name}
  eventTypes: null, // the catalog, for the destination form
  refresh: () => {}, // re-render the current page (set by app.js)
  onUnauthorized: () => {}, // back to sign-in (set by app.js)
};

// ---------------------------------------------------------------- API
// An error answer: ``code`` and ``details`` ([{path, message}]) as the API gives them.
export class ApiError extends Error {
  constructor(message, status, error) {
    super(message);
    this.status = status;
    this.code = (error && error.code) || null;
    this.details = (error && error.details) || [];
  }
}
export async function api(method, path, body) {
  const headers = { "x-api-key": state.key };
  if (body !== undefined) headers["content-type"] = "application/json";
  const res = await fetch(path, { method, headers, body: body === undefined ? undefined : JSON.stringify(body) });
  if (res.status === 401) {
    state.onUnauthorized("The key was refused. Sign in again.");
    throw new ApiError("unauthorized", 401);
  }
  const data = res.status === 204 ? null : await res.json().catch(() => null);
  if (!res.ok) throw new ApiError((data && data.error && data.error.message) || res.statusText, res.status, data && data.error);
  return data;
}
export const get = (path, params) => api("GET", params ? `${path}?${new URLSearchParams(clean(params))}` : path);
export const post = (path, body) => api("POST", path, body === undefined ? {} : body);
export const patch = (path, body) => api("PATCH", path, body);
export const del = (path) => api("DELETE", path);
export function clean(params) {
  const out = {};
  for (const [k, v] of Object.entries(params)) if (v !== "" && v !== null && v !== undefined) out[k] = v;
  return out;
}

export async function destinations(force) {
  if (state.destinations && !force) return state.destinations;
  const all = [];
  for (let page = 1; page <= 10; page += 1) {
    const body = await get("/integrations/destinations", { page, pageSize: 100 });
    all.push(...body.items);
    if (all.length >= body.total || body.items.length === 0) break;
  }
  state.destinations = new Map(all.map((d) => [d.id, d]));
  return state.destinations;
}
// The key's own identity ({tenantId: null} for an admin key), asked once per sign-in.
export async function me() {
  if (!state.me) state.me = await get("/hooks/me");
  return state.me;
}
export async function eventTypes() {
  if (!state.eventTypes) state.eventTypes = (await get("/integrations/event-types")).items;
  return state.eventTypes;
}
export const destName = (id) => (state.destinations && state.destinations.get(id) ? state.destinations.get(id).name || short(id) : short(id));

// ---------------------------------------------------------------- toasts and dialogs
export function toast(message, { bad = false, link = null } = {}) {
  const el = h("div", { class: `toast${bad ? " bad" : ""}` }, message, link ? [" ", link] : null);
  document.getElementById("toasts").append(el);
  setTimeout(() => el.remove(), 6000);
}
export function dialog(title, body, { confirm = null } = {}) {
  const dlg = document.getElementById("dialog");
  document.getElementById("dialog-title").textContent = title;
  const holder = document.getElementById("dialog-body");
  clear(holder);
  append(holder, [body]);
  const actions = dlg.querySelector(".actions");
  clear(actions);
  return new Promise((resolve) => {
    if (confirm) {
      actions.append(h("button", { class: "btn", value: "cancel" }, "Cancel"),
        h("button", { class: "btn btn-primary", value: "ok" }, confirm));
    } else {
      actions.append(h("button", { class: "btn btn-primary", value: "close" }, "Close"));
    }
    dlg.addEventListener("close", () => resolve(dlg.returnValue === "ok"), { once: true });
    dlg.returnValue = "";
    dlg.showModal();
  });
}
export function go(path, params) {
  const q = params ? new URLSearchParams(clean(params)).toString() : "";
  location.hash = `#/${path}${q ? `?${q}` : ""}`;
}
