/* Views: the destinations list and one destination (with its plots). */
import { dialog, get, go, post, state, toast } from "./api.js";
import { lineChart } from "./chart.js";
import { operationalEventsPanel } from "./ops.js";
import { ago, badge, debounce, fmtInt, fmtMs, fmtRate, fmtTime, h, kv, main, pageHead, pager, stat } from "./ui.js";
// ---------------------------------------------------------------- destination actions
export async function sendTest(dst) {
  const delivery = await post(`/integrations/destinations/${dst.id}/test`);
  toast(`Test sent to ${dst.name || dst.id}.`, { link: h("a", { href: `#/deliveries/${delivery.id}` }, "View delivery") });
  return delivery;
}
export async function toggle(dst) {
  const action = dst.status === "active" ? "disable" : "enable";
  const updated = await post(`/integrations/destinations/${dst.id}/${action}`);
  toast(`${dst.name || dst.id} is now ${updated.status}.`);
  state.destinations = null;
  return updated;
}
export async function rotate(dst) {
  const ok = await dialog("Rotate signing secret?",
    h("p", {}, `A new secret will sign deliveries to ${dst.name || dst.id}. The current one keeps signing beside it for 24 hours, so consumers can switch without losing deliveries.`),
    { confirm: "Rotate secret" });
  if (!ok) return;
  const updated = await post(`/integrations/destinations/${dst.id}/rotate-secret`);
  const field = h("input", { id: "new-secret", readonly: true, value: updated.secret, "aria-label": "New secret" });
  await dialog("New signing secret", [
    h("p", {}, "Copy it now: it is shown once."),
    h("div", { class: "secret" }, field,
      h("button", { class: "btn", type: "button", onclick: () => { field.select(); navigator.clipboard && navigator.clipboard.writeText(updated.secret); toast("Secret copied."); } }, "Copy")),
  ]);
}
export function destinationActions(dst, refresh) {
  const guard = (fn) => async (e) => {
    const btn = e.currentTarget;
    btn.disabled = true;
    try { await fn(dst); await refresh(); } catch (err) { if (err.status !== 401) toast(err.message, { bad: true }); } finally { btn.disabled = false; }
  };
  const label = dst.name || dst.id;
  return [
    h("button", { class: "btn btn-small", type: "button", "aria-label": `Send a test to ${label}`, "data-action": "test", onclick: guard(sendTest) }, "Send test"),
    h("button", { class: `btn btn-small${dst.status === "active" ? " btn-danger" : ""}`, type: "button", "aria-label": `${dst.status === "active" ? "Disable" : "Enable"} ${label}`, "data-action": "toggle", onclick: guard(toggle) }, dst.status === "active" ? "Disable" : "Enable"),
    h("button", { class: "btn btn-small", type: "button", "aria-label": `Rotate the secret of ${label}`, "data-action": "rotate", onclick: guard(rotate) }, "Rotate secret"),
  ];
}
export function rateCell(summary) {
  if (!summary || !summary.attempts) return h("span", { class: "muted" }, "no attempts");
  const pct = Math.round((summary.successRate || 0) * 100);
  return h("span", { class: "rate" },
    h("span", { class: "bar", role: "img", "aria-label": `${pct}% of attempts succeeded` }, h("span", { style: `width:${pct}%` })),
    h("span", {}, fmtRate(summary.successRate)), h("span", { class: "muted" }, `of ${fmtInt(summary.attempts)}`));
}

// ---------------------------------------------------------------- views: destinations
export async function viewDestinations(view, params) {
  const page = Number(params.page || 1);
  const body = await get("/integrations/destinations", { page, pageSize: 20 });
  const ids = body.items.map((d) => d.id);
  const summaries = ids.length ? (await get("/integrations/stats/destinations", { ids: ids.join(",") })).items : [];
  const byId = new Map(summaries.map((x) => [x.destinationId, x]));
  const refresh = () => state.refresh();
  main.append(pageHead("Destinations", "Where events go. Success rate, latency and errors over the last 24 hours."));
  const rows = body.items.map((d) => {
    const sm = byId.get(d.id);
    return h("tr", { "data-id": d.id },
      h("td", {}, h("a", { href: `#/destinations/${d.id}` }, d.name || d.id),
        h("div", { class: "muted truncate", title: d.url }, `${d.connector} · `, h("span", { class: "mono" }, d.url))),
      h("td", {}, badge(d.status), d.disabledReason ? h("div", { class: "muted truncate", title: d.disabledReason }, d.disabledReason) : null),
      h("td", {}, rateCell(sm)),
      h("td", { class: "num" }, fmtMs(sm && sm.latencyMsAvg)),
      h("td", {}, sm && sm.lastError
        ? [h("div", { class: "truncate err", title: sm.lastError }, sm.lastError), h("div", { class: "muted" }, ago(sm.lastErrorAt))]
        : h("span", { class: "muted" }, "—")),
      h("td", {}, h("div", { class: "actions" }, destinationActions(d, refresh))));
  });
  const table = h("table", {},
    h("caption", { class: "visually-hidden" }, "Destinations"),
    h("thead", {}, h("tr", {}, ["Destination", "Status", "Success (24 h)", "Avg latency", "Last error", "Actions"].map((t, i) => h("th", { scope: "col", class: i === 3 ? "num" : null }, t)))),
    h("tbody", {}, rows.length ? rows : h("tr", {}, h("td", { colspan: 6, class: "empty" }, "No destinations yet. Create one with POST /integrations/destinations."))));
  main.append(h("section", { class: "panel flush", "aria-label": "Destinations" }, table,
    pager(page, 20, body.total, (p) => go("destinations", { page: p }))));
  view.onChange = debounce(async () => {
    if (!ids.length || state.view !== view) return;
    const fresh = await get("/integrations/stats/destinations", { ids: ids.join(",") });
    for (const sm of fresh.items) {
      const row = main.querySelector(`tr[data-id="${CSS.escape(sm.destinationId)}"]`);
      if (!row) continue;
      const cells = row.children;
      cells[2].replaceChildren(rateCell(sm));
      cells[3].textContent = fmtMs(sm.latencyMsAvg);
    }
  }, 1500);
}

