/* View: one event (#/events/{id}): what happened, its data, and every delivery made of it. */
import { destinations, get, state } from "./api.js";
import { deliveryRow, deliveryTable } from "./deliveries.js";
import { eventActions, fill } from "./slots.js";
import { bodyBlock, debounce, h, kv, main, pageHead, when } from "./ui.js";

export async function viewEvent(view, id) {
  const event = await get(`/integrations/events/${id}`);
  await destinations();
  const actions = await fill(eventActions, event, () => state.refresh());
  main.append(pageHead(["Event ", h("span", { class: "mono" }, event.id)], `${event.type} · ${event.deliveries.length} ${event.deliveries.length === 1 ? "delivery" : "deliveries"}`,
    actions.length ? actions : null,
    [h("a", { href: "#/deliveries" }, "Deliveries"), " / event"]));
  main.append(h("section", { class: "panel", "aria-labelledby": "evt-summary" }, h("h2", { id: "evt-summary" }, "Summary"),
    kv([["Id", h("span", { class: "mono" }, event.id)], ["Type", event.type], ["Tenant", event.tenantId],
      ["Origin", event.origin], ["Received", when(event.timestamp)]])));
  const sorted = [...event.deliveries].sort((a, b) => (a.createdAt < b.createdAt ? 1 : -1));
  const tbody = h("tbody", {}, sorted.length ? sorted.map(deliveryRow) : h("tr", {}, h("td", { colspan: 8, class: "empty" }, "No destination subscribed to this event.")));
  main.append(h("section", { class: "panel flush", "aria-labelledby": "evt-deliveries", id: "event-deliveries" },
    h("div", { class: "panel-head" }, h("h2", { id: "evt-deliveries" }, "Deliveries")),
    h("div", { class: "scroll" }, deliveryTable(tbody, "Deliveries of this event"))));
  let data;
  if (event.expunged) data = h("p", { class: "muted" }, "Erased: the data, the rendered bodies and the attempts' bodies were removed (ids, statuses and timings stay).");
  else if (event.expired) data = h("p", { class: "muted" }, "Expired: the data is older than the payload retention (GATEWAY_PAYLOAD_RETENTION_DAYS).");
  else data = bodyBlock(event.data === null || event.data === undefined ? "" : JSON.stringify(event.data), "(no data)");
  main.append(h("section", { class: "panel", "aria-labelledby": "evt-data" }, h("h2", { id: "evt-data" }, "Data"), data));
  const reload = debounce(() => { if (state.view === view) state.refresh(); }, 500);
  view.onChange = (change) => { if (change.eventId === id || event.deliveries.some((d) => d.id === change.deliveryId)) reload(); };
}
