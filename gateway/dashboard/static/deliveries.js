/* Views: the delivery log (live) and one delivery with its attempts and replays. */
import { clean, destName, destinations, get, go, post, state, toast } from "./api.js";
import { badge, bodyBlock, cardTable, debounce, fmtMs, h, kv, localInput, main, pageHead, pager, short, timeInput, toIso, trigger, when } from "./ui.js";
import { eraseButton } from "./ops.js";
// ---------------------------------------------------------------- views: delivery log
export const STATUSES = ["pending", "sending", "succeeded", "failed", "cancelled"];
export async function viewDeliveries(view, params) {
  const page = Number(params.page || 1);
  const pageSize = 25;
  const dsts = await destinations();
  const query = { status: params.status, destinationId: params.destinationId, isTest: params.isTest, since: params.since, until: params.until };
  const body = await get("/integrations/deliveries", { ...query, page, pageSize });
  main.append(pageHead("Deliveries", "Every event sent to every destination, newest first. Updates live.",
    h("button", { class: "btn", type: "button", onclick: () => exportCsv(query) }, "Export CSV")));
  const field = (id, label, control) => h("div", { class: "field" }, h("label", { for: id }, label), control);
  const select = (id, options, value) => h("select", { id, name: id }, options.map(([v, t]) => h("option", { value: v, selected: v === (value || "") }, t)));
  const form = h("form", { class: "panel filters", role: "search", "aria-label": "Filter deliveries", onsubmit: (e) => {
    e.preventDefault();
    const f = new FormData(form);
    try {
      go("deliveries", { status: f.get("status"), destinationId: f.get("destinationId"), isTest: f.get("isTest"), since: toIso(f.get("since")), until: toIso(f.get("until")) });
    } catch (err) { toast(err.message, { bad: true }); }
  } },
  field("status", "Status", select("status", [["", "Any status"], ...STATUSES.map((x) => [x, x])], params.status)),
  field("destinationId", "Destination", select("destinationId", [["", "All destinations"], ...[...dsts.values()].map((d) => [d.id, d.name || d.id])], params.destinationId)),
  field("isTest", "Kind", select("isTest", [["", "All"], ["false", "Events only"], ["true", "Test sends only"]], params.isTest)),
  field("since", "From (local time)", timeInput({ id: "since", name: "since", value: params.since ? localInput(new Date(params.since)) : "" })),
  field("until", "To (local time)", timeInput({ id: "until", name: "until", value: params.until ? localInput(new Date(params.until)) : "" })),
  h("div", { class: "actions" }, h("button", { class: "btn btn-primary", type: "submit" }, "Apply"),
    h("button", { class: "btn", type: "button", onclick: () => go("deliveries") }, "Reset")));
  main.append(form);
  const tbody = h("tbody", {}, body.items.length ? body.items.map(deliveryRow) : h("tr", {}, h("td", { colspan: 8, class: "empty" }, "No deliveries match these filters.")));
  main.append(h("section", { class: "panel flush", "aria-label": "Delivery log" },
    h("div", { class: "scroll" }, deliveryTable(tbody, "Delivery log")),
    pager(page, pageSize, body.total, (p) => go("deliveries", { ...params, page: p }))));
  const reload = debounce(() => { if (state.view === view) state.refresh(); }, 700);
  view.onChange = (change) => {
    const row = tbody.querySelector(`tr[data-id="${CSS.escape(change.deliveryId)}"]`);
    if (row) {
      row.querySelector(".status-cell").replaceChildren(badge(change.status));
      row.querySelector(".attempts-cell").textContent = change.attemptCount;
      row.classList.remove("flash"); void row.offsetWidth; row.classList.add("flash");
    } else if (page === 1 && change.status === "pending" && change.attemptCount === 0) {
      reload();
    }
  };
}
export function deliveryTable(tbody, caption) {
  return cardTable(h("table", {}, h("caption", { class: "visually-hidden" }, caption),
    h("thead", {}, h("tr", {}, ["Created", "Delivery", "Event", "Destination", "Status", "Attempts", "Response", "Trigger"].map((t, i) => h("th", { scope: "col", class: i === 5 ? "num" : null }, t)))),
    tbody));
}
export function deliveryRow(d) {
  return h("tr", { "data-id": d.id, "data-status": d.status },
    h("td", { class: "nowrap" }, when(d.createdAt)),
    h("td", {}, h("a", { href: `#/deliveries/${d.id}`, class: "mono", "aria-label": `Delivery ${d.id}, ${d.status}` }, short(d.id))),
    h("td", {}, h("a", { href: `#/events/${d.eventId}`, title: d.eventId }, d.eventType), d.isTest ? h("span", { class: "tag" }, "test") : null),
    h("td", {}, h("a", { href: `#/destinations/${d.destinationId}` }, destName(d.destinationId))),
    h("td", { class: "status-cell" }, badge(d.status)),
    h("td", { class: "num attempts-cell" }, d.attemptCount),
    h("td", { class: "truncate", title: d.lastError || "" }, d.lastStatusCode ? `HTTP ${d.lastStatusCode}` : d.lastError ? h("span", { class: "err" }, d.lastError) : "—"),
    h("td", {}, trigger(d.trigger), d.replayOf ? h("div", { class: "muted" }, "of ", h("a", { href: `#/deliveries/${d.replayOf}`, class: "mono" }, short(d.replayOf))) : null));
}
export async function exportCsv(query) {
  const res = await fetch(`/integrations/deliveries.csv?${new URLSearchParams(clean(query))}`, { headers: { "x-api-key": state.key } });
  if (!res.ok) { toast(`Export failed (${res.status})`, { bad: true }); return; }
  const blob = await res.blob();
  const url = URL.createObjectURL(blob);
  const name = (/filename="([^"]+)"/.exec(res.headers.get("content-disposition") || "") || [])[1] || "deliveries.csv";
  const a = h("a", { href: url, download: name });
  document.body.append(a);
  a.click();
  a.remove();
  setTimeout(() => URL.revokeObjectURL(url), 10000);
}

