"""Fan-out: one event to many ``webhook`` destinations, through a real ``gateway serve``.

    .venv/bin/python bench/fanout.py [--destinations 1000 10000] [--runs 3] [--postgres]
    .venv/bin/python bench/fanout.py --runs 1 --destinations 10000    # a quick check

For each run, store and size N: a fresh database (a temp SQLite file; with ``--postgres`` also a
fresh PostgreSQL database, created and dropped) is seeded with N ``webhook`` destinations of one
tenant and 1 destination of another, all pointing at ``bench/receiver.py`` on 127.0.0.1 (the N
copies are written straight into the table: creating them through the API is not what is
measured). A ``gateway serve`` process is started on it; this process then POSTs

- one ``task.completed`` event to the tenant with 1 destination: the baseline POST, same run;
- one event to the tenant with N destinations: "POST s" is that call's wall time (the answer
  carries the N delivery ids), "delivered s" the time from the POST until the database holds N
  ``succeeded`` deliveries (polled every 50 ms, bounded by ``--cap-seconds``).

The exit code is 1 unless every POST answered 202 with the expected number of delivery ids and
every delivery succeeded within the cap.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import time
from copy import deepcopy
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

if __package__ in (None, ""):  # run as a script: make `bench` and `gateway` importable
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import aiohttp
from sqlalchemy import create_engine, insert, select, text

from bench.client_ceiling import machine_line, receiver
from bench.drain import make_settings, postgres_version, versions_line
from bench.gateway_proc import Gateway, database, gateway_server
from gateway import ids
from gateway.catalog import catalog
from gateway.store import open_store
from gateway.store.tables import destinations as destinations_table

EVENT_TYPE = "task.completed"
WIDE = "ten_wide"  # N destinations
NARROW = "ten_narrow"  # 1 destination: the baseline POST
CAP_SECONDS = 120.0
POLL_SECONDS = 0.05
_dst = destinations_table


@dataclass
class Run:
    baseline_post: float  # s, one event to 1 destination
    post: float  # s, one event to N destinations
    delivered: float  # s from the POST until N succeeded (the cap if not)
    ok: bool


@dataclass
class Size:
    destinations: int
    runs: list[Run] = field(default_factory=list)

    def median(self, attr: str) -> float:
        return float(statistics.median(getattr(r, attr) for r in self.runs))


def seed(url: str, receiver_url: str, n: int) -> None:
    """One destination for NARROW, n for WIDE (one created by the store, copied n - 1 times)."""
    store = open_store(make_settings(url, {}), run_migrations=True)
    try:
        for tenant in (NARROW, WIDE):
            row, _ = store.create_destination(
                {
                    "tenant_id": tenant,
                    "name": "fanout",
                    "connector": "webhook",
                    "url": receiver_url,
                    "event_types": [EVENT_TYPE],
                }
            )
        with store.engine.begin() as conn:
            template = dict(conn.execute(select(_dst).where(_dst.c.id == row.id)).one()._mapping)
            copies = [
                {**template, "id": ids.new_id(ids.DESTINATION), "name": f"fanout {i}"}
                for i in range(n - 1)
            ]
            for start in range(0, len(copies), 1000):
                conn.execute(insert(_dst), copies[start : start + 1000])
    finally:
        store.engine.dispose()


def succeeded(engine: Any, event_id: str) -> int:
    with engine.connect() as conn:
        return int(
            conn.execute(
                text(
                    "SELECT count(*) FROM deliveries WHERE event_id = :e AND status = 'succeeded'"
                ),
                {"e": event_id},
            ).scalar_one()
        )


async def post_one(session: aiohttp.ClientSession, gw: Gateway, tenant: str, tag: str) -> Any:
    body = {
        "id": f"evt_fanout_{tag}",
        "tenantId": tenant,
        "type": EVENT_TYPE,
        "data": deepcopy(catalog()[EVENT_TYPE].example),
    }
    t0 = time.perf_counter()
    async with session.post(f"{gw.url}/integrations/events", json=body) as response:
        answer = await response.json()
    seconds = time.perf_counter() - t0
    return seconds, response.status, answer


async def measure(gw: Gateway, url: str, n: int, cap: float) -> Run:
    engine = create_engine(make_settings(url, {}).database_url)
    try:
        async with aiohttp.ClientSession(headers=gw.headers) as session:
            base_s, base_status, base = await post_one(session, gw, NARROW, "narrow")
            base_ok = base_status == 202 and len(base.get("deliveryIds", [])) == 1
            await asyncio.sleep(1.0)  # let that one delivery go before the wide event
            t0 = time.perf_counter()
            post_s, status, answer = await post_one(session, gw, WIDE, "wide")
            ok = base_ok and status == 202 and len(answer.get("deliveryIds", [])) == n
            done = 0
            while time.perf_counter() - t0 < cap:
                done = await asyncio.to_thread(succeeded, engine, "evt_fanout_wide")
                if done >= n:
                    break
                await asyncio.sleep(POLL_SECONDS)
            delivered = time.perf_counter() - t0
    finally:
        engine.dispose()
    return Run(base_s, post_s, delivered, ok and done == n)


def print_table(sizes: list[tuple[str, Size]], runs: int) -> None:
    print(
        f"one event to N webhook destinations on the receiver; median of {runs}; "
        "baseline = the POST of one event to 1 destination, same server, same run"
    )
    print(
        f"{'store':<9} {'N':>6} {'POST s':>8} {'baseline s':>10} {'ratio':>7} "
        f"{'delivered s':>11} {'deliv/s':>8}  runs (POST s | delivered s)"
    )
    for name, s in sizes:
        post, base, delivered = s.median("post"), s.median("baseline_post"), s.median("delivered")
        each = ", ".join(f"{r.post:.3f}" for r in s.runs)
        each_d = ", ".join(f"{r.delivered:.1f}{'' if r.ok else '!'}" for r in s.runs)
        print(
            f"{name:<9} {s.destinations:>6} {post:>8.3f} {base:>10.4f} {post / base:>6.0f}x "
            f"{delivered:>11.2f} {s.destinations / delivered:>8.0f}  {each} | {each_d}"
        )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--destinations", type=int, nargs="+", default=[1000, 10000])
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--postgres", action="store_true", help="also a fresh PostgreSQL db")
    parser.add_argument("--cap-seconds", type=float, default=CAP_SECONDS, help="per delivery")
    args = parser.parse_args(argv)
    if args.runs < 1 or min(args.destinations) < 1 or args.cap_seconds <= 0:
        parser.error("--runs, --destinations and --cap-seconds must be positive")
    stores = ["sqlite"] + (["postgres"] if args.postgres else [])
    print(machine_line())
    print(
        versions_line("asyncio") + (f" | PostgreSQL {postgres_version()}" if args.postgres else "")
    )
    sizes = [(name, Size(n)) for name in stores for n in args.destinations]
    budget = args.runs * len(sizes) * (args.cap_seconds + 120)
    with receiver(budget) as rec:
        for k in range(args.runs):
            print(f"  run {k + 1}/{args.runs}", file=sys.stderr, flush=True)
            for name, size in sizes:
                with database(name) as url:
                    seed(url, rec.url, size.destinations)
                    with gateway_server(url) as gw:
                        run = asyncio.run(measure(gw, url, size.destinations, args.cap_seconds))
                size.runs.append(run)
                print(
                    f"    {name} N={size.destinations}: POST {run.post:.3f} s (baseline "
                    f"{run.baseline_post:.4f} s), delivered {run.delivered:.2f} s"
                    f"{'' if run.ok else ' INCOMPLETE'}",
                    file=sys.stderr,
                    flush=True,
                )
    print_table(sizes, args.runs)
    if not all(r.ok for _, s in sizes for r in s.runs):
        print("WARNING: a run did not answer or deliver every destination (marked !)")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
