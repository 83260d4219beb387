/* person-gateway dashboard: a small single-page app over the JSON API, as ES modules (no build).
 *
 * The API key lives in sessionStorage; every call sends it as x-api-key. Live updates come from
 * the Server-Sent Events stream (EventSource cannot send headers, so it passes the key as apiKey;
 * the server strips it before logging). All data goes into the page as text nodes, never HTML.
 * This module: sign-in, the live stream, the hash router. Views live in their own modules.
 */
import { KEY, get, state } from "./api.js";
import "./circuit.js"; // registers the circuit badge (slots.js): a part other pages may add to
import "./ops.js"; // registers operational events (destination page) and erase (event page)
import { viewDeliveries, viewDelivery } from "./deliveries.js";
import { viewDestinationForm } from "./destination-form.js";
import { viewDestination, viewDestinations } from "./destinations.js";
import { viewEvent } from "./events.js";
import { viewReplays } from "./replays.js";
import { clear, h, main } from "./ui.js";

// ---------------------------------------------------------------- live stream
function connectStream() {
  if (state.stream) state.stream.close();
  const live = document.getElementById("live");
  const text = document.getElementById("live-text");
  const es = new EventSource(`/integrations/stream?apiKey=${encodeURIComponent(state.key)}`);
  es.addEventListener("open", () => { live.className = "live on"; text.textContent = "Live"; });
  es.addEventListener("error", () => { live.className = "live off"; text.textContent = "Reconnecting…"; });
  es.addEventListener("delivery", (e) => {
    const change = JSON.parse(e.data);
    if (state.view && state.view.onChange) state.view.onChange(change);
  });
  state.stream = es;
}

// ---------------------------------------------------------------- sign-in
function signOut(message) {
  sessionStorage.removeItem(KEY);
  state.key = null;
  state.destinations = null;
  state.me = null;
  if (state.stream) state.stream.close();
  state.stream = null;
  renderSignIn(message);
}
function renderSignIn(message) {
  document.getElementById("nav").hidden = true;
  document.getElementById("session").hidden = true;
  clear(main);
  const error = h("p", { class: "error", id: "signin-error", role: "alert" }, message || "");
  const input = h("input", { id: "api-key", name: "apiKey", type: "password", autocomplete: "off", required: true, "aria-describedby": "key-help" });
  const form = h("form", { class: "panel", "aria-labelledby": "signin-title", onsubmit: async (e) => {
    e.preventDefault();
    state.key = input.value.trim();
    try {
      await get("/integrations/destinations", { pageSize: 1 });
    } catch (err) {
      if (err.status !== 401) error.textContent = `Could not sign in: ${err.message}`;
      return;
    }
    sessionStorage.setItem(KEY, state.key);
    start();
  } },
  h("h1", { id: "signin-title" }, "Sign in"),
  h("p", { class: "muted", id: "key-help" }, "Use an API key of this gateway. It stays in this browser tab only and is sent with each request."),
  h("label", { for: "api-key" }, "API key"), input,
  error,
  h("button", { class: "btn btn-primary", type: "submit" }, "Sign in"));
  main.append(h("div", { class: "signin" }, form));
  input.focus();
}

// ---------------------------------------------------------------- router
function parseHash() {
  const raw = location.hash.replace(/^#\/?/, "");
  const [path, query] = raw.split("?");
  return { parts: path.split("/").filter(Boolean), params: Object.fromEntries(new URLSearchParams(query || "")) };
}
async function route(keepScroll = false) {
  if (!state.key) { renderSignIn(); return; }
  const { parts, params } = parseHash();
  const section = parts[0] || "destinations";
  for (const a of document.querySelectorAll("[data-nav]")) {
    if (a.dataset.nav === section) a.setAttribute("aria-current", "page"); else a.removeAttribute("aria-current");
  }
  if (state.view && state.view.dispose) state.view.dispose();
  state.view = null;
  clear(main);
  if (!keepScroll) window.scrollTo(0, 0);
  const view = { onChange: null, dispose: null };
  state.view = view;
  try {
    if (section === "destinations" && parts[1] === "new") await viewDestinationForm(view, null);
    else if (section === "destinations" && parts[2] === "edit") await viewDestinationForm(view, parts[1]);
    else if (section === "destinations" && parts[1]) await viewDestination(view, parts[1], params);
    else if (section === "destinations") await viewDestinations(view, params);
    else if (section === "deliveries" && parts[1]) await viewDelivery(view, parts[1]);
    else if (section === "deliveries") await viewDeliveries(view, params);
    else if (section === "events" && parts[1]) await viewEvent(view, parts[1]);
    else if (section === "replays") await viewReplays(view);
    else main.append(h("p", { class: "panel" }, "Page not found."));
  } catch (err) {
    if (err.status === 401) return;
    main.append(h("div", { class: "panel error", role: "alert" }, `Could not load this page: ${err.message}`));
  }
  document.title = `${(main.querySelector("h1") || {}).textContent || "Dashboard"} · Gateway`;
}


// ---------------------------------------------------------------- start
function start() {
  document.getElementById("nav").hidden = false;
  document.getElementById("session").hidden = false;
  document.getElementById("who").textContent = `key …${state.key.slice(-4)}`;
  connectStream();
  if (!location.hash || location.hash === "#" || location.hash === "#/") location.hash = "#/destinations";
  else route();
}
document.getElementById("signout").addEventListener("click", () => signOut());
window.addEventListener("hashchange", () => route());
state.refresh = () => route(true);
state.onUnauthorized = (message) => signOut(message);
if (state.key) start(); else renderSignIn();