// ---------------------------------------------------------------- views: one delivery
export const SENSITIVE = /authorization|token|secret|password|cookie|api-?key/i;
export async function viewDelivery(view, id) {
  const d = await get(`/integrations/deliveries/${id}`, { includeAttempts: "true" });
  await destinations();
  const replayBtn = h("button", { class: "btn btn-primary", type: "button", id: "replay", onclick: async () => {
    replayBtn.disabled = true;
    try {
      const copy = await post(`/integrations/deliveries/${id}/replay`);
      toast("Replay created.", { link: h("a", { href: `#/deliveries/${copy.id}` }, short(copy.id)) });
      go(`deliveries/${copy.id}`);
    } catch (err) { if (err.status !== 401) toast(err.message, { bad: true }); replayBtn.disabled = false; }
  } }, "Replay");
  main.append(pageHead(["Delivery ", h("span", { class: "mono" }, short(d.id)), " ", h("span", { id: "delivery-status" }, badge(d.status))],
    `${d.eventType} to ${destName(d.destinationId)}`, [replayBtn, eraseButton(d.eventId, () => state.refresh())],
    [h("a", { href: "#/deliveries" }, "Deliveries"), " / ", h("span", { class: "mono" }, d.id)]));
  if (d.replayOf) {
    main.append(h("div", { class: "callout", role: "note", id: "replay-of" },
      h("span", {}, `This delivery is a ${d.trigger === "bulkReplay" ? "bulk " : ""}replay of `, h("a", { href: `#/deliveries/${d.replayOf}`, class: "mono" }, d.replayOf), "."),
      d.replayId ? h("span", { class: "muted mono" }, d.replayId) : null));
    main.lastChild.style.marginBottom = "20px";
  }
  main.append(h("section", { class: "panel", "aria-labelledby": "dlv-summary" }, h("h2", { id: "dlv-summary" }, "Summary"),
    kv([["Id", h("span", { class: "mono" }, d.id)], ["Status", badge(d.status)], ["Event", [h("a", { href: `#/events/${d.eventId}`, class: "mono", id: "event-link" }, d.eventId), ` · ${d.eventType}`]],
      ["Destination", [h("a", { href: `#/destinations/${d.destinationId}` }, destName(d.destinationId)), ` · ${d.connector}`]], ["Tenant", d.tenantId],
      ["Trigger", trigger(d.trigger)], ["Attempts", d.attemptCount],
      ["Next attempt", d.status === "pending" ? when(d.nextAttemptAt) : "—"], ["Created", when(d.createdAt)],
      ["Completed", when(d.completedAt)], ["Last error", d.lastError ? h("span", { class: "err" }, d.lastError) : "—"]])));
  const replays = await replaysOf(d);
  if (replays.length) {
    main.append(h("section", { class: "panel", "aria-labelledby": "dlv-replays", id: "replays-list" }, h("h2", { id: "dlv-replays" }, "Replays of this delivery"),
      h("ul", {}, replays.map((r) => h("li", {}, h("a", { href: `#/deliveries/${r.id}`, class: "mono" }, r.id), " ", badge(r.status), h("span", { class: "muted" }, ` ${trigger(r.trigger)} · `, when(r.createdAt)))))));
  }
  const attempts = h("section", { "aria-labelledby": "dlv-attempts" }, h("h2", { id: "dlv-attempts" }, `Attempts (${d.attempts.length})`));
  if (!d.attempts.length) attempts.append(h("p", { class: "panel muted" }, d.status === "pending" ? "No attempt yet: it is queued." : "No attempts."));
  for (const a of [...d.attempts].reverse()) attempts.append(attemptCard(a));
  main.append(attempts);
  const reload = debounce(() => { if (state.view === view) state.refresh(); }, 400);
  view.onChange = (change) => { if (change.deliveryId === id || change.replayOf === id) reload(); };
}
export async function replaysOf(d) {
  try {
    const event = await get(`/integrations/events/${d.eventId}`);
    return event.deliveries.filter((x) => x.replayOf === d.id);
  } catch (err) { return []; }
}
export function headersTable(headers) {
  const entries = Object.entries(headers || {});
  if (!entries.length) return h("p", { class: "muted" }, "none");
  return h("table", { class: "headers" }, h("tbody", {}, entries.map(([k, v]) => {
    const secret = SENSITIVE.test(k) && !/^(webhook-|x-gateway-)/i.test(k);
    return h("tr", {}, h("th", { scope: "row" }, k), h("td", {}, secret ? "[redacted]" : v));
  })));
}
export function attemptCard(a) {
  const ok = a.outcome === "success";
  return h("article", { class: "attempt", "aria-label": `Attempt ${a.number}` },
    h("header", {}, h("strong", {}, `Attempt ${a.number}`), badge(ok ? "succeeded" : "failed"),
      h("span", {}, a.statusCode ? `HTTP ${a.statusCode}` : a.errorClass || "no response"),
      h("span", { class: "muted" }, `${fmtMs(a.durationMs)} · `, when(a.startedAt))),
    h("div", { class: "body" },
      h("section", { class: "request", "aria-label": `Attempt ${a.number} request` }, h("h3", {}, "Request"), h("p", { class: "mono url" }, "POST ", a.requestUrl),
        h("div", { class: "scroll" }, headersTable(a.requestHeaders)),
        h("h3", { class: "spaced" }, "Body sent"), bodyBlock(a.requestBody, a.errorClass === "schema_mismatch" || a.errorClass === "render" ? "(nothing was sent)" : "(not kept)")),
      h("section", { class: "response", "aria-label": `Attempt ${a.number} response` }, h("h3", {}, "Response"),
        a.error ? h("p", { class: "err" }, a.error) : null,
        h("div", { class: "scroll" }, headersTable(a.responseHeaders)),
        h("h3", { class: "spaced" }, "Body received (first 4 KiB)"), bodyBlock(a.responseBody))));
}
