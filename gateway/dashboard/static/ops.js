/* Operational events on a destination's page, and erasure of an event (issue #12). Self-contained:
   it registers its parts in slots.js (the destination page's sections, the event page's actions);
   the delivery page calls eraseButton itself. */
import { api, dialog, get, toast } from "./api.js";
import { destinationSections, eventActions } from "./slots.js";
import { ago, fmtTime, h, short } from "./ui.js";

const SUMMARY = {
  "gateway.destination.failing": (d) => `Failing for ${d.threshold}% of the auto-disable window (since ${fmtTime(d.failingSince)}; disabled at ${fmtTime(d.disableAt)} if nothing succeeds)`,
  "gateway.destination.disabled": (d) => `Disabled: ${d.reason}`,
  "gateway.destination.recovered": (d) => (d.recoveredBy === "enabled" ? "Enabled again" : "Recovered: an attempt succeeded"),
  "gateway.delivery.exhausted": (d) => [`Delivery `, h("a", { href: `#/deliveries/${d.deliveryId}`, class: "mono" }, short(d.deliveryId)), ` failed after ${d.attempts} attempt${d.attempts === 1 ? "" : "s"}`],
};

// A panel listing the newest operational events about one destination; fills itself in.
export function operationalEventsPanel(destinationId) {
  const list = h("ul", { class: "ops-events", id: "ops-events" }, h("li", { class: "muted" }, "Loading…"));
  const panel = h("section", { class: "panel", "aria-labelledby": "dst-ops", style: "margin-top:20px" },
    h("h2", { id: "dst-ops" }, "Operational events"),
    h("p", { class: "muted" }, "What the gateway told subscribers of gateway.* events about this destination."), list);
  get(`/integrations/destinations/${destinationId}/operational-events`, { limit: 20 }).then((body) => {
    list.replaceChildren(...(body.items.length ? body.items.map((e) => h("li", { "data-type": e.type },
      h("span", { class: "tag" }, e.type.replace(/^gateway\./, "")), " ",
      e.data ? (SUMMARY[e.type] || (() => e.type))(e.data) : "(payload expired)",
      h("span", { class: "muted", title: fmtTime(e.timestamp) }, ` · ${ago(e.timestamp)}`))) : [h("li", { class: "muted" }, "None yet.")]));
  }).catch(() => list.replaceChildren(h("li", { class: "muted" }, "Could not load them.")));
  return panel;
}

// "Erase event" behind a confirmation: DELETE /integrations/events/{id}.
export function eraseButton(eventId, onDone) {
  const btn = h("button", { class: "btn btn-danger", type: "button", id: "erase-event", onclick: async () => {
    const ok = await dialog("Erase this event?", [
      h("p", {}, "Its data, and the request and response body of every attempt of every delivery of it, are removed for good. Deliveries still waiting are cancelled. Ids, statuses and timings stay."),
      h("p", { class: "mono" }, eventId)], { confirm: "Erase event" });
    if (!ok) return;
    btn.disabled = true;
    try {
      await api("DELETE", `/integrations/events/${eventId}`);
      toast("Event erased.");
      if (onDone) onDone();
    } catch (err) { if (err.status !== 401) toast(err.message, { bad: true }); btn.disabled = false; }
  } }, "Erase event");
  return btn;
}

destinationSections.push((dst) => operationalEventsPanel(dst.id));
eventActions.push((event, refresh) => (event.expunged ? null : eraseButton(event.id, refresh)));
