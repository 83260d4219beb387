/* DOM building and formatting helpers: every value goes in as text, never as HTML. */

export const main = document.getElementById("main");
// ---------------------------------------------------------------- DOM helpers
export function h(tag, attrs, ...children) {
  const el = document.createElement(tag);
  setAttrs(el, attrs);
  append(el, children);
  return el;
}
const SVG = "http://www.w3.org/2000/svg";
export function s(tag, attrs, ...children) {
  const el = document.createElementNS(SVG, tag);
  setAttrs(el, attrs);
  append(el, children);
  return el;
}
export function setAttrs(el, attrs) {
  for (const [name, value] of Object.entries(attrs || {})) {
    if (value === null || value === undefined || value === false) continue;
    if (name.startsWith("on")) el.addEventListener(name.slice(2), value);
    else if (name === "text") el.textContent = value;
    else if (name === "style") el.style.cssText = value; // CSSOM: allowed by the strict CSP
    else el.setAttribute(name, value === true ? "" : String(value));
  }
}
export function append(el, children) {
  for (const child of children.flat(Infinity)) {
    if (child === null || child === undefined || child === false) continue;
    el.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
}
export function clear(el) { while (el.firstChild) el.removeChild(el.firstChild); }

// ---------------------------------------------------------------- formatting
// One date format everywhere: local time as YYYY-MM-DD HH:MM:SS; the UTC time on hover.
export const pad = (n) => String(n).padStart(2, "0");
export function fmtTime(iso) {
  if (!iso) return "—";
  const d = new Date(iso);
  return `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())} ${pad(d.getHours())}:${pad(d.getMinutes())}:${pad(d.getSeconds())}`;
}
export function fmtUtc(iso) {
  const d = new Date(iso);
  return `${d.getUTCFullYear()}-${pad(d.getUTCMonth() + 1)}-${pad(d.getUTCDate())} ${pad(d.getUTCHours())}:${pad(d.getUTCMinutes())}:${pad(d.getUTCSeconds())} UTC`;
}
// A <time> element: what every page shows for a moment (the relative age goes on hover too).
export function when(iso) {
  if (!iso) return "—";
  return h("time", { datetime: iso, title: `${fmtUtc(iso)} · ${ago(iso)}` }, fmtTime(iso));
}
export function ago(iso) {
  if (!iso) return "";
  const sec = Math.round((Date.now() - new Date(iso).getTime()) / 1000);
  if (sec < 5) return "just now";
  if (sec < 60) return `${sec} s ago`;
  if (sec < 3600) return `${Math.round(sec / 60)} min ago`;
  if (sec < 86400) return `${Math.round(sec / 3600)} h ago`;
  return `${Math.round(sec / 86400)} d ago`;
}
export const fmtInt = (n) => Number(n || 0).toLocaleString("en-US");
export const fmtMs = (ms) => (ms === null || ms === undefined ? "—" : ms >= 1000 ? `${(ms / 1000).toFixed(2)} s` : `${Math.round(ms)} ms`);
export const fmtRate = (r) => (r === null || r === undefined ? "—" : `${(r * 100).toFixed(r === 1 ? 0 : 1)}%`);
// Ids start with their time, so the tail tells them apart: dlv_01M8…YWEM4 → dlv_…Z65BYWEM4.
export const short = (id) => (id && id.length > 16 ? `${id.slice(0, id.indexOf("_") + 1)}…${id.slice(-8)}` : id || "");
export const TRIGGERS = { event: "event", replay: "replay", bulkReplay: "bulk replay", test: "test send" };
export const trigger = (t) => TRIGGERS[t] || t;
// Time fields are text in the same format as every date on the page (a native datetime-local
// input would show the browser's locale format instead): "YYYY-MM-DD HH:MM", local time.
export function localInput(date) {
  return `${date.getFullYear()}-${pad(date.getMonth() + 1)}-${pad(date.getDate())} ${pad(date.getHours())}:${pad(date.getMinutes())}`;
}
export function toIso(local) {
  const text = String(local || "").trim();
  if (!text) return "";
  const m = /^(\d{4})-(\d{2})-(\d{2})(?:[ T](\d{2}):(\d{2})(?::(\d{2}))?)?$/.exec(text);
  const d = m ? new Date(+m[1], +m[2] - 1, +m[3], +(m[4] || 0), +(m[5] || 0), +(m[6] || 0)) : null;
  if (!d || Number.isNaN(d.getTime()) || d.getMonth() !== +m[2] - 1) throw new Error(`"${text}" is not a time like ${localInput(new Date())}`);
  return d.toISOString();
}
export function timeInput(attrs) {
  return h("input", { type: "text", inputmode: "numeric", autocomplete: "off", placeholder: "YYYY-MM-DD HH:MM", spellcheck: "false", class: "time-input", ...attrs });
}

export function badge(status, extraClass) {
  return h("span", { class: `badge s-${extraClass || status}` }, status);
}

// ---------------------------------------------------------------- page parts
export function debounce(fn, ms) {
  let timer = null;
  return (...args) => { clearTimeout(timer); timer = setTimeout(() => fn(...args), ms); };
}
export function pageHead(title, subtitle, actions, crumbs) {
  return h("div", { class: "page-head" },
    h("div", {}, crumbs ? h("div", { class: "crumbs" }, crumbs) : null, h("h1", {}, title), subtitle ? h("p", { class: "muted" }, subtitle) : null),
    actions ? h("div", { class: "actions" }, actions) : null);
}
export function pager(page, pageSize, total, onPage) {
  const first = total === 0 ? 0 : (page - 1) * pageSize + 1;
  const last = Math.min(total, page * pageSize);
  return h("nav", { class: "pager", "aria-label": "Pagination" },
    h("span", {}, `${fmtInt(first)}–${fmtInt(last)} of ${fmtInt(total)}`),
    h("span", { class: "actions" },
      h("button", { class: "btn btn-small", type: "button", disabled: page <= 1, onclick: () => onPage(page - 1) }, "← Previous"),
      h("button", { class: "btn btn-small", type: "button", disabled: last >= total, onclick: () => onPage(page + 1) }, "Next →")));
}
export function stat(label, value, title, extra) {
  return h("div", { class: "stat" }, h("div", { class: "label" }, label), h("div", { class: "value truncate", title: title || null }, value), extra || null);
}
// A body as text: pretty-printed JSON when it parses, else as it is ("[redacted]" stays as sent).
export function bodyBlock(text, emptyText) {
  if (text === null || text === undefined || text === "") return h("p", { class: "muted" }, emptyText || "(empty)");
  let shown = text;
  try { shown = JSON.stringify(JSON.parse(text), null, 2); } catch (err) { /* not JSON: show the text */ }
  return h("pre", { class: "body-text" }, shown);
}
export function copyButton(getText, label) {
  return h("button", { class: "btn", type: "button", onclick: async (e) => {
    const text = getText();
    const btn = e.currentTarget;
    try {
      await navigator.clipboard.writeText(text);
      btn.textContent = "Copied";
    } catch (err) {
      btn.textContent = "Select and copy (Ctrl+C)"; // no clipboard access (an http origin): the field is selected
    }
    const field = btn.parentElement && btn.parentElement.querySelector("input, textarea");
    if (field) field.select();
  } }, label || "Copy");
}
// Below 600 px a table with class "cards" shows each row as a card: each cell labelled by its
// column's heading (the headings' text goes into data-label, which the CSS shows).
export function cardTable(table) {
  table.classList.add("cards");
  const labels = [...table.querySelectorAll("thead th")].map((th) => th.dataset.short || th.textContent);
  for (const row of table.querySelectorAll("tbody tr")) labelRow(row, labels);
  table.labels = labels;
  return table;
}
export function labelRow(row, labels) {
  [...row.children].forEach((td, i) => { if (!td.hasAttribute("colspan") && labels[i]) td.dataset.label = labels[i]; });
  return row;
}
export function kv(pairs) {
  return h("dl", { class: "kv" }, pairs.map(([k, v]) => [h("dt", {}, k), h("dd", {}, v === null || v === undefined || v === "" ? "—" : v)]));
}

// A line chart (with optional bars on a second scale) as inline SVG, plus its data as a table.
