/* View: bulk replay (dry-run count first, then the job's progress). */
import { clean, destName, destinations, get, post, state, toast } from "./api.js";
import { badge, clear, fmtInt, fmtTime, h, localInput, main, pageHead, short, toIso } from "./ui.js";
// ---------------------------------------------------------------- views: bulk replay
export async function viewReplays(view) {
  const dsts = await destinations();
  main.append(pageHead("Bulk replay", "Send matching deliveries again, each as a new delivery linked to its original. Count first, then start."));
  const count = h("div", { id: "replay-count", "aria-live": "polite" });
  const since = h("input", { id: "r-since", name: "since", type: "datetime-local", required: true, value: localInput(new Date(Date.now() - 86400000)) });
  const filters = () => {
    const f = new FormData(form);
    return clean({ destinationId: f.get("destinationId"), status: f.get("status"), since: toIso(f.get("since")), until: toIso(f.get("until")) });
  };
  const form = h("form", { class: "panel filters", "aria-label": "Replay filter", oninput: () => clear(count), onsubmit: async (e) => {
    e.preventDefault();
    clear(count);
    try {
      const body = filters();
      const res = await post("/integrations/replays", { ...body, dryRun: true });
      const start = h("button", { class: "btn btn-primary", type: "button", id: "start-replay", disabled: res.matched === 0, onclick: async () => {
        start.disabled = true;
        try {
          const job = await post("/integrations/replays", body);
          toast(`Replay ${short(job.replayId)} started: ${fmtInt(job.matched)} deliveries.`);
          clear(count);
          await refreshJobs();
        } catch (err) { if (err.status !== 401) toast(err.message, { bad: true }); start.disabled = false; }
      } }, `Replay ${fmtInt(res.matched)} deliveries`);
      count.append(h("div", { class: "callout" }, h("span", {}, h("span", { class: "big", id: "matched" }, fmtInt(res.matched)), " deliveries match."), start));
    } catch (err) { if (err.status !== 401) count.append(h("p", { class: "error", role: "alert" }, err.message)); }
  } },
  h("div", { class: "field" }, h("label", { for: "r-dst" }, "Destination"), h("select", { id: "r-dst", name: "destinationId" }, h("option", { value: "" }, "All destinations"), [...dsts.values()].map((d) => h("option", { value: d.id }, d.name || d.id)))),
  h("div", { class: "field" }, h("label", { for: "r-status" }, "Status"), h("select", { id: "r-status", name: "status" }, [["failed", "failed"], ["", "any status"], ["succeeded", "succeeded"], ["cancelled", "cancelled"]].map(([v, t]) => h("option", { value: v }, t)))),
  h("div", { class: "field" }, h("label", { for: "r-since" }, "From"), since),
  h("div", { class: "field" }, h("label", { for: "r-until" }, "To (default: now)"), h("input", { id: "r-until", name: "until", type: "datetime-local" })),
  h("div", { class: "actions" }, h("button", { class: "btn btn-primary", type: "submit", id: "dry-run" }, "Count matching")));
  main.append(form, count);
  const jobs = h("section", { class: "panel flush", "aria-labelledby": "jobs-title", style: "margin-top:20px" });
  main.append(jobs);
  let timer = null;
  async function refreshJobs() {
    const body = await get("/integrations/replays", { pageSize: 20 });
    clear(jobs);
    jobs.append(h("div", { class: "panel-head" }, h("h2", { id: "jobs-title" }, "Replay jobs")));
    if (!body.items.length) { jobs.append(h("p", { class: "empty" }, "No replays yet.")); return; }
    jobs.append(h("table", {}, h("thead", {}, h("tr", {}, ["Job", "Started", "Filter", "Status", "Progress", ""].map((t) => h("th", { scope: "col" }, t)))),
      h("tbody", {}, body.items.map((j) => {
        const f = j.filters || {};
        const active = j.status === "pending" || j.status === "running";
        return h("tr", { "data-id": j.id },
          h("td", { class: "mono" }, short(j.id)), h("td", {}, fmtTime(j.createdAt)),
          h("td", {}, [f.status || "any status", " · ", f.destinationId ? destName(f.destinationId) : "all destinations", h("div", { class: "muted" }, `${fmtTime(f.since)} → ${fmtTime(f.until)}`)]),
          h("td", {}, badge(j.status, j.status === "cancelled" ? "cancelled-job" : null)),
          h("td", {}, h("progress", { max: Math.max(1, j.matched), value: j.created, "aria-label": `${j.created} of ${j.matched} created` }), ` ${fmtInt(j.created)} / ${fmtInt(j.matched)}`),
          h("td", {}, active ? h("button", { class: "btn btn-small btn-danger", type: "button", onclick: async () => { await post(`/integrations/replays/${j.id}/cancel`); refreshJobs(); } }, "Cancel") : null));
      }))));
    const anyActive = body.items.some((j) => j.status === "pending" || j.status === "running");
    clearTimeout(timer);
    if (anyActive && state.view === view) timer = setTimeout(refreshJobs, 1000);
  }
  await refreshJobs();
  view.dispose = () => clearTimeout(timer);
}
