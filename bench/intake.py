"""Intake through the API: events/s a real ``gateway serve`` accepts, against the client ceiling.

    .venv/bin/python bench/intake.py [--runs 3] [--batches 10] [--singles 3000] [--postgres]
    .venv/bin/python bench/intake.py --runs 1 --batches 3 --singles 1000     # a quick check

For each run and each store (a temp SQLite file; with ``--postgres`` also a fresh PostgreSQL
database, created and dropped) a ``gateway serve`` process is started on a free loopback port with
one ``webhook`` destination pointing at ``bench/receiver.py`` (so the worker in that process
delivers while intake runs, as in production). Then, from this process:

(a) ``--batches`` POSTs of 1,000 ``task.completed`` events (the catalog example, unique ids), one
    after another: events/s is 1,000 x batches over the wall time of the POSTs;
(b) ``--singles`` POSTs of one event each from ``--clients`` concurrent aiohttp tasks, once
    every batch event is delivered.

While the batches go in, a probe posts one event every 0.1 s for a second tenant with its own
destination (the claim shares the worker among destinations, so probes do not queue behind the
batches' backlog); their delivery latency (``completed_at - created_at`` in the database: from
the intake commit to the receiver's answer being recorded), p50 and p99, is what intake's work
on the event loop costs the deliveries that share it.

Every answer must be 202 ``created`` (the exit code is 1 otherwise). The ceiling is
``bench.client_ceiling.aiohttp_ceiling`` against the same receiver, at ``--clients`` concurrency,
with a body of one event's size, measured in the same run. The gateway process's CPU per event
(from /proc) shows where the time goes. Each phase stops issuing at ``--cap-seconds``.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import statistics
import sys
import time
from copy import deepcopy
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

if __package__ in (None, ""):  # run as a script: make `bench` and `gateway` importable
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import aiohttp
import orjson
from sqlalchemy import create_engine, text

from bench.client_ceiling import aiohttp_ceiling, machine_line, make_body, receiver
from bench.drain import postgres_version, versions_line
from bench.gateway_proc import Gateway, database, gateway_server
from gateway.catalog import catalog

EVENT_TYPE = "task.completed"
TENANT = "ten_bench"
PROBE_TENANT = "ten_probe"  # its own destination: the claim shares the worker among them
PROBE_SECONDS = 0.1  # one probe event this often while the batches go in
BATCH = 1000
CAP_SECONDS = 60.0
CLOCK_TICKS = 100  # os.sysconf("SC_CLK_TCK") on Linux


def cpu_seconds(pid: int) -> float:
    """utime + stime of ``pid`` (all its threads), from /proc."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / CLOCK_TICKS


def event(prefix: str, index: int, tenant: str = TENANT) -> dict[str, Any]:
    return {
        "id": f"evt_{prefix}_{index:07d}",
        "tenantId": tenant,
        "type": EVENT_TYPE,
        "data": deepcopy(catalog()[EVENT_TYPE].example),
    }


@dataclass
class Phase:
    events: int = 0
    seconds: float = 0.0
    cpu: float = 0.0  # the gateway process's CPU seconds
    capped: bool = False
    bad: int = 0  # answers other than 202 created
    probes: int = 0  # probe events posted meanwhile (batches only)

    @property
    def rate(self) -> float:
        return self.events / self.seconds if self.seconds else 0.0

    @property
    def cpu_ms(self) -> float:
        return self.cpu / self.events * 1e3 if self.events else 0.0


@dataclass
class Run:
    ceiling: float
    batch: Phase
    single: Phase
    latency_p50: float = float("nan")  # s, a batch event's delivery: completed_at - created_at
    latency_p99: float = float("nan")


@dataclass
class StoreRuns:
    name: str
    runs: list[Run] = field(default_factory=list)

    def median(self, fn: Any) -> float:
        return float(statistics.median(fn(r) for r in self.runs))


async def create_destination(
    session: aiohttp.ClientSession, gw: Gateway, url: str, tenant: str = TENANT
) -> None:
    body = {"tenantId": tenant, "name": "bench", "connector": "webhook", "url": url}
    body["eventTypes"] = [EVENT_TYPE]  # type: ignore[assignment]
    async with session.post(f"{gw.url}/integrations/destinations", json=body) as response:
        if response.status != 201:
            raise RuntimeError(f"destination: {response.status} {await response.text()}")


