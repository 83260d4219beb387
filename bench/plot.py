"""One PNG of issue #15's figures: deliveries/s against processes, latency against rate.

    .venv/bin/pip install matplotlib        # once; not a project dependency
    .venv/bin/python bench/plot.py [--latency bench/latency.json] [--processes bench/processes.json]
        [--out bench/throughput-latency.png]

Left: ``bench/processes.py``'s figures (``{"rows": [{"store", "processes", "rate" (deliveries/s),
"ratio"}, ...]}``), deliveries/s per store against the number of
processes. Right: ``bench/latency.py --json``'s figures, delivered latency p50 (solid) and p99
(dashed) per store against the offered rate, log scale, with the wire's own latency (the
baseline) in grey. A missing or unreadable file leaves its panel saying so.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections import defaultdict
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
COLOURS = {"sqlite": "tab:blue", "postgres": "tab:orange", "baseline": "tab:gray"}


def load(path: Path) -> list[dict[str, Any]]:
    """The ``results`` list of a bench JSON file; empty when the file is missing or malformed."""
    try:
        doc = json.loads(path.read_text())
    except (OSError, ValueError) as exc:
        print(f"skipping {path}: {exc}", file=sys.stderr)
        return []
    # latency.py writes ``results``; processes.py writes ``rows`` (deliveries/s in ``rate``)
    results = doc.get("results", doc.get("rows")) if isinstance(doc, dict) else doc
    return [r for r in results or [] if isinstance(r, dict)]


def by_store(rows: list[dict[str, Any]], x: str) -> dict[str, list[dict[str, Any]]]:
    out: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for row in rows:
        if x in row and "store" in row:
            out[str(row["store"])].append(row)
    for series in out.values():
        series.sort(key=lambda r: float(r[x]))
    return dict(out)


def draw(latency: list[dict[str, Any]], processes: list[dict[str, Any]], out: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib.ticker import NullLocator

    fig, (left, right) = plt.subplots(1, 2, figsize=(12, 4.8))
    series = by_store(processes, "processes")
    for store, rows in series.items():
        xs = [int(r["processes"]) for r in rows]
        ys = [float(r.get("deliveries_per_second", r.get("rate", 0))) for r in rows]
        left.plot(xs, ys, "o-", color=COLOURS.get(store), label=store)
        for x, y, r in zip(xs, ys, rows, strict=True):
            if r.get("ratio") is not None:
                left.annotate(f"{float(r['ratio']):.2f}x", (x, y), textcoords="offset points",
                              xytext=(4, 4), fontsize=8)  # fmt: skip
    left.set_title("drain: deliveries/s against processes")
    left.set_xlabel("gateway processes")
    left.set_ylabel("deliveries/s")
    left.set_ylim(bottom=0)
    if series:
        left.set_xticks(sorted({int(r["processes"]) for r in processes if "processes" in r}))
        left.legend()
    else:
        left.text(0.5, 0.5, "no processes.json", ha="center", transform=left.transAxes)

    series = by_store(latency, "rate")
    for store, rows in series.items():
        ok = [r for r in rows if r.get("delivered")]
        xs = [float(r["rate"]) for r in ok]
        colour = COLOURS.get(store)
        right.plot(xs, [r["latency_ms"]["p50"] for r in ok], "o-", color=colour,
                   label=f"{store} p50")  # fmt: skip
        right.plot(xs, [r["latency_ms"]["p99"] for r in ok], "s--", color=colour,
                   label=f"{store} p99")  # fmt: skip
        for r in ok:  # a rate the gateway did not keep up with: events were never sent
            if r.get("over_cap"):
                right.annotate(f"{r['over_cap']} not sent", (float(r["rate"]),
                               r["latency_ms"]["p99"]), textcoords="offset points",
                               xytext=(-60, 6), fontsize=7, color=colour)  # fmt: skip
    right.set_title("accept -> delivered latency (open loop, single events)")
    right.set_xlabel("offered events/s")
    right.set_ylabel("ms (log)")
    right.set_yscale("log")
    if series:
        right.set_xscale("log")
        rates = sorted({float(r["rate"]) for r in latency if "rate" in r})
        right.set_xticks(rates, [f"{r:g}" for r in rates])
        right.xaxis.set_minor_locator(NullLocator())
        right.axhline(5, color="green", lw=0.8, ls=":", label="target p50 5 ms")
        right.axhline(25, color="red", lw=0.8, ls=":", label="target p99 25 ms")
        right.legend(fontsize=8)
    else:
        right.text(0.5, 0.5, "no latency.json", ha="center", transform=right.transAxes)
    fig.tight_layout()
    fig.savefig(out, dpi=110)
    plt.close(fig)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--latency", type=Path, default=HERE / "latency.json")
    parser.add_argument("--processes", type=Path, default=HERE / "processes.json")
    parser.add_argument("--out", type=Path, default=HERE / "throughput-latency.png")
    args = parser.parse_args(argv)
    latency, processes = load(args.latency), load(args.processes)
    if not latency and not processes:
        print("nothing to draw: neither file has results", file=sys.stderr)
        return 1
    draw(latency, processes, args.out)
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
