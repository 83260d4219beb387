"""Drain a backlog: how many deliveries/s one Worker signs, sends and commits, against the ceiling.

    .venv/bin/python bench/drain.py [--events 20000] [--runs 3] [--postgres]
    .venv/bin/python bench/drain.py --runs 1 --events 5000          # a quick check

For each run and each store (a temp SQLite file; with ``--postgres`` also a fresh PostgreSQL
database, created and dropped): seed one ``webhook`` destination pointing at ``bench/receiver.py``
on 127.0.0.1, ingest ``--events`` events in batches of 1000 with ``store.ingest_events`` (timed:
intake events/s), then run one ``Worker`` (this process, default settings unless overridden) until
every delivery is committed. Deliveries/s is the count of ``succeeded`` deliveries (and their
attempt rows) read from the database at the end, over the drain's wall time. In the same run the
raw aiohttp ceiling is measured against the same receiver at the worker's effective concurrency
(``min(worker_concurrency, destination_concurrency)``: one destination, so its cap binds) with a
body of the same size. Prints the machine, the versions, the settings, medians and the ratio.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import platform
import statistics
import sys
import tempfile
import time
from collections.abc import Callable, Coroutine, Iterator
from copy import deepcopy
from dataclasses import dataclass, field
from datetime import UTC, datetime
from importlib import metadata
from pathlib import Path
from typing import Any, TypeVar

if __package__ in (None, ""):  # run as a script: make `bench` and `gateway` importable
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from sqlalchemy import create_engine, text

from bench.client_ceiling import aiohttp_ceiling, machine_line, make_body, receiver
from connectors.webhook.adapter import dumps
from gateway.catalog import catalog
from gateway.delivery.client import AiohttpDeliveryClient
from gateway.delivery.worker import Worker
from gateway.models import Event
from gateway.sandbox.postgres import scratch_postgres_database
from gateway.settings import Settings
from gateway.store import AttemptRecord, EventIn, Store, open_store

POSTGRES_ADMIN_URL = os.environ.get(
    "GATEWAY_TEST_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"
)
INGEST_BATCH = 1000
EVENT_TYPE = "task.completed"
TENANT = "ten_bench"
CAP_SECONDS = 300.0  # per drain
STOP_SECONDS = 30.0  # the worker's shutdown after the drain
T = TypeVar("T")
# A fixed test key, so the store never writes a generated key file next to the database.
ENCRYPTION_KEY = "x7rV4q3pZ5m2Y0b9P8Kj1QyTn6Ws3Hd2Lc0Fv5Ga8Eo="


@dataclass
class DrainRun:
    """One store's run: intake, drain, what the database says at the end."""

    events: int
    intake_seconds: float
    drain_seconds: float
    succeeded: int  # deliveries with status 'succeeded' at the end (from the database)
    attempts: int  # attempt rows at the end (from the database)
    cpu_seconds: float  # this process's CPU (all threads) during the drain
    capped: bool
    ceiling: float = 0.0  # aiohttp req/s measured in the same run

    @property
    def intake_rate(self) -> float:
        return self.events / self.intake_seconds

    @property
    def rate(self) -> float:
        return self.succeeded / self.drain_seconds if self.drain_seconds > 0 else 0.0

    @property
    def ratio(self) -> float:
        return self.rate / self.ceiling if self.ceiling else float("nan")

    @property
    def cpu_us(self) -> float:
        return self.cpu_seconds / self.succeeded * 1e6 if self.succeeded else 0.0


@dataclass
class StoreRuns:
    name: str
    runs: list[DrainRun] = field(default_factory=list)

    def median(self, attr: str) -> float:
        return float(statistics.median(float(getattr(r, attr)) for r in self.runs))


def make_settings(database_url: str, overrides: dict[str, Any]) -> Settings:
    values: dict[str, Any] = {
        "GATEWAY_DATABASE_URL": database_url,
        "GATEWAY_ALLOW_PRIVATE_NETWORKS": "127.0.0.0/8",
        "GATEWAY_ENCRYPTION_KEY": ENCRYPTION_KEY,
        **overrides,
    }
    return Settings(_env_file=None, **values)


def event_data() -> dict[str, Any]:
    return deepcopy(catalog()[EVENT_TYPE].example)


def body_size() -> int:
    """Bytes of one delivery's body (the webhook envelope of one seeded event)."""
    event = Event(
        id="evt_01J9BENCH0000000000000000",
        tenant_id=TENANT,
        type=EVENT_TYPE,
        data=event_data(),
        created_at=datetime.now(UTC),
    )
    return len(dumps(event.envelope()))


@contextlib.contextmanager
def sqlite_url() -> Iterator[str]:
    with tempfile.TemporaryDirectory(prefix="gw-drain-") as tmp:
        yield f"sqlite:///{tmp}/gateway.db"


