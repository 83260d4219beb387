"""Deliveries/s against the number of delivery processes: `gateway serve` + N-1 `gateway worker`.

    .venv/bin/python bench/processes.py                          # PostgreSQL 1, 2, 4; SQLite 1, 2
    .venv/bin/python bench/processes.py --events 5000 --json bench/processes.json
    .venv/bin/python bench/processes.py --no-sqlite --processes 1,2 --runs 2

Per run and per configuration: a fresh store (a fresh PostgreSQL database, dropped afterwards; a
temp SQLite file), ``--destinations`` disabled ``webhook`` destinations (one tenant each) pointing
at ``bench/receiver.py`` on 127.0.0.1, and ``--events`` events spread round-robin over the tenants
(one delivery each, held while the destination is disabled). Then the processes start as real
subprocesses with the default settings (``gateway serve`` on a free port, and N-1 ``gateway
worker``); once every one is up, the destinations are enabled through serve's API, and the clock
runs until the database counts every delivery ``succeeded`` (or ``--cap-seconds``). Deliveries/s is
that count over that time; "steady" is the rate between 10 % and 90 % of the backlog (without the
start and the tail). The ratio is to one process measured in the same run; "CPU us/dlv" is the
processes' CPU (user + system, all of them, from the enable on) per delivery.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import select
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

if __package__ in (None, ""):  # run as a script: make `bench` and `gateway` importable
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import httpx
from sqlalchemy import text

from bench.client_ceiling import free_port, machine_line, receiver
from gateway.catalog import catalog
from gateway.models import DestinationStatus
from gateway.sandbox.postgres import scratch_postgres_database
from gateway.settings import Settings
from gateway.store import EventIn, Store, open_store

POSTGRES_ADMIN_URL = os.environ.get(
    "GATEWAY_TEST_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"
)
ENCRYPTION_KEY = "x7rV4q3pZ5m2Y0b9P8Kj1QyTn6Ws3Hd2Lc0Fv5Ga8Eo="
ADMIN_KEY = "bench-admin-key"
EVENT_TYPE = "task.completed"
INGEST_BATCH = 1000
READY_SECONDS = 60.0  # for every process to be up
SETTLE_SECONDS = 1.0  # then let their first (empty) claims pass
STOP_SECONDS = 30.0


def env_for(url: str) -> dict[str, str]:
    return {
        **os.environ,
        "GATEWAY_DATABASE_URL": url,
        "GATEWAY_ADMIN_KEY": ADMIN_KEY,
        "GATEWAY_ALLOW_PRIVATE_NETWORKS": "127.0.0.0/8",
        "GATEWAY_ENCRYPTION_KEY": ENCRYPTION_KEY,
        "GATEWAY_WORKER_PROCESSES": "0",  # the workers are started here, one Popen each
    }


@contextlib.contextmanager
def database(kind: str) -> Iterator[str]:
    if kind == "postgres":
        with scratch_postgres_database(POSTGRES_ADMIN_URL, "gw_procs") as url:
            yield url
    else:
        with tempfile.TemporaryDirectory(prefix="gw-procs-") as tmp:
            yield f"sqlite:///{tmp}/gateway.db"


def seed(store: Store, url: str, destinations: int, events: int) -> list[str]:
    """Disabled destinations (one tenant each) and their held backlog; returns their ids."""
    ids = []
    for i in range(destinations):
        row, _ = store.create_destination(
            {
                "tenant_id": f"ten_{i}",
                "name": f"procs-{i}",
                "connector": "webhook",
                "url": f"{url}?d={i}",
                "event_types": [EVENT_TYPE],
            }
        )
        store.set_destination_status(row.id, DestinationStatus.DISABLED, "bench: held")
        ids.append(row.id)
    data = catalog()[EVENT_TYPE].example
    for start in range(0, events, INGEST_BATCH):
        store.ingest_events(
            [
                EventIn(tenant_id=f"ten_{i % destinations}", type=EVENT_TYPE, data=data)
                for i in range(start, min(events, start + INGEST_BATCH))
            ]
        )
    return ids


def succeeded(store: Store) -> int:
    with store.engine.connect() as conn:
        return int(
            conn.execute(
                text("SELECT count(*) FROM deliveries WHERE status = 'succeeded'")
            ).scalar_one()
        )


def total(store: Store) -> int:
    with store.engine.connect() as conn:
        return int(conn.execute(text("SELECT count(*) FROM deliveries")).scalar_one())


def start_processes(url: str, workers: int, cwd: str) -> tuple[list[subprocess.Popen[str]], int]:
    """``gateway serve`` and ``workers`` × ``gateway worker``, all up; the processes, the port."""
    env = env_for(url)
    port = free_port()
    cli = [sys.executable, "-m", "gateway.cli"]
    procs = [
        subprocess.Popen(
            [*cli, "serve", "--port", str(port), "--log-level", "warning"],
            env=env,
            cwd=cwd,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
    ]
    procs += [
        subprocess.Popen(
            [*cli, "worker"],
            env=env,
            cwd=cwd,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        for _ in range(workers)
    ]
    deadline = time.monotonic() + READY_SECONDS
    for proc, word in [(procs[0], "serving on"), *((p, "running") for p in procs[1:])]:
        assert proc.stdout is not None
        line = ""
        while word not in line:
            remaining = deadline - time.monotonic()
            if remaining <= 0 or not select.select([proc.stdout], [], [], remaining)[0]:
                raise RuntimeError(f"a process was not up in {READY_SECONDS:.0f} s")
            line = proc.stdout.readline()
            if not line and proc.poll() is not None:
                raise RuntimeError(f"a process exited before it was up (exit {proc.returncode})")
    return procs, port


def stop_processes(procs: list[subprocess.Popen[str]]) -> None:
    for proc in procs:
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
    for proc in procs:
        try:
            proc.communicate(timeout=STOP_SECONDS)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.communicate()


def cpu_seconds(procs: list[subprocess.Popen[str]]) -> float:
    """The processes' CPU so far (Linux ``/proc``; 0 elsewhere), start-up excluded by the caller."""
    ticks = os.sysconf("SC_CLK_TCK")
    used = 0.0
    for proc in procs:
        with contextlib.suppress(OSError):
            fields = Path(f"/proc/{proc.pid}/stat").read_text().rsplit(")", 1)[1].split()
            used += (int(fields[11]) + int(fields[12])) / ticks  # utime, stime
    return used


