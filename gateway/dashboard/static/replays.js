/* Bulk replay (dry-run count first, then the job's progress): its own page, and the
 * "replay the failed ones since…" panel on a destination's page. */
import { clean, destName, destinations, get, post, state, toast } from "./api.js";
import { badge, cardTable, clear, fmtInt, h, localInput, main, pageHead, short, timeInput, toIso, when } from "./ui.js";

// The filter form and its count. With ``destinationId`` the destination is fixed (its page).
export function replayForm({ dsts, destinationId, idPrefix = "r", onStarted }) {
  const count = h("div", { id: `${idPrefix}-count`, "aria-live": "polite" });
  const since = timeInput({ id: `${idPrefix}-since`, name: "since", required: true, value: localInput(new Date(Date.now() - 86400000)) });
  const filters = () => {
    const f = new FormData(form);
    return clean({ destinationId: destinationId || f.get("destinationId"), status: f.get("status"), since: toIso(f.get("since")), until: toIso(f.get("until")) });
  };
  const form = h("form", { class: "filters", "aria-label": "Replay filter", oninput: () => clear(count), onsubmit: async (e) => {
    e.preventDefault();
    clear(count);
    try {
      const body = filters();
      const res = await post("/integrations/replays", { ...body, dryRun: true });
      const start = h("button", { class: "btn btn-primary", type: "button", id: `${idPrefix}-start`, disabled: res.matched === 0, onclick: async () => {
        start.disabled = true;
        try {
          const job = await post("/integrations/replays", body);
          toast(`Replay ${short(job.replayId)} started: ${fmtInt(job.matched)} deliveries.`);
          clear(count);
          await onStarted(job, count);
        } catch (err) { if (err.status !== 401) toast(err.message, { bad: true }); start.disabled = false; }
      } }, `Replay ${fmtInt(res.matched)} ${res.matched === 1 ? "delivery" : "deliveries"}`);
      count.append(h("div", { class: "callout" },
        h("span", {}, h("span", { class: "big", id: `${idPrefix === "r" ? "" : `${idPrefix}-`}matched` }, fmtInt(res.matched)),
          ` ${res.matched === 1 ? "delivery matches" : "deliveries match"}`, h("span", { class: "muted" }, ` (${body.status || "any status"} since `, when(body.since), ")")),
        start));
    } catch (err) { if (err.status !== 401) count.append(h("p", { class: "error", role: "alert" }, err.message)); }
  } },
  destinationId ? null : h("div", { class: "field" }, h("label", { for: `${idPrefix}-dst` }, "Destination"), h("select", { id: `${idPrefix}-dst`, name: "destinationId" }, h("option", { value: "" }, "All destinations"), [...dsts.values()].map((d) => h("option", { value: d.id }, d.name || d.id)))),
  h("div", { class: "field" }, h("label", { for: `${idPrefix}-status` }, "Status"), h("select", { id: `${idPrefix}-status`, name: "status" }, [["failed", "failed"], ["", "any status"], ["succeeded", "succeeded"], ["cancelled", "cancelled"]].map(([v, t]) => h("option", { value: v }, t)))),
  h("div", { class: "field" }, h("label", { for: `${idPrefix}-since` }, `${destinationId ? "Since" : "From"} (local time)`), since),
  h("div", { class: "field" }, h("label", { for: `${idPrefix}-until` }, "To (empty: now)"), timeInput({ id: `${idPrefix}-until`, name: "until" })),
  h("div", { class: "actions" }, h("button", { class: "btn btn-primary", type: "submit", id: `${idPrefix}-dry-run` }, "Count matching")));
  return [form, count];
}

export function jobProgress(j) {
  return [h("progress", { max: Math.max(1, j.matched), value: j.created, "aria-label": `${j.created} of ${j.matched} created` }), ` ${fmtInt(j.created)} / ${fmtInt(j.matched)}`];
}

// Follows one job until it ends (the destination page's panel).
export async function followJob(view, job, holder) {
  for (let i = 0; i < 600 && state.view === view; i += 1) {
    const j = await get(`/integrations/replays/${job.replayId}`);
    clear(holder);
    holder.append(h("div", { class: "callout", id: "replay-job" }, h("span", {}, "Replay ", h("a", { href: "#/replays", class: "mono" }, short(j.id || job.replayId)), " ", badge(j.status)),
      h("span", {}, jobProgress(j))));
    if (j.status !== "pending" && j.status !== "running") return;
    await new Promise((resolve) => { setTimeout(resolve, 1000); });
  }
}

// ---------------------------------------------------------------- views: bulk replay
export async function viewReplays(view) {
  const dsts = await destinations();
  main.append(pageHead("Bulk replay", "Send matching deliveries again, each as a new delivery linked to its original. Count first, then start."));
  const [form, count] = replayForm({ dsts, onStarted: () => refreshJobs() });
  main.append(h("section", { class: "panel" }, form), count);
  const jobs = h("section", { class: "panel flush", "aria-labelledby": "jobs-title", style: "margin-top:20px" });
  main.append(jobs);
  let timer = null;
  async function refreshJobs() {
    const body = await get("/integrations/replays", { pageSize: 20 });
    clear(jobs);
    jobs.append(h("div", { class: "panel-head" }, h("h2", { id: "jobs-title" }, "Replay jobs")));
    if (!body.items.length) { jobs.append(h("p", { class: "empty" }, "No replays yet.")); return; }
    jobs.append(h("div", { class: "scroll" }, cardTable(h("table", {}, h("thead", {}, h("tr", {}, ["Job", "Started", "Filter", "Status", "Progress", ""].map((t) => h("th", { scope: "col" }, t)))),
      h("tbody", {}, body.items.map((j) => {
        const f = j.filters || {};
        const active = j.status === "pending" || j.status === "running";
        return h("tr", { "data-id": j.id },
          h("td", { class: "mono" }, short(j.id)), h("td", {}, when(j.createdAt)),
          h("td", {}, [f.status || "any status", " · ", f.destinationId ? destName(f.destinationId) : "all destinations", h("div", { class: "muted" }, when(f.since), " → ", f.until ? when(f.until) : "now")]),
          h("td", {}, badge(j.status, j.status === "cancelled" ? "cancelled-job" : null)),
          h("td", { class: "nowrap" }, jobProgress(j)),
          h("td", {}, active ? h("button", { class: "btn btn-small btn-danger", type: "button", onclick: async () => { await post(`/integrations/replays/${j.id}/cancel`); refreshJobs(); } }, "Cancel") : null));
      }))))));
    const anyActive = body.items.some((j) => j.status === "pending" || j.status === "running");
    clearTimeout(timer);
    if (anyActive && state.view === view) timer = setTimeout(refreshJobs, 1000);
  }
  await refreshJobs();
  view.dispose = () => clearTimeout(timer);
}