def postgres_url() -> contextlib.AbstractContextManager[str]:
    """A fresh database, dropped afterwards (even if the run fails)."""
    return scratch_postgres_database(POSTGRES_ADMIN_URL, "gw_bench")


def seed(store: Store, url: str, events: int) -> float:
    """One webhook destination and ``events`` events; returns the intake's wall seconds."""
    store.create_destination(
        {
            "tenant_id": TENANT,
            "name": "drain",
            "connector": "webhook",
            "url": url,
            "event_types": [EVENT_TYPE],
        }
    )
    batches = [
        [
            EventIn(tenant_id=TENANT, type=EVENT_TYPE, data=event_data())
            for _ in range(start, min(events, start + INGEST_BATCH))
        ]
        for start in range(0, events, INGEST_BATCH)
    ]  # built outside the timed part
    start = time.perf_counter()
    for batch in batches:
        store.ingest_events(batch)
    return time.perf_counter() - start


def count(store: Store) -> tuple[int, int]:
    """(succeeded deliveries, attempt rows), read from the database."""
    with store.engine.connect() as conn:
        succeeded = conn.execute(
            text("SELECT count(*) FROM deliveries WHERE status = 'succeeded'")
        ).scalar_one()
        attempts = conn.execute(text("SELECT count(*) FROM attempts")).scalar_one()
    return int(succeeded), int(attempts)


async def drain(
    store: Store, settings: Settings, events: int, cap_seconds: float
) -> tuple[float, float, bool]:
    """Run one Worker until ``events`` attempts are committed or the cap; (wall s, CPU s, capped).

    ``on_records`` fires after ``record_attempts`` commits, so the clock stops at the commit of
    the last delivery; the totals are then read back from the database by the caller."""
    committed = 0
    done = asyncio.Event()

    def on_records(records: list[AttemptRecord]) -> None:
        nonlocal committed
        committed += len(records)
        if committed >= events:
            done.set()

    client = AiohttpDeliveryClient(settings.allowed_networks())
    worker = Worker(store, client, settings, owner="bench-drain", on_records=on_records)
    stop = asyncio.Event()
    cpu0 = time.process_time()
    t0 = time.perf_counter()
    task = asyncio.create_task(worker.run(stop))
    with contextlib.suppress(TimeoutError):
        await asyncio.wait_for(done.wait(), timeout=cap_seconds)
    seconds = time.perf_counter() - t0
    cpu = time.process_time() - cpu0
    stop.set()
    try:
        await asyncio.wait_for(task, timeout=STOP_SECONDS)
    finally:
        await client.close()
    print(
        f"    worker stats: claimed {worker.stats.claimed}, sent {worker.stats.sent}, "
        f"succeeded {worker.stats.succeeded}, released {worker.stats.released}",
        file=sys.stderr,
        flush=True,
    )
    return seconds, cpu, not done.is_set()


def runner(loop_name: str) -> Callable[[Coroutine[Any, Any, T]], T]:
    if loop_name == "uvloop":
        import uvloop

        return uvloop.run
    return asyncio.run


def run_store(
    name: str,
    database_url: str,
    receiver_url: str,
    args: argparse.Namespace,
    overrides: dict[str, Any],
) -> DrainRun:
    settings = make_settings(database_url, overrides)
    store = open_store(settings, run_migrations=True)
    try:
        intake = seed(store, receiver_url, args.events)
        seconds, cpu, capped = runner(args.loop)(
            drain(store, settings, args.events, args.cap_seconds)
        )
        succeeded, attempts = count(store)
    finally:
        store.engine.dispose()
    run = DrainRun(args.events, intake, seconds, succeeded, attempts, cpu, capped)
    print(
        f"    {name}: intake {run.intake_rate:.0f} events/s, drain {seconds:.2f} s, "
        f"{run.rate:.0f} deliveries/s ({succeeded} succeeded, {attempts} attempts)"
        f"{' CAPPED' if capped else ''}",
        file=sys.stderr,
        flush=True,
    )
    return run


def versions_line(loop_name: str) -> str:
    def version(name: str) -> str:
        try:
            return metadata.version(name)
        except metadata.PackageNotFoundError:
            return "absent"

    import sqlite3

    return (
        f"python {platform.python_version()} ({loop_name} loop) | SQLAlchemy "
        f"{version('sqlalchemy')} | aiohttp {version('aiohttp')} | "
        f"sqlite {sqlite3.sqlite_version} | psycopg {version('psycopg')}"
    )


def postgres_version() -> str:
    engine = create_engine(POSTGRES_ADMIN_URL)
    try:
        with engine.connect() as conn:
            return str(conn.execute(text("SHOW server_version")).scalar_one()).split()[0]
    finally:
        engine.dispose()


