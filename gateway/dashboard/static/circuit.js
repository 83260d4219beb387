/* The destination's circuit breaker (``circuit``: closed | open | halfOpen): a badge while it is
 * open or half-open; nothing while it is closed (the usual case) or absent. */
import { destinationBadges } from "./slots.js";
import { h } from "./ui.js";

export const CIRCUIT = {
  closed: ["circuit closed", "s-active", "Sending normally."],
  open: ["circuit open", "s-failed", "Repeated failures: the gateway stopped sending here for now. Its deliveries wait (nothing fails for it) and it is probed with one delivery at a time until one succeeds."],
  halfOpen: ["circuit half-open", "s-pending", "Probing: one delivery at a time is sent; the first success closes the circuit."],
};
export function circuitBadge(dst) {
  if (!dst || !dst.circuit || dst.circuit === "closed") return null;
  const [text, cls, help] = CIRCUIT[dst.circuit] || [`circuit ${dst.circuit}`, "s-cancelled", ""];
  return h("span", { class: `badge ${cls}`, title: help, "data-circuit": dst.circuit }, text);
}
export function circuitHelp(dst) {
  return dst && dst.circuit && CIRCUIT[dst.circuit] ? CIRCUIT[dst.circuit][2] : null;
}
destinationBadges.push(circuitBadge);