// ---------------------------------------------------------------- views: one destination
export const WINDOWS = [["1h", "1 h", 3600], ["24h", "24 h", 86400], ["7d", "7 d", 7 * 86400]];
export async function viewDestination(view, id, params) {
  const dst = await get(`/integrations/destinations/${id}`);
  const windowKey = params.window || "24h";
  const [, , seconds] = WINDOWS.find((w) => w[0] === windowKey) || WINDOWS[1];
  const since = new Date(Date.now() - seconds * 1000).toISOString();
  const stats = await get(`/integrations/destinations/${id}/stats`, { since });
  const sm = stats.summary;
  const refresh = () => state.refresh();
  main.append(pageHead([dst.name || dst.id, " ", badge(dst.status)], h("span", { class: "mono" }, dst.url),
    [...destinationActions(dst, refresh), h("a", { class: "btn btn-small", href: `#/deliveries?destinationId=${dst.id}` }, "View deliveries")],
    [h("a", { href: "#/destinations" }, "Destinations"), " / ", dst.name || dst.id]));
  if (dst.status === "disabled") {
    main.append(h("div", { class: "panel", role: "note" }, h("strong", {}, "Disabled: "), dst.disabledReason || "by an operator",
      h("span", { class: "muted" }, " · deliveries are held and sent, oldest first, when it is enabled again.")));
  }
  const seg = h("div", { class: "seg", role: "group", "aria-label": "Time window" },
    WINDOWS.map(([key, label]) => h("button", { type: "button", "aria-pressed": key === windowKey ? "true" : "false", onclick: () => go(`destinations/${id}`, { window: key }) }, label)));
  main.append(h("div", { class: "stat-row", style: "margin-bottom:20px" },
    stat("Attempts", fmtInt(sm.attempts)), stat("Success rate", fmtRate(sm.successRate)),
    stat("Avg latency", fmtMs(sm.latencyMsAvg)), stat("Last error", sm.lastError ? ago(sm.lastErrorAt) : "none", sm.lastError)));
  main.append(h("div", { class: "page-head" }, h("h2", {}, `Last ${WINDOWS.find((w) => w[0] === windowKey)[1]}`), seg));
  const range = { since: new Date(stats.since), until: new Date(stats.until), bucket: stats.bucketSeconds };
  main.append(h("div", { class: "grid2" },
    h("section", { class: "panel chart", "aria-labelledby": "chart-rate" }, h("h2", { id: "chart-rate" }, "Success rate"),
      lineChart(stats.series, range, {
        label: "Success rate per interval", yMax: 100, yFmt: (v) => `${Math.round(v)}%`,
        lines: [{ key: (p) => (p.successRate === null ? null : p.successRate * 100), label: "success rate", color: "#1a7f45" }],
        bars: { key: (p) => p.attempts, label: "attempts" },
      })),
    h("section", { class: "panel chart", "aria-labelledby": "chart-latency" }, h("h2", { id: "chart-latency" }, "Latency"),
      lineChart(stats.series, range, {
        label: "Attempt latency per interval", yFmt: (v) => fmtMs(v),
        lines: [{ key: (p) => p.latencyMsAvg, label: "mean", color: "#3056d3" }, { key: (p) => p.latencyMsMax, label: "max", color: "#d97706", dash: "4 3" }],
      }))));
  main.append(h("section", { class: "panel", "aria-labelledby": "dst-details", style: "margin-top:20px" }, h("h2", { id: "dst-details" }, "Configuration"),
    kv([["Id", h("span", { class: "mono" }, dst.id)], ["Tenant", dst.tenantId], ["Connector", dst.connector], ["URL", h("span", { class: "mono" }, dst.url)],
      ["Event types", dst.eventTypes.join(", ")], ["Signing", dst.signing], ["Retry schedule", !dst.retrySchedule ? "default (5 s … 10 h, 8 attempts)" : dst.retrySchedule.length ? dst.retrySchedule.map((x) => `${x} s`).join(", ") : "none: one attempt only"],
      ["Timeout", `${dst.timeoutSeconds} s`], ["Rate limit", dst.rateLimitPerSecond ? `${dst.rateLimitPerSecond}/s` : "connector default"],
      ["Ordered", dst.ordered ? "yes" : "no"], ["Created", fmtTime(dst.createdAt)], ["Version", dst.version]])));
  main.append(operationalEventsPanel(id));
  view.onChange = debounce((change) => { if (change.destinationId === id && state.view === view) refreshStats(); }, 3000);
  async function refreshStats() { if (!document.querySelector("dialog[open]")) state.refresh(); }
}
