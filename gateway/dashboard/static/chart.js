/* Plots as inline SVG: one bar per time bucket (stacked when there are several series), round
 * ticks, labelled axes and an empty state, plus the same data as a table.
 *
 * Bars rather than lines: after a short run there are one or two buckets, and a line through one
 * point is a dot nobody reads; a bar shows its bucket's width and height whatever the count.
 */
import { fmtInt, fmtTime, h, pad, s } from "./ui.js";

// Round ticks from 0: the step is 1, 2, 2.5 or 5 times a power of ten (0, 50, 100, 150 ms;
// never 63/125/188). Counts step by whole numbers. The last tick is at or above ``max``.
export function niceTicks(max, count = 4, integer = false) {
  const top = max > 0 ? max : integer ? count : 1;
  const raw = top / count;
  const mag = 10 ** Math.floor(Math.log10(raw));
  const multiples = integer && mag < 10 ? [1, 2, 5, 10] : [1, 2, 2.5, 5, 10];
  let step = multiples.map((m) => m * mag).find((x) => x >= raw * (1 - 1e-9));
  if (integer) step = Math.max(1, step);
  const n = Math.max(1, Math.ceil(top / step - 1e-9));
  return Array.from({ length: n + 1 }, (_, i) => Number((i * step).toPrecision(12)));
}
export const plainTick = (v) => String(v);
export const TICK_STEPS_MIN = [5, 10, 15, 30, 60, 120, 180, 240, 360, 720, 1440];

/**
 * points: [{at, ...}] one per bucket that has attempts; range: {since, until, bucket (seconds)}.
 * opts: {label, yLabel, yFmt (values), tickFmt? (axis ticks; the unit is in yLabel), integer,
 *        stacks: [{key, label, cls}], marker?: {key, label, cls}, empty}
 */
