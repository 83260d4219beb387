/* Places where a small module adds a part to a page without editing the page's module.
 *
 * A module pushes a function here and is imported once from app.js, e.g. an "Erase" action:
 *   import { eventActions } from "./slots.js";
 *   eventActions.push((event, refresh) => h("button", { … }, "Erase"));
 * Each function returns a Node (or an array of Nodes, or a Promise of one), or null for nothing.
 */

// (destination, view) -> badge shown beside the destination's status (list and page).
export const destinationBadges = [];
// (destination, view) -> a section appended to the destination page, after its plots.
export const destinationSections = [];
// (event, refresh) -> a button in the event page's header.
export const eventActions = [];

export async function fill(slot, ...args) {
  const parts = [];
  for (const part of slot) {
    try {
      const node = await part(...args);
      if (node) parts.push(node);
    } catch (err) {
      if (err.status !== 401) parts.push(document.createTextNode(`(could not show a part of this page: ${err.message})`));
    }
  }
  return parts;
}
export function fillNow(slot, ...args) {
  return slot.map((part) => part(...args)).filter((node) => node && !(node instanceof Promise));
}
