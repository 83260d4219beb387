/* Views: the destinations list and one destination (its plots, configuration, bulk replay). */
import { del, destinations, dialog, get, go, post, state, toast } from "./api.js";
import { barChart, countFmt, plainTick } from "./chart.js";
import { followJob, replayForm } from "./replays.js";
import { showSecret } from "./secret.js";
import { destinationBadges, destinationSections, fill, fillNow } from "./slots.js";
import { badge, cardTable, debounce, fmtInt, fmtMs, fmtRate, h, kv, main, pageHead, pager, stat, when } from "./ui.js";
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
  await showSecret("New signing secret", updated);
}
export async function remove(dst) {
  const ok = await dialog(`Delete ${dst.name || dst.id}?`,
    [h("p", {}, "It stops receiving events at once. Deliveries still waiting for it are cancelled; its delivery log stays."),
      dst.isSubscription ? h("p", {}, "It is a platform subscription: the platform may subscribe again on its own.") : null],
    { confirm: "Delete destination" });
  if (!ok) return false;
  await del(`/integrations/destinations/${dst.id}`);
  state.destinations = null;
  toast(`Deleted ${dst.name || dst.id}.`);
  return true;
}
function guarded(dst, fn, after) {
  return async (e) => {
    const btn = e.currentTarget;
    btn.disabled = true;
    try { const result = await fn(dst); await after(result); } catch (err) { if (err.status !== 401) toast(err.message, { bad: true }); } finally { btn.disabled = false; }
  };
}
export function destinationActions(dst, refresh) {
  const label = dst.name || dst.id;
  return [
    h("button", { class: "btn btn-small", type: "button", "aria-label": `Send a test to ${label}`, "data-action": "test", onclick: guarded(dst, sendTest, refresh) }, "Send test"),
    h("a", { class: "btn btn-small", href: `#/destinations/${dst.id}/edit`, "aria-label": `Edit ${label}`, "data-action": "edit" }, "Edit"),
    h("button", { class: `btn btn-small${dst.status === "active" ? " btn-danger" : ""}`, type: "button", "aria-label": `${dst.status === "active" ? "Disable" : "Enable"} ${label}`, "data-action": "toggle", onclick: guarded(dst, toggle, refresh) }, dst.status === "active" ? "Disable" : "Enable"),
    h("button", { class: "btn btn-small", type: "button", "aria-label": `Rotate the secret of ${label}`, "data-action": "rotate", onclick: guarded(dst, rotate, refresh) }, "Rotate secret"),
  ];
}
export function rateCell(summary) {
  if (!summary || !summary.attempts) return h("span", { class: "muted" }, "no attempts");
  const pct = Math.round((summary.successRate || 0) * 100);
  return h("span", { class: "rate" },
    h("span", { class: "bar", role: "img", "aria-label": `${pct}% of attempts succeeded` }, h("span", { style: `width:${pct}%` })),
    h("span", {}, fmtRate(summary.successRate)), h("span", { class: "muted" }, `of ${fmtInt(summary.attempts)}`));
}
function lastErrorCell(sm) {
  if (!sm || !sm.lastError) return h("span", { class: "muted" }, "—");
  return [h("div", { class: "truncate err", title: sm.lastError }, sm.lastError), h("div", { class: "muted" }, when(sm.lastErrorAt))];
}