def run_one(kind: str, processes: int, args: argparse.Namespace, url: str) -> dict[str, Any]:
    with database(kind) as db_url, tempfile.TemporaryDirectory(prefix="gw-procs-cwd-") as cwd:
        settings = Settings(_env_file=None, **env_for(db_url))  # type: ignore[arg-type]
        store = open_store(settings, run_migrations=True)
        try:
            destinations = seed(store, url, args.destinations, args.events)
            expected = total(store)
            procs, port = start_processes(db_url, processes - 1, cwd)
            try:
                time.sleep(SETTLE_SECONDS)
                cpu_before = cpu_seconds(procs)
                api = f"http://127.0.0.1:{port}/integrations/destinations"
                start = time.perf_counter()
                for destination_id in destinations:
                    r = httpx.post(
                        f"{api}/{destination_id}/enable",
                        headers={"x-api-key": ADMIN_KEY},
                        timeout=30,
                    )
                    r.raise_for_status()
                samples: list[tuple[float, int]] = []
                done = 0
                while done < expected and time.perf_counter() - start < args.cap_seconds:
                    time.sleep(0.2)
                    done = succeeded(store)
                    samples.append((time.perf_counter() - start, done))
                seconds = time.perf_counter() - start
                cpu = cpu_seconds(procs) - cpu_before
            finally:
                stop_processes(procs)
        finally:
            store.engine.dispose()
    row = {
        "store": kind,
        "processes": processes,
        "workers": processes - 1,
        "deliveries": done,
        "expected": expected,
        "seconds": round(seconds, 2),
        "rate": done / seconds,
        "steady": steady_rate(samples, expected),
        "cpu_us": cpu / max(done, 1) * 1e6,
        "capped": done < expected,
    }
    print(
        f"  {kind} x{processes}: {row['rate']:.0f} dlv/s (steady {row['steady']:.0f}), "
        f"{done}/{expected} in {seconds:.1f} s",
        file=sys.stderr,
        flush=True,
    )
    return row


