"""Peak memory of one gateway process draining a large backlog: does RSS grow with the backlog?

    .venv/bin/python bench/rss.py                          # 1,000,000 deliveries, SQLite, serve
    .venv/bin/python bench/rss.py --events 100000          # a smaller backlog
    .venv/bin/python bench/rss.py --events 300000 --store postgres --process worker

Seeds, in this process and before the gateway starts, one ``webhook`` destination pointing at
``bench/receiver.py`` (127.0.0.1) and ``--events`` ``task.completed`` events with the store's batch
intake (``Store.ingest_events``, 1000 per transaction; one delivery each). Then starts ``gateway
serve`` (or ``gateway worker``) as a subprocess on that database and, every ``--sample-seconds``,
reads its ``VmRSS`` and ``VmHWM`` (the kernel's peak RSS) from ``/proc/PID/status``; every
``--progress-seconds`` it counts the deliveries still ``pending`` or ``sending``. It stops when
none are left or at ``--cap-seconds``, reads the final ``VmHWM``, and stops the process with
SIGTERM. Prints the drain rate, the peak RSS, and the RSS at each tenth of the backlog delivered
(growth with the backlog shows as a rising column).
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import sys
import tempfile
import time
from collections.abc import Iterator
from copy import deepcopy
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

if __package__ in (None, ""):  # run as a script: make `bench` and `gateway` importable
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from sqlalchemy import create_engine, text

from bench.client_ceiling import free_port, machine_line, receiver
from bench.latency import ENCRYPTION_KEY, gateway_env, start, stop, versions_line
from gateway.catalog import catalog
from gateway.sandbox.postgres import scratch_postgres_database
from gateway.settings import Settings
from gateway.store import EventIn, open_store
from gateway.store.engine import normalise_url

POSTGRES_ADMIN_URL = os.environ.get(
    "GATEWAY_TEST_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"
)
TENANT = "ten_rss"
EVENT_TYPE = "task.completed"
INGEST_BATCH = 1000
MB = 1024 * 1024
REPORT_SECONDS = 30.0  # a progress line on stderr this often


@dataclass
class Sample:
    seconds: float  # since the process started
    rss_mb: float
    hwm_mb: float
    delivered: int  # at the latest progress count


def read_status(pid: int) -> tuple[float, float]:
    """(VmRSS, VmHWM) of ``pid`` in MB; (0, 0) once it is gone."""
    values = {"VmRSS": 0.0, "VmHWM": 0.0}
    with contextlib.suppress(OSError):
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            key, _, rest = line.partition(":")
            if key in values:
                values[key] = int(rest.split()[0]) * 1024 / MB  # kB
    return values["VmRSS"], values["VmHWM"]


@contextlib.contextmanager
def database(store: str, tmp: Path) -> Iterator[str]:
    if store == "sqlite":
        yield f"sqlite:///{tmp}/gateway.db"
    else:
        with scratch_postgres_database(POSTGRES_ADMIN_URL, "gw_rss") as url:
            yield url


def seed(database_url: str, receiver_url: str, events: int) -> float:
    """The destination and ``events`` events (fanned out to it); returns the seeding seconds."""
    settings = Settings(
        _env_file=None,
        **{
            "GATEWAY_DATABASE_URL": database_url,
            "GATEWAY_ALLOW_PRIVATE_NETWORKS": "127.0.0.0/8",
            "GATEWAY_ENCRYPTION_KEY": ENCRYPTION_KEY,
        },
    )
    store = open_store(settings, run_migrations=True)
    data = deepcopy(catalog()[EVENT_TYPE].example)
    t0 = time.perf_counter()
    try:
        store.create_destination(
            {
                "tenant_id": TENANT,
                "name": "rss",
                "connector": "webhook",
                "url": receiver_url,
                "event_types": [EVENT_TYPE],
            }
        )
        for start_at in range(0, events, INGEST_BATCH):
            n = min(INGEST_BATCH, events - start_at)
            store.ingest_events(
                [EventIn(tenant_id=TENANT, type=EVENT_TYPE, data=data) for _ in range(n)]
            )
            if (start_at // INGEST_BATCH) % 100 == 99:
                done = start_at + n
                rate = done / (time.perf_counter() - t0)
                print(f"    seeded {done} ({rate:.0f}/s)", file=sys.stderr, flush=True)
    finally:
        store.engine.dispose()
    return time.perf_counter() - t0


def remaining(engine: Any) -> int:
    with engine.connect() as conn:
        return int(
            conn.execute(
                text("SELECT count(*) FROM deliveries WHERE status IN ('pending', 'sending')")
            ).scalar_one()
        )


def drain(args: argparse.Namespace, env: dict[str, str], tmp: Path) -> dict[str, Any]:
    """Run the gateway process on the seeded database until it is drained or the cap."""
    argv = ["serve", "--port", str(free_port()), "--log-level", "warning"]
    proc = start(args.process, argv if args.process == "serve" else ["worker"], env, tmp)
    engine = create_engine(normalise_url(env["GATEWAY_DATABASE_URL"]))
    samples: list[Sample] = []
    delivered = 0
    t0 = time.monotonic()
    first_delivery: float | None = None
    next_progress = next_report = t0
    hwm = 0.0
    try:
        while time.monotonic() - t0 < args.cap_seconds:
            if proc.popen.poll() is not None:
                raise RuntimeError(f"{args.process} exited {proc.popen.returncode}:\n{proc.tail()}")
            now = time.monotonic()
            rss, hwm = read_status(proc.popen.pid)
            if now >= next_progress:
                delivered = args.events - remaining(engine)
                next_progress = now + args.progress_seconds
                if delivered and first_delivery is None:
                    first_delivery = now - t0
                if now >= next_report:
                    next_report = now + REPORT_SECONDS
                    print(f"    {now - t0:.0f} s: delivered {delivered}, RSS {rss:.0f} MB, "
                          f"HWM {hwm:.0f} MB", file=sys.stderr, flush=True)  # fmt: skip
            samples.append(Sample(now - t0, rss, hwm, delivered))
            if delivered >= args.events:
                break
            time.sleep(args.sample_seconds)
        elapsed = time.monotonic() - t0
        _, final_hwm = read_status(proc.popen.pid)
        delivered = args.events - remaining(engine)
    finally:
        stop([proc])
        engine.dispose()
    final_hwm = final_hwm or hwm
    return {
        "delivered": delivered,
        "seconds": elapsed,
        "first_delivery_seconds": first_delivery,
        "capped": delivered < args.events,
        "peak_rss_mb": max([s.rss_mb for s in samples] + [0.0]),
        "final_hwm_mb": final_hwm,
        "samples": [asdict(s) for s in samples],
    }


def at_fractions(result: dict[str, Any], events: int) -> list[tuple[int, float, float]]:
    """(delivered, RSS MB, HWM MB) at the first sample past each tenth of the backlog."""
    rows = []
    samples = result["samples"]
    for tenth in range(1, 11):
        mark = events * tenth // 10
        hit = next((s for s in samples if s["delivered"] >= mark), None)
        if hit is not None:
            rows.append((hit["delivered"], hit["rss_mb"], hit["hwm_mb"]))
    return rows


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=1_000_000, help="backlog (deliveries)")
    parser.add_argument("--store", choices=["sqlite", "postgres"], default="sqlite")
    parser.add_argument("--process", choices=["serve", "worker"], default="serve")
    parser.add_argument("--cap-seconds", type=float, default=1800.0, help="bound on the drain")
    parser.add_argument("--sample-seconds", type=float, default=0.5)
    parser.add_argument("--progress-seconds", type=float, default=2.0)
    parser.add_argument("--json", type=Path, help="write the figures and samples here")
    args = parser.parse_args(argv)
    if args.events < 1 or args.cap_seconds <= 0:
        parser.error("--events and --cap-seconds must be positive")

    print(f"{machine_line()} | load average {os.getloadavg()[0]:.1f} at the start")
    print(versions_line())
    with (
        tempfile.TemporaryDirectory(prefix="gw-rss-") as tmp,
        database(args.store, Path(tmp)) as db,
        receiver(args.cap_seconds + 3600) as rec,
    ):
        seeding = seed(db, rec.url, args.events)
        print(
            f"seeded {args.events} deliveries in {seeding:.0f} s ({args.events / seeding:.0f}/s)",
            flush=True,
        )
        result = drain(args, gateway_env(db, {}), Path(tmp))
    rate = result["delivered"] / result["seconds"] if result["seconds"] else 0.0
    print(
        f"{args.store}, gateway {args.process}, backlog {args.events}: delivered "
        f"{result['delivered']} in {result['seconds']:.0f} s ({rate:.0f} deliveries/s"
        f"{', CAPPED at ' + format(args.cap_seconds, 'g') + ' s' if result['capped'] else ''}); "
        f"first delivery after {result['first_delivery_seconds'] or float('nan'):.1f} s"
    )
    print(
        f"peak RSS {result['peak_rss_mb']:.0f} MB sampled, VmHWM {result['final_hwm_mb']:.0f} MB "
        f"at the end; receiver served {rec.served}"
    )
    print(f"{'delivered':>10} {'RSS MB':>7} {'HWM MB':>7}")
    for delivered, rss, hwm in at_fractions(result, args.events):
        print(f"{delivered:>10} {rss:>7.0f} {hwm:>7.0f}")
    if args.json:
        summary = {k: v for k, v in result.items()}
        summary.update({"store": args.store, "process": args.process, "events": args.events})
        summary["deliveries_per_second"] = rate
        args.json.write_text(json.dumps(summary) + "\n")
    return 1 if result["capped"] else 0


if __name__ == "__main__":
    sys.exit(main())