// ---------------------------------------------------------------- views: destinations
export async function viewDestinations(view, params) {
  const page = Number(params.page || 1);
  const body = await get("/integrations/destinations", { page, pageSize: 20 });
  if (!state.destinations) await destinations();
  const ids = body.items.map((d) => d.id);
  const summaries = ids.length ? (await get("/integrations/stats/destinations", { ids: ids.join(",") })).items : [];
  const byId = new Map(summaries.map((x) => [x.destinationId, x]));
  const refresh = () => state.refresh();
  main.append(pageHead("Destinations", "Where events go. Success rate, latency and errors over the last 24 hours.",
    h("a", { class: "btn btn-primary", href: "#/destinations/new" }, "New destination")));
  const rows = body.items.map((d) => {
    const sm = byId.get(d.id);
    return h("tr", { "data-id": d.id },
      h("td", {}, h("a", { href: `#/destinations/${d.id}` }, d.name || d.id),
        h("div", { class: "muted truncate", title: d.url }, `${d.connector} · `, h("span", { class: "mono" }, d.url))),
      h("td", {}, h("div", { class: "badges" }, badge(d.status), fillNow(destinationBadges, d, view)), d.disabledReason ? h("div", { class: "muted truncate", title: d.disabledReason }, d.disabledReason) : null),
      h("td", {}, rateCell(sm)),
      h("td", { class: "num" }, fmtMs(sm && sm.latencyMsAvg)),
      h("td", {}, lastErrorCell(sm)),
      h("td", {}, h("div", { class: "actions" }, destinationActions(d, refresh))));
  });
  const table = h("table", {},
    h("caption", { class: "visually-hidden" }, "Destinations"),
    h("thead", {}, h("tr", {}, ["Destination", "Status", "Success (24 h)", "Avg latency", "Last error", "Actions"].map((t, i) => h("th", { scope: "col", class: i === 3 ? "num" : null, "data-short": i === 2 ? "Success" : null }, t)))),
    h("tbody", {}, rows.length ? rows : h("tr", {}, h("td", { colspan: 6, class: "empty" }, "No destinations yet. ", h("a", { href: "#/destinations/new" }, "Create the first one"), "."))));
  main.append(h("section", { class: "panel flush", "aria-label": "Destinations" }, h("div", { class: "scroll" }, cardTable(table)),
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
      cells[4].replaceChildren(...[lastErrorCell(sm)].flat());
    }
  }, 1500);
}