async def post_batches(
    session: aiohttp.ClientSession, gw: Gateway, batches: int, cap: float, tag: str
) -> Phase:
    bodies = [
        orjson.dumps({"events": [event(f"{tag}b{b}", i) for i in range(BATCH)]})
        for b in range(batches)
    ]  # built outside the timed part
    phase = Phase()
    probing = asyncio.Event()
    probe = asyncio.create_task(post_probes(session, gw, probing, tag))
    cpu0, t0 = cpu_seconds(gw.pid), time.perf_counter()
    for body in bodies:
        if time.perf_counter() - t0 > cap:
            phase.capped = True
            break
        async with session.post(
            f"{gw.url}/integrations/events",
            data=body,
            headers={"content-type": "application/json"},
        ) as response:
            answer = orjson.loads(await response.read())
        results = answer.get("results", []) if response.status == 202 else []
        created = sum(1 for r in results if r["status"] == "created")
        phase.events += created
        phase.bad += BATCH - created
    phase.seconds = time.perf_counter() - t0
    phase.cpu = cpu_seconds(gw.pid) - cpu0
    probing.set()
    phase.probes = await probe
    return phase


async def post_probes(
    session: aiohttp.ClientSession, gw: Gateway, done: asyncio.Event, tag: str
) -> int:
    """One event for PROBE_TENANT every PROBE_SECONDS until ``done``; how many were created."""
    created = 0
    while not done.is_set():
        body = orjson.dumps(event(f"{tag}p", created, PROBE_TENANT))
        async with session.post(
            f"{gw.url}/integrations/events",
            data=body,
            headers={"content-type": "application/json"},
        ) as response:
            await response.read()
        created += response.status == 202
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(done.wait(), PROBE_SECONDS)
    return created


async def post_singles(
    session: aiohttp.ClientSession, gw: Gateway, n: int, clients: int, cap: float, tag: str
) -> Phase:
    bodies = [orjson.dumps(event(f"{tag}s", i)) for i in range(n)]
    phase = Phase()
    next_index = 0
    t0 = time.perf_counter()

    async def client() -> None:
        nonlocal next_index
        while next_index < n:
            if time.perf_counter() - t0 > cap:
                phase.capped = True
                return
            body = bodies[next_index]
            next_index += 1
            async with session.post(
                f"{gw.url}/integrations/events",
                data=body,
                headers={"content-type": "application/json"},
            ) as response:
                answer = orjson.loads(await response.read())
            if response.status == 202 and answer.get("status") == "created":
                phase.events += 1
            else:
                phase.bad += 1

    cpu0 = cpu_seconds(gw.pid)
    await asyncio.gather(*(client() for _ in range(clients)))
    phase.seconds = time.perf_counter() - t0
    phase.cpu = cpu_seconds(gw.pid) - cpu0
    return phase


def delivery_latencies(database_url: str, expected: int, cap: float) -> list[float]:
    """Once ``expected`` probe deliveries have succeeded (or ``cap`` s passed): each one's seconds
    from its row's creation (the intake commit) to its success, read from the database."""
    engine = create_engine(database_url)
    query = text(
        "SELECT created_at, completed_at FROM deliveries "
        "WHERE status = 'succeeded' AND tenant_id = :t"
    )
    try:
        deadline = time.monotonic() + cap
        while True:
            with engine.connect() as conn:
                rows = conn.execute(query, {"t": PROBE_TENANT}).all()
            if len(rows) >= expected or time.monotonic() > deadline:
                break
            time.sleep(0.2)
    finally:
        engine.dispose()
    return [(_ts(done) - _ts(made)).total_seconds() for made, done in rows]


def wait_drained(database_url: str, expected: int, args: argparse.Namespace) -> None:
    """Until ``expected`` deliveries succeeded (the singles start on an idle worker)."""
    engine = create_engine(database_url)
    query = text("SELECT count(*) FROM deliveries WHERE status = 'succeeded'")
    try:
        deadline = time.monotonic() + args.cap_seconds
        while time.monotonic() < deadline:
            with engine.connect() as conn:
                if conn.execute(query).scalar_one() >= expected:
                    return
            time.sleep(0.2)
    finally:
        engine.dispose()


def _ts(value: Any) -> datetime:
    return datetime.fromisoformat(value) if isinstance(value, str) else value


async def run_store(
    gw: Gateway, database_url: str, receiver_url: str, args: argparse.Namespace, tag: str
) -> Run:
    connector = aiohttp.TCPConnector(limit=args.clients)
    async with aiohttp.ClientSession(connector=connector, headers=gw.headers) as session:
        await create_destination(session, gw, receiver_url)
        await create_destination(session, gw, receiver_url, PROBE_TENANT)
        batch = await post_batches(session, gw, args.batches, args.cap_seconds, tag)
        latencies = await asyncio.to_thread(
            delivery_latencies, database_url, batch.probes, args.cap_seconds
        )
        await asyncio.to_thread(wait_drained, database_url, batch.events + batch.probes, args)
        single = await post_singles(session, gw, args.singles, args.clients, args.cap_seconds, tag)
    run = Run(0.0, batch, single)
    if len(latencies) > 1:
        cuts = statistics.quantiles(latencies, n=100)
        run.latency_p50, run.latency_p99 = cuts[49], cuts[98]
    return run