def overrides_from(args: argparse.Namespace) -> dict[str, Any]:
    out: dict[str, Any] = {}
    if args.batch is not None:
        out["GATEWAY_WORKER_BATCH_SIZE"] = args.batch
    if args.concurrency is not None:
        out["GATEWAY_WORKER_CONCURRENCY"] = args.concurrency
    if args.destination_concurrency is not None:
        out["GATEWAY_DESTINATION_CONCURRENCY"] = args.destination_concurrency
    return out


def print_table(
    results: list[StoreRuns], args: argparse.Namespace, size: int, concurrency: int
) -> None:
    print(
        f"{args.events} events -> {args.events} deliveries of {size} B, 1 destination, "
        f"median of {args.runs}; ceiling = aiohttp at concurrency {concurrency}, same body size"
    )
    print(
        f"{'store':<10} {'intake ev/s':>11} {'drain s':>8} {'deliv/s':>8} {'ceiling/s':>9} "
        f"{'ratio':>6} {'CPU us/dlv':>10}  runs (deliv/s | ratio)"
    )
    for r in results:
        each = ", ".join(f"{x.rate:.0f}{'*' if x.capped else ''}" for x in r.runs)
        ratios = ", ".join(f"{x.ratio:.2f}" for x in r.runs)
        ratio = r.median("rate") / r.median("ceiling")
        print(
            f"{r.name:<10} {r.median('intake_rate'):>11.0f} {r.median('drain_seconds'):>8.2f} "
            f"{r.median('rate'):>8.0f} {r.median('ceiling'):>9.0f} {ratio:>5.2f}x "
            f"{r.median('cpu_us'):>10.0f}  {each} | {ratios}"
        )
    if any(x.capped for r in results for x in r.runs):
        print(f"* run hit the {args.cap_seconds:g} s cap; its rate counts what was committed")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=20_000, help="backlog size per run")
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--postgres", action="store_true", help="also drain a fresh PostgreSQL db")
    parser.add_argument("--batch", type=int, help="GATEWAY_WORKER_BATCH_SIZE (default 200)")
    parser.add_argument("--concurrency", type=int, help="GATEWAY_WORKER_CONCURRENCY (default 256)")
    parser.add_argument(
        "--destination-concurrency", type=int, help="GATEWAY_DESTINATION_CONCURRENCY (default 32)"
    )
    parser.add_argument("--cap-seconds", type=float, default=CAP_SECONDS, help="per drain")
    parser.add_argument(
        "--loop",
        choices=["asyncio", "uvloop"],
        default="asyncio",
        help="event loop of the worker and of the ceiling client",
    )
    args = parser.parse_args(argv)
    if args.events < 1 or args.runs < 1 or args.cap_seconds <= 0:
        parser.error("--events, --runs and --cap-seconds must be positive")

    overrides = overrides_from(args)
    settings = make_settings("sqlite:///unused.db", overrides)
    concurrency = min(settings.worker_concurrency, settings.destination_concurrency)
    stores = ["sqlite"] + (["postgres"] if args.postgres else [])
    size = body_size()
    body = make_body(size)

    print(machine_line())
    server = f" | PostgreSQL {postgres_version()}" if args.postgres else ""
    print(versions_line(args.loop) + server)
    print(
        f"settings: worker_batch_size={settings.worker_batch_size} "
        f"worker_concurrency={settings.worker_concurrency} "
        f"destination_concurrency={settings.destination_concurrency} "
        f"lease_seconds={settings.lease_seconds:g} "
        f"worker_idle_seconds={settings.worker_idle_seconds:g} -> effective concurrency "
        f"{concurrency}{' (overridden: ' + ', '.join(overrides) + ')' if overrides else ''}"
    )

    results = {name: StoreRuns(name) for name in stores}
    budget = args.runs * (len(stores) * (args.cap_seconds + STOP_SECONDS + 120) + 120)
    with receiver(budget) as rec:
        for run in range(args.runs):
            print(f"  run {run + 1}/{args.runs}", file=sys.stderr, flush=True)
            ceiling = runner(args.loop)(aiohttp_ceiling(rec.url, args.events, concurrency, body))
            print(f"    ceiling: {ceiling:.0f} req/s", file=sys.stderr, flush=True)
            for name in stores:
                with postgres_url() if name == "postgres" else sqlite_url() as url:
                    result = run_store(name, url, rec.url, args, overrides)
                result.ceiling = ceiling
                results[name].runs.append(result)
    print_table(list(results.values()), args, size, concurrency)
    expected = args.runs * args.events * (1 + len(stores))
    print(
        f"receiver served {rec.served} requests (expected {expected}), "
        f"{rec.cpu_seconds / max(rec.served, 1) * 1e6:.0f} us CPU each"
    )
    incomplete = [
        x
        for r in results.values()
        for x in r.runs
        if x.capped or x.succeeded != x.events or x.attempts != x.events
    ]
    if incomplete:
        print(f"WARNING: {len(incomplete)} runs did not commit every delivery exactly once")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