// ---------------------------------------------------------------- views: one destination
export const WINDOWS = [["1h", "1 h", 3600], ["24h", "24 h", 86400], ["7d", "7 d", 7 * 86400]];
function retryText(schedule) {
  if (!schedule) return "default (5 s, 5 min, 30 min, 2 h, 5 h, 10 h, 10 h)";
  return schedule.length ? schedule.map((x) => `${x} s`).join(", ") : "none: one attempt only";
}
export async function viewDestination(view, id, params) {
  const dst = await get(`/integrations/destinations/${id}`);
  const windowKey = params.window || "24h";
  const [, windowLabel, seconds] = WINDOWS.find((w) => w[0] === windowKey) || WINDOWS[1];
  const since = new Date(Date.now() - seconds * 1000).toISOString();
  const stats = await get(`/integrations/destinations/${id}/stats`, { since });
  const sm = stats.summary;
  const refresh = () => state.refresh();
  const deleteBtn = h("button", { class: "btn btn-small btn-danger", type: "button", "aria-label": `Delete ${dst.name || dst.id}`, "data-action": "delete",
    onclick: guarded(dst, remove, (done) => { if (done) go("destinations"); }) }, "Delete");
  main.append(pageHead([dst.name || dst.id, " ", h("span", { class: "badges" }, badge(dst.status), fillNow(destinationBadges, dst, view))], h("span", { class: "mono" }, dst.url),
    [...destinationActions(dst, refresh), h("a", { class: "btn btn-small", href: `#/deliveries?destinationId=${dst.id}` }, "View deliveries"), deleteBtn],
    [h("a", { href: "#/destinations" }, "Destinations"), " / ", dst.name || dst.id]));
  if (dst.status === "disabled") {
    // What enable will send: the deliveries held for it (CONTRACT §2, fixable disable).
    const held = await get("/integrations/deliveries", { destinationId: dst.id, status: "pending", pageSize: 1 }).catch(() => null);
    const count = held ? held.total : null;
    main.append(h("div", { class: "panel", role: "note", id: "held-note" }, h("strong", {}, "Disabled: "), dst.disabledReason || "by an operator",
      h("span", { class: "muted" }, count === null
        ? " · deliveries are held and sent, oldest first, when it is enabled again."
        : ` · enabling it sends the ${fmtInt(count)} held deliver${count === 1 ? "y" : "ies"}, oldest first `),
      count ? h("a", { href: `#/deliveries?destinationId=${dst.id}&status=pending` }, "(see them)") : null));
  }
  const seg = h("div", { class: "seg", role: "group", "aria-label": "Time window" },
    WINDOWS.map(([key, label]) => h("button", { type: "button", "aria-pressed": key === windowKey ? "true" : "false", onclick: () => go(`destinations/${id}`, { window: key }) }, label)));
  main.append(h("div", { class: "stat-row" },
    stat("Attempts", fmtInt(sm.attempts)), stat("Success rate", fmtRate(sm.successRate)),
    stat("Avg latency", fmtMs(sm.latencyMsAvg)),
    h("div", { class: "stat stat-error", id: "last-error" }, h("div", { class: "label" }, "Last error"),
      sm.lastError
        ? [h("div", { class: "error-text err", title: sm.lastError }, sm.lastError), h("div", { class: "muted" }, when(sm.lastErrorAt))]
        : h("div", { class: "value" }, "none"))));
  main.append(h("div", { class: "page-head" }, h("h2", {}, `Last ${windowLabel}`), seg));
  const range = { since: new Date(stats.since), until: new Date(stats.until), bucket: stats.bucketSeconds };
  const empty = "No attempts in this window yet. Send a test to see one.";
  main.append(h("div", { class: "grid2" },
    h("section", { class: "panel chart", "aria-labelledby": "chart-attempts" }, h("h2", { id: "chart-attempts" }, "Attempts"),
      barChart(stats.series, range, {
        label: "Attempts per interval, succeeded and failed", yLabel: "attempts", yFmt: countFmt, integer: true, empty,
        stacks: [{ key: (p) => p.succeeded, label: "succeeded", cls: "ok" }, { key: (p) => p.failed, label: "failed", cls: "bad" }],
      })),
    h("section", { class: "panel chart", "aria-labelledby": "chart-latency" }, h("h2", { id: "chart-latency" }, "Latency"),
      barChart(stats.series, range, {
        label: "Attempt latency per interval", yLabel: "latency (ms)", yFmt: fmtMs, tickFmt: plainTick, empty,
        stacks: [{ key: (p) => p.latencyMsAvg, label: "mean", cls: "lat" }],
        marker: { key: (p) => p.latencyMsMax, label: "max", cls: "max" },
      }))));
  const dsts = await destinations();
  const [form, count] = replayForm({ dsts, destinationId: id, idPrefix: "dr", onStarted: (job, holder) => followJob(view, job, holder) });
  main.append(h("section", { class: "panel", "aria-labelledby": "replay-failed", id: "replay-panel" },
    h("h2", { id: "replay-failed" }, "Replay the failed ones since…"),
    h("p", { class: "help" }, "After fixing the receiver: count the matching deliveries to this destination, then replay them (each as a new delivery linked to its original; test sends are left out)."),
    form, count));
  main.append(h("section", { class: "panel", "aria-labelledby": "dst-details" }, h("div", { class: "panel-title" }, h("h2", { id: "dst-details" }, "Configuration"), h("a", { class: "btn btn-small", href: `#/destinations/${dst.id}/edit` }, "Edit")),
    kv([["Id", h("span", { class: "mono" }, dst.id)], ["Tenant", dst.tenantId], ["Connector", dst.connector], ["URL", h("span", { class: "mono" }, dst.url)],
      ["Event types", dst.eventTypes.join(", ")], ["Filter", dst.filter ? h("code", {}, JSON.stringify(dst.filter)) : "none: every event of those types"],
      ["Signing", dst.signing], dst.publicKeys ? ["Public keys", dst.publicKeys.map((k) => h("div", { class: "mono" }, k))] : null, ["Credentials", dst.hasCredentials ? "stored (encrypted, not shown)" : "none"],
      ["Headers", Object.keys(dst.headers || {}).length ? Object.entries(dst.headers).map(([k, v]) => h("div", { class: "mono" }, `${k}: ${v}`)) : "none"],
      ["Options", dst.options && Object.keys(dst.options).length ? h("code", {}, JSON.stringify(dst.options)) : "none"],
      ["Retry schedule", retryText(dst.retrySchedule)],
      ["Timeout", `${dst.timeoutSeconds} s`], ["Rate limit", dst.rateLimitPerSecond ? `${dst.rateLimitPerSecond}/s` : "connector default"],
      ["Ordered", dst.ordered ? "yes" : "no"], ["Output schema", dst.outputSchema ? "set (the rendered body is checked)" : "none"],
      dst.circuit ? ["Circuit", dst.circuit] : null,
      ["Created", when(dst.createdAt)], ["Updated", when(dst.updatedAt)], ["Version", dst.version]].filter(Boolean))));
  for (const part of await fill(destinationSections, dst, view)) main.append(part);
  view.onChange = debounce((change) => { if (change.destinationId === id && state.view === view) refreshStats(); }, 3000);
  function refreshStats() {
    // Never re-render under a dialog, a typed-in replay date or a running replay's progress.
    if (document.querySelector("dialog[open]") || main.querySelector("#replay-job, #dr-count .callout") || main.contains(document.activeElement) && document.activeElement.matches("input, select")) return;
    state.refresh();
  }
}