def print_table(results: list[StoreRuns], args: argparse.Namespace) -> None:
    print(
        f"(a) {args.batches} batches of {BATCH} events, one after another; (b) {args.singles} "
        f"single events from {args.clients} clients; median of {args.runs}; ceiling = aiohttp "
        f"at concurrency {args.clients}, one event's body size, same run"
    )
    print(
        f"{'store':<9} {'phase':<8} {'events/s':>9} {'ceiling/s':>9} {'ratio':>6} "
        f"{'gw CPU ms/ev':>12}  runs (events/s)"
    )
    for r in results:
        ceiling = r.median(lambda x: x.ceiling)
        for label, pick in (("batch", lambda x: x.batch), ("single", lambda x: x.single)):
            rate = r.median(lambda x, p=pick: p(x).rate)
            cpu = r.median(lambda x, p=pick: p(x).cpu_ms)
            each = ", ".join(
                f"{pick(x).rate:.0f}{'*' if pick(x).capped else ''}"  # type: ignore[no-untyped-call]
                for x in r.runs
            )
            print(
                f"{r.name:<9} {label:<8} {rate:>9.0f} {ceiling:>9.0f} {rate / ceiling:>5.2f}x "
                f"{cpu:>12.2f}  {each}"
            )
    for r in results:
        p50 = r.median(lambda x: x.latency_p50) * 1e3
        p99 = r.median(lambda x: x.latency_p99) * 1e3
        print(
            f"{r.name:<9} probe deliveries during the batches (completed_at - created_at): "
            f"p50 {p50:.0f} ms, p99 {p99:.0f} ms"
        )
    if any(p.capped for r in results for x in r.runs for p in (x.batch, x.single)):
        print(f"* phase hit the {args.cap_seconds:g} s cap; its rate counts what was answered")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--batches", type=int, default=10, help="POSTs of 1,000 events per run")
    parser.add_argument("--singles", type=int, default=3000, help="single-event POSTs per run")
    parser.add_argument("--clients", type=int, default=16, help="concurrent clients (singles)")
    parser.add_argument("--postgres", action="store_true", help="also a fresh PostgreSQL db")
    parser.add_argument("--cap-seconds", type=float, default=CAP_SECONDS, help="per phase")
    args = parser.parse_args(argv)
    if min(args.runs, args.batches, args.singles, args.clients) < 1 or args.cap_seconds <= 0:
        parser.error("counts and --cap-seconds must be positive")

    stores = ["sqlite"] + (["postgres"] if args.postgres else [])
    size = len(orjson.dumps(event("x", 0)))
    print(machine_line())
    print(
        versions_line("asyncio") + (f" | PostgreSQL {postgres_version()}" if args.postgres else "")
    )
    results = {name: StoreRuns(name) for name in stores}
    budget = args.runs * len(stores) * (2 * args.cap_seconds + 180)
    with receiver(budget) as rec:
        for n in range(args.runs):
            print(f"  run {n + 1}/{args.runs}", file=sys.stderr, flush=True)
            ceiling = asyncio.run(aiohttp_ceiling(rec.url, 5000, args.clients, make_body(size)))
            print(f"    ceiling: {ceiling:.0f} req/s", file=sys.stderr, flush=True)
            for name in stores:
                with database(name) as url, gateway_server(url) as gw:
                    run = asyncio.run(run_store(gw, url, rec.url, args, f"r{n}"))
                run.ceiling = ceiling
                results[name].runs.append(run)
                print(
                    f"    {name}: batch {run.batch.rate:.0f} ev/s "
                    f"({run.batch.cpu_ms:.2f} ms CPU/ev), single {run.single.rate:.0f} ev/s "
                    f"({run.single.cpu_ms:.2f} ms CPU/ev); probe delivery p50 "
                    f"{run.latency_p50 * 1e3:.0f} ms, p99 {run.latency_p99 * 1e3:.0f} ms",
                    file=sys.stderr,
                    flush=True,
                )
    print_table(list(results.values()), args)
    bad = sum(p.bad for r in results.values() for x in r.runs for p in (x.batch, x.single))
    if bad:
        print(f"WARNING: {bad} events were not answered 202 created")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
