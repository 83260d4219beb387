"""What one ``claim_due`` costs as the backlog grows: 5k, 20k, 50k, 100k pending deliveries.

    .venv/bin/python bench/claim_cost.py                    # SQLite and PostgreSQL
    .venv/bin/python bench/claim_cost.py --sizes 5000,20000 --claims 9 --no-postgres
    .venv/bin/python bench/claim_cost.py --explain          # also bench/claim_cost.explain.txt

One store per backend (a temp SQLite file; a fresh PostgreSQL database, dropped afterwards), with
``--destinations`` webhook destinations; the backlog grows in place from one size to the next
(deliveries inserted directly, spread round-robin over the destinations, all due, referencing a
few events). At each size the worker's claim runs ``--claims`` times as the worker calls it
(``limit`` 200, default cap 32, housekeeping on) and each claim is handed back at once
(``release``, due now), so every claim sees the same backlog. Prints the median claim time and the
ratio to the first size's median measured in the same run, and the same for the candidate
statement alone ("select ms", read only, as the claim runs it with nothing skipped).
``--explain`` saves the plan of the candidate statement at every size (PostgreSQL ``EXPLAIN
(ANALYZE, BUFFERS)``, SQLite ``EXPLAIN QUERY PLAN``) next to this file.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import statistics
import sys
import tempfile
import time
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from typing import Any

if __package__ in (None, ""):  # run as a script: make `bench` and `gateway` importable
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from sqlalchemy import text

from bench.client_ceiling import machine_line
from gateway.catalog import catalog
from gateway.sandbox.postgres import scratch_postgres_database
from gateway.settings import Settings
from gateway.store import EventIn, Store, open_store
from gateway.store.records import TargetRecord
from gateway.store.rows import delivery_values, insert_deliveries

POSTGRES_ADMIN_URL = os.environ.get(
    "GATEWAY_TEST_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"
)
ENCRYPTION_KEY = "x7rV4q3pZ5m2Y0b9P8Kj1QyTn6Ws3Hd2Lc0Fv5Ga8Eo="
TENANT = "ten_bench"
EVENT_TYPE = "task.completed"
LIMIT = 200  # the worker's default batch
DEFAULT_CAP = 32  # the worker's default per-destination cap
EXPLAIN_FILE = Path(__file__).with_name("claim_cost.explain.txt")
INSERT_BATCH = 5000
CAP_SECONDS = 600.0  # the whole run stops growing the backlog after this


def settings_for(url: str) -> Settings:
    return Settings(
        _env_file=None,
        GATEWAY_DATABASE_URL=url,
        GATEWAY_ALLOW_PRIVATE_NETWORKS="127.0.0.0/8",
        GATEWAY_ENCRYPTION_KEY=ENCRYPTION_KEY,
    )


@contextlib.contextmanager
def database(kind: str) -> Iterator[str]:
    if kind == "postgres":
        with scratch_postgres_database(POSTGRES_ADMIN_URL, "gw_claimcost") as url:
            yield url
    else:
        with tempfile.TemporaryDirectory(prefix="gw-claimcost-") as tmp:
            yield f"sqlite:///{tmp}/gateway.db"


def make_destinations(store: Store, count: int) -> list[TargetRecord]:
    for i in range(count):
        store.create_destination(
            {
                "tenant_id": TENANT,
                "name": f"claim-{i}",
                "connector": "webhook",
                "url": f"http://127.0.0.1:9/{i}",
                "event_types": [EVENT_TYPE],
            }
        )
    with store.engine.connect() as conn:
        rows = conn.execute(text("SELECT id, connector FROM destinations ORDER BY id")).all()
    return [TargetRecord(r.id, r.connector) for r in rows]


def grow(store: Store, destinations: list[TargetRecord], event_id: str, count: int) -> None:
    """Add ``count`` due deliveries, round-robin over the destinations."""
    now = store.clock()
    for start in range(0, count, INSERT_BATCH):
        rows = [
            delivery_values(
                event_id=event_id,
                tenant_id=TENANT,
                event_type=EVENT_TYPE,
                destination=destinations[i % len(destinations)],
                now=now,
            )
            for i in range(start, min(count, start + INSERT_BATCH))
        ]
        with store.engine.begin() as conn:
            insert_deliveries(conn, rows, now)
    if store.engine.dialect.name == "postgresql":
        with store.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
            conn.execute(text("VACUUM ANALYZE deliveries"))
    else:
        with store.engine.begin() as conn:
            conn.execute(text("ANALYZE"))


def pending(store: Store) -> int:
    with store.engine.connect() as conn:
        return int(
            conn.execute(text("SELECT count(*) FROM deliveries WHERE status = 'pending'")).scalar()
        )


def one_claim(store: Store) -> tuple[float, int]:
    start = time.perf_counter()
    claimed = store.claim_due(owner="bench", limit=LIMIT, lease_seconds=60, default_cap=DEFAULT_CAP)
    elapsed = time.perf_counter() - start
    now: datetime = store.clock()
    store.release(owner="bench", items=[(c, now) for c in claimed])
    return elapsed, len(claimed)


def candidates(store: Store) -> tuple[str, dict[str, Any]]:
    """The claim's candidate statement as it runs now, with the worker's parameters."""
    from gateway.store import claim as claim_module

    if hasattr(claim_module, "candidates_sql"):
        sql = claim_module.candidates_sql(store.engine.dialect.name)
    else:  # before migration 0009: one statement for both dialects
        sql = claim_module._CANDIDATES_SQL
    params = {
        "now": store.clock().replace(tzinfo=None).isoformat(sep=" "),
        "cap": DEFAULT_CAP,
        "scan": LIMIT * claim_module.SCAN_FACTOR,
    }
    for name in ("probes", "blocked", "skipped"):
        sql = sql.replace(f":{name}", "('-')")
    return sql, params


def select_time(store: Store, count: int) -> float:
    """Median seconds of the candidate statement alone (read only)."""
    sql, params = candidates(store)
    times = []
    with store.engine.connect() as conn:
        for _ in range(count):
            start = time.perf_counter()
            conn.execute(text(sql), params).all()
            times.append(time.perf_counter() - start)
        conn.rollback()
    return float(statistics.median(times))


def explain(store: Store) -> str:
    """The plan of the candidate statement as the claim runs it now."""
    sql, params = candidates(store)
    with store.engine.connect() as conn:
        if store.engine.dialect.name == "postgresql":
            rows = conn.execute(text("EXPLAIN (ANALYZE, BUFFERS) " + sql), params).all()
            return "\n".join(r[0] for r in rows)
        rows = conn.execute(text("EXPLAIN QUERY PLAN " + sql), params).all()
        return "\n".join(f"{r[0]:>3} {r[1]:>3} {r[3]}" for r in rows)


def run_store(kind: str, sizes: list[int], args: argparse.Namespace) -> list[dict[str, Any]]:
    results: list[dict[str, Any]] = []
    deadline = time.monotonic() + CAP_SECONDS
    with database(kind) as url:
        store = open_store(settings_for(url), run_migrations=True)
        try:
            destinations = make_destinations(store, args.destinations)
            # One event the deliveries point at (its own fan-out adds one delivery per
            # destination, counted in the backlog).
            [result] = store.ingest_events(
                [EventIn(tenant_id=TENANT, type=EVENT_TYPE, data=catalog()[EVENT_TYPE].example)]
            )
            for size in sizes:
                missing = size - pending(store)
                if missing > 0:
                    grow(store, destinations, result.event_id, missing)
                if time.monotonic() > deadline:
                    print(f"{kind}: stopped before {size} (cap {CAP_SECONDS:.0f} s)", flush=True)
                    break
                one_claim(store)  # warm the caches
                times = []
                for _ in range(args.claims):
                    elapsed, got = one_claim(store)
                    times.append(elapsed)
                row = {
                    "store": kind,
                    "pending": pending(store),
                    "claimed": got,
                    "median_ms": statistics.median(times) * 1000,
                    "select_ms": select_time(store, args.claims) * 1000,
                    "runs_ms": [round(t * 1000, 2) for t in times],
                }
                if args.explain:
                    row["plan"] = explain(store)
                results.append(row)
                base, base_select = results[0]["median_ms"], results[0]["select_ms"]
                print(
                    f"{kind:<9} {row['pending']:>8} {row['median_ms']:>10.2f} "
                    f"{row['median_ms'] / base:>6.2f}x {row['select_ms']:>10.2f} "
                    f"{row['select_ms'] / base_select:>6.2f}x {got:>8}",
                    flush=True,
                )
        finally:
            store.engine.dispose()
    return results


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", default="5000,20000,50000,100000")
    parser.add_argument("--claims", type=int, default=15, help="claims timed per size (median)")
    parser.add_argument("--destinations", type=int, default=8)
    parser.add_argument("--no-postgres", action="store_true")
    parser.add_argument("--no-sqlite", action="store_true")
    parser.add_argument("--explain", action="store_true", help=f"write {EXPLAIN_FILE.name}")
    parser.add_argument("--json", type=Path, help="also write the figures as JSON here")
    args = parser.parse_args(argv)
    sizes = [int(s) for s in args.sizes.split(",")]
    print(machine_line())
    print(
        f"claim_due(limit={LIMIT}, default_cap={DEFAULT_CAP}), {args.destinations} destinations, "
        f"median of {args.claims}; ratio to the first size in the same run"
    )
    print(
        f"{'store':<9} {'pending':>8} {'claim ms':>10} {'ratio':>7} {'select ms':>10} "
        f"{'ratio':>7} {'claimed':>8}"
    )
    results: list[dict[str, Any]] = []
    kinds = [
        k for k, off in (("sqlite", args.no_sqlite), ("postgres", args.no_postgres)) if not off
    ]
    for kind in kinds:
        results += run_store(kind, sizes, args)
    if args.explain:
        EXPLAIN_FILE.write_text(
            "\n\n".join(
                f"== {r['store']} at {r['pending']} pending ==\n{r['plan']}" for r in results
            )
            + "\n"
        )
        print(f"plans written to {EXPLAIN_FILE}")
    if args.json:
        args.json.write_text(
            json.dumps([{k: v for k, v in r.items() if k != "plan"} for r in results], indent=1)
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
