/* Plots as inline SVG: a line chart with optional bars on a second scale, plus its data as a table. */
import { fmtInt, fmtTime, h, pad, s } from "./ui.js";

export function lineChart(points, range, opts) {
  const W = 640, H = 230, L = 52, R = 40, T = 12, B = 28;
  const x0 = range.since.getTime(), x1 = range.until.getTime();
  const px = (t) => L + ((t - x0) / (x1 - x0)) * (W - L - R);
  const values = points.flatMap((p) => opts.lines.map((l) => l.key(p))).filter((v) => v !== null && v !== undefined);
  const yMax = opts.yMax || niceMax(Math.max(1, ...values));
  const py = (v) => T + (1 - v / yMax) * (H - T - B);
  const svg = s("svg", { viewBox: `0 0 ${W} ${H}`, role: "img", "aria-label": `${opts.label}: ${points.length} intervals` });
  for (let i = 0; i <= 4; i += 1) {
    const v = (yMax * i) / 4;
    svg.append(s("line", { class: "grid", x1: L, x2: W - R, y1: py(v), y2: py(v) }),
      s("text", { class: "tick", x: L - 8, y: py(v) + 4, "text-anchor": "end" }, opts.yFmt(v)));
  }
  const span = x1 - x0;
  const step = TICK_STEPS_MIN.map((m) => m * 60000).find((ms) => span / ms <= 7) || 86400000 * 7;
  const local = -new Date(x0).getTimezoneOffset() * 60000; // align ticks to round local times
  for (let t = Math.ceil((x0 + local) / step) * step - local; t <= x1; t += step) {
    const d = new Date(t);
    const text = step >= 86400000 ? `${d.toLocaleString("en-US", { month: "short" })} ${d.getDate()}` : `${pad(d.getHours())}:${pad(d.getMinutes())}`;
    svg.append(s("line", { class: "grid", x1: px(t), x2: px(t), y1: T, y2: H - B }),
      s("text", { class: "tick", x: px(t), y: H - 8, "text-anchor": "middle" }, text));
  }
  const bucketMs = range.bucket * 1000;
  const barW = Math.max(1, (bucketMs / span) * (W - L - R) - 1);
  if (opts.bars && points.length) {
    const bMax = niceMax(Math.max(1, ...points.map(opts.bars.key)));
    for (const p of points) {
      const t = new Date(p.at).getTime();
      const hgt = (opts.bars.key(p) / bMax) * (H - T - B) * 0.35;
      svg.append(s("rect", { x: px(t), y: H - B - hgt, width: barW, height: hgt, fill: "#c7d2fe", opacity: 0.8 },
        s("title", {}, `${fmtTime(p.at)}: ${fmtInt(opts.bars.key(p))} ${opts.bars.label}`)));
    }
    svg.append(s("text", { class: "tick", x: W - R + 4, y: H - B - (H - T - B) * 0.35 + 4 }, `≤${fmtInt(bMax)}`));
  }
  for (const line of opts.lines) {
    let d = "";
    let prev = null;
    for (const p of points) {
      const v = line.key(p);
      if (v === null || v === undefined) { prev = null; continue; }
      const t = new Date(p.at).getTime();
      const xy = `${px(t + bucketMs / 2).toFixed(1)},${py(v).toFixed(1)}`;
      d += prev !== null && t - prev <= bucketMs ? ` L${xy}` : ` M${xy}`;
      prev = t;
      svg.append(s("circle", { cx: px(t + bucketMs / 2), cy: py(v), r: points.length > 60 ? 1.5 : 3, fill: line.color },
        s("title", {}, `${fmtTime(p.at)}: ${line.label} ${opts.yFmt(v)}`)));
    }
    if (d) svg.insertBefore(s("path", { d, fill: "none", stroke: line.color, "stroke-width": 2, "stroke-dasharray": line.dash || null }), svg.querySelector("circle"));
  }
  if (!points.length) svg.append(s("text", { x: W / 2, y: H / 2, "text-anchor": "middle", class: "tick" }, "No attempts in this window"));
  const legend = h("div", { class: "legend", "aria-hidden": "true" },
    opts.lines.map((l) => h("span", {}, h("i", { style: `background:${l.color}` }), l.label)),
    opts.bars ? h("span", {}, h("i", { style: "background:#c7d2fe;height:8px" }), opts.bars.label) : null);
  const table = h("details", {}, h("summary", {}, "Show data as a table"),
    h("table", {}, h("thead", {}, h("tr", {}, h("th", { scope: "col" }, "Interval"), opts.lines.map((l) => h("th", { scope: "col", class: "num" }, l.label)),
      opts.bars ? h("th", { scope: "col", class: "num" }, opts.bars.label) : null)),
    h("tbody", {}, points.map((p) => h("tr", {}, h("td", {}, fmtTime(p.at)),
      opts.lines.map((l) => h("td", { class: "num" }, l.key(p) === null ? "—" : opts.yFmt(l.key(p)))),
      opts.bars ? h("td", { class: "num" }, fmtInt(opts.bars.key(p))) : null)))));
  return [legend, svg, table];
}
export const TICK_STEPS_MIN = [5, 10, 15, 30, 60, 120, 180, 240, 360, 720, 1440];
export function niceMax(v) {
  const mag = 10 ** Math.floor(Math.log10(v));
  for (const m of [1, 2, 2.5, 5, 10]) if (m * mag >= v) return m * mag;
  return 10 * mag;
}