def steady_rate(samples: list[tuple[float, int]], expected: int) -> float:
    """Deliveries/s between the samples at 10 % and at 90 % of the backlog."""
    low = next((s for s in samples if s[1] >= expected * 0.1), None)
    high = next((s for s in samples if s[1] >= expected * 0.9), None)
    if low is None or high is None or high[0] <= low[0]:
        return 0.0
    return (high[1] - low[1]) / (high[0] - low[0])


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--events", type=int, default=10_000)
    parser.add_argument("--destinations", type=int, default=8)
    parser.add_argument("--processes", default="1,2,4", help="PostgreSQL process counts")
    parser.add_argument("--sqlite-processes", default="1,2", help="SQLite process counts")
    parser.add_argument("--runs", type=int, default=1, help="runs (median); configs interleaved")
    parser.add_argument("--cap-seconds", type=float, default=180.0, help="per configuration")
    parser.add_argument("--no-postgres", action="store_true")
    parser.add_argument("--no-sqlite", action="store_true")
    parser.add_argument("--json", type=Path, help="write the figures here")
    args = parser.parse_args(argv)
    configs = []
    if not args.no_postgres:
        configs += [("postgres", int(n)) for n in args.processes.split(",")]
    if not args.no_sqlite:
        configs += [("sqlite", int(n)) for n in args.sqlite_processes.split(",")]
    print(machine_line())
    print(
        f"{args.events} events over {args.destinations} destinations, default settings, "
        f"serve + N-1 workers, median of {args.runs}; ratio to 1 process of the same store"
    )
    runs: dict[tuple[str, int], list[dict[str, Any]]] = {c: [] for c in configs}
    budget = (args.cap_seconds + 60) * len(configs) * args.runs + 60
    with receiver(seconds=budget) as rec:
        for _ in range(args.runs):
            for kind, processes in configs:  # interleaved, so drift hits every config alike
                runs[(kind, processes)].append(run_one(kind, processes, args, rec.url))
    rows = []
    for got in runs.values():
        rows.append(
            {
                **got[0],
                "rate": statistics.median(r["rate"] for r in got),
                "steady": statistics.median(r["steady"] for r in got),
                "cpu_us": statistics.median(r["cpu_us"] for r in got),
                "runs": [round(r["rate"], 1) for r in got],
                "capped": any(r["capped"] for r in got),
            }
        )
    print(
        f"{'store':<9} {'procs':>5} {'dlv/s':>7} {'ratio':>6} {'steady':>7} {'ratio':>6} "
        f"{'CPU us/dlv':>10}  runs"
    )
    for row in rows:
        base = next(r for r in rows if r["store"] == row["store"] and r["processes"] == 1)
        row["ratio"] = row["rate"] / base["rate"] if base["rate"] else 0.0
        row["steady_ratio"] = row["steady"] / base["steady"] if base["steady"] else 0.0
        print(
            f"{row['store']:<9} {row['processes']:>5} {row['rate']:>7.0f} {row['ratio']:>5.2f}x "
            f"{row['steady']:>7.0f} {row['steady_ratio']:>5.2f}x {row['cpu_us']:>10.0f}  "
            f"{', '.join(f'{r:.0f}' for r in row['runs'])}{' (capped)' if row['capped'] else ''}"
        )
    if args.json:
        args.json.write_text(json.dumps({"machine": machine_line(), "rows": rows}, indent=1))
    return 1 if any(r["capped"] for r in rows) else 0


if __name__ == "__main__":
    sys.exit(main())