export function barChart(points, range, opts) {
  // A narrow screen gets a narrow drawing, so its text stays readable instead of shrinking.
  const narrow = window.innerWidth < 600;
  const W = narrow ? 340 : 640, H = narrow ? 220 : 250, L = 58, R = 10, T = 14, B = 44;
  const bucketMs = range.bucket * 1000;
  const x0 = range.since.getTime();
  // The axis ends where the last bucket ends, so the current (partial) bucket's bar fits.
  const x1 = x0 + Math.max(1, Math.ceil((range.until.getTime() - x0) / bucketMs)) * bucketMs;
  const span = Math.max(1, x1 - x0);
  const px = (t) => L + ((t - x0) / span) * (W - L - R);
  const total = (p) => opts.stacks.reduce((sum, st) => sum + (st.key(p) || 0), 0);
  const tops = points.map((p) => Math.max(total(p), opts.marker ? opts.marker.key(p) || 0 : 0));
  const hasData = points.some((p) => total(p) > 0);
  const ticks = niceTicks(Math.max(0, ...tops), 4, opts.integer);
  const yTop = ticks[ticks.length - 1];
  const py = (v) => T + (1 - v / yTop) * (H - T - B);
  const svg = s("svg", { viewBox: `0 0 ${W} ${H}`, role: "img", "aria-label": `${opts.label}: ${hasData ? `${points.length} intervals with attempts` : "no attempts"}` });
  for (const v of ticks) {
    svg.append(s("line", { class: v === 0 ? "axis-line" : "grid", x1: L, x2: W - R, y1: py(v), y2: py(v) }),
      s("text", { class: "tick y-tick", x: L - 8, y: py(v) + 4, "text-anchor": "end" }, (opts.tickFmt || opts.yFmt)(v)));
  }
  const maxTicks = narrow ? 4 : 7;
  const step = TICK_STEPS_MIN.map((m) => m * 60000).find((ms) => span / ms <= maxTicks) || 86400000 * 7;
  const local = -new Date(x0).getTimezoneOffset() * 60000; // align ticks to round local times
  for (let t = Math.ceil((x0 + local) / step) * step - local; t <= x1; t += step) {
    const d = new Date(t);
    const text = step >= 86400000 ? `${d.toLocaleString("en-US", { month: "short" })} ${d.getDate()}` : `${pad(d.getHours())}:${pad(d.getMinutes())}`;
    if (px(t) > W - R - 12) continue; // no tick label cut at the right edge
    svg.append(s("line", { class: "axis-line", x1: px(t), x2: px(t), y1: H - B, y2: H - B + 4 }),
      s("text", { class: "tick x-tick", x: px(t), y: H - B + 16, "text-anchor": "middle" }, text));
  }
  svg.append(s("text", { class: "axis-label", x: (L + W - R) / 2, y: H - 6, "text-anchor": "middle" }, narrow ? `local time · bar = ${bucketText(range.bucket)}` : `local time (one bar per ${bucketText(range.bucket)})`),
    s("text", { class: "axis-label", x: 14, y: (T + H - B) / 2, "text-anchor": "middle", transform: `rotate(-90 14 ${(T + H - B) / 2})` }, opts.yLabel));
  const slot = (bucketMs / span) * (W - L - R);
  const gap = slot > 6 ? Math.max(1, slot * 0.2) : 0;
  const barW = Math.max(2, slot - gap);
  for (const p of points) {
    const x = px(new Date(p.at).getTime()) + gap / 2;
    let base = 0;
    for (const st of opts.stacks) {
      const v = st.key(p) || 0;
      if (v <= 0) continue;
      svg.append(s("rect", { class: `bar ${st.cls}`, x, y: py(base + v), width: barW, height: py(base) - py(base + v) },
        s("title", {}, `${fmtTime(p.at)}: ${opts.yFmt(v)} ${st.label}`)));
      base += v;
    }
    const m = opts.marker ? opts.marker.key(p) : null;
    if (m !== null && m !== undefined && total(p) > 0) {
      svg.append(s("line", { class: `marker ${opts.marker.cls}`, x1: x - 1, x2: x + barW + 1, y1: py(m), y2: py(m) },
        s("title", {}, `${fmtTime(p.at)}: ${opts.marker.label} ${opts.yFmt(m)}`)));
    }
  }
  if (!hasData) {
    svg.append(s("text", { class: "empty-text", x: (L + W - R) / 2, y: (T + H - B) / 2, "text-anchor": "middle" }, opts.empty || "No attempts in this window"));
  }
  const legend = h("div", { class: "legend", "aria-hidden": "true" },
    opts.stacks.map((st) => h("span", {}, h("i", { class: `swatch ${st.cls}` }), st.label)),
    opts.marker ? h("span", {}, h("i", { class: `swatch swatch-line ${opts.marker.cls}` }), opts.marker.label) : null);
  const rows = points.map((p) => h("tr", {}, h("td", {}, fmtTime(p.at)),
    opts.stacks.map((st) => h("td", { class: "num" }, opts.yFmt(st.key(p) || 0))),
    opts.marker ? h("td", { class: "num" }, opts.yFmt(opts.marker.key(p) || 0)) : null));
  const table = h("details", {}, h("summary", {}, "Show data as a table"),
    h("div", { class: "scroll" }, h("table", {}, h("thead", {}, h("tr", {}, h("th", { scope: "col" }, "Interval start"),
      opts.stacks.map((st) => h("th", { scope: "col", class: "num" }, st.label)),
      opts.marker ? h("th", { scope: "col", class: "num" }, opts.marker.label) : null)),
    h("tbody", {}, rows.length ? rows : h("tr", {}, h("td", { colspan: 3, class: "empty" }, "no data"))))));
  return [legend, svg, table];
}
function bucketText(seconds) {
  if (seconds % 86400 === 0) return seconds === 86400 ? "day" : `${seconds / 86400} days`;
  if (seconds % 3600 === 0) return seconds === 3600 ? "hour" : `${seconds / 3600} h`;
  return seconds === 60 ? "minute" : `${Math.round(seconds / 60)} min`;
}
export const countFmt = (v) => fmtInt(v);
