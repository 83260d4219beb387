"""Soak: steady events for a long time with retention set to minutes; does the database plateau?

    nice .venv/bin/python bench/soak.py --minutes 30 --rate 20 [--no-postgres]
    .venv/bin/python bench/soak.py --plot bench/soak.jsonl   # redraw bench/soak.png only

For each store (a temp SQLite file; a fresh PostgreSQL database unless ``--no-postgres``), in one
process: a producer ingests ``--rate`` events per second (``survey.response.completed``-like data
of about 2 KiB each, a fan-out to one ``webhook`` destination on ``bench/receiver.py`` at
127.0.0.1), one ``Worker`` delivers them, and the real pruning tick (``gateway.retention
.Pruner.tick``) runs every ``--prune-seconds`` with ``GATEWAY_PAYLOAD_RETENTION_DAYS`` and
``GATEWAY_HISTORY_RETENTION_DAYS`` set to ``--payload-minutes`` and ``--history-minutes``. Every
``--sample-seconds`` it appends one JSON line per store to ``--out``: the SQLite file and WAL sizes
(and free pages), or PostgreSQL's table, index and TOAST sizes per table and the database size,
with the live row counts. Bounded: it stops after ``--minutes``; every request goes to 127.0.0.1.
At the end it prints the machine, the versions and, per store, the size at each quarter of the run
and the growth over the second half (a plateau is a growth near zero), and draws the PNG.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import sys
import tempfile
import time
from contextlib import ExitStack
from datetime import UTC, datetime
from importlib import metadata
from pathlib import Path
from typing import Any

if __package__ in (None, ""):
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from sqlalchemy import text

from bench.client_ceiling import machine_line, receiver
from gateway.delivery.client import AiohttpDeliveryClient
from gateway.delivery.worker import Worker
from gateway.retention import Pruner
from gateway.sandbox.postgres import scratch_postgres_database
from gateway.settings import Settings
from gateway.store import EventIn, Store, open_store

POSTGRES_ADMIN_URL = os.environ.get(
    "GATEWAY_TEST_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"
)
ENCRYPTION_KEY = "x7rV4q3pZ5m2Y0b9P8Kj1QyTn6Ws3Hd2Lc0Fv5Ga8Eo="
TENANT = "ten_soak"
TABLES = ("events", "deliveries", "attempts", "delivery_changes")
HERE = Path(__file__).resolve().parent


def event_data(n: int) -> dict[str, Any]:
    """About 2 KiB of survey answers, with a respondent's email (what erasure is for)."""
    return {
        "responseId": f"resp_{n}",
        "source": "typeform",
        "formId": "form_soak",
        "submittedAt": datetime.now(UTC).isoformat(),
        "respondent": {"email": f"person{n}@example.com", "name": f"Person {n}"},
        "answers": [
            {"field": f"q{i}", "type": "text", "value": f"answer {n}-{i} " + "lorem ipsum " * 12}
            for i in range(12)
        ],
    }


def settings_for(url: str, args: argparse.Namespace) -> Settings:
    return Settings(
        GATEWAY_DATABASE_URL=url,
        GATEWAY_ENCRYPTION_KEY=ENCRYPTION_KEY,
        GATEWAY_ALLOW_PRIVATE_NETWORKS="127.0.0.0/8",
        GATEWAY_PAYLOAD_RETENTION_DAYS=args.payload_minutes / 1440,
        GATEWAY_HISTORY_RETENTION_DAYS=args.history_minutes / 1440,
        GATEWAY_WORKER_IDLE_SECONDS=0.1,
    )


def sample(store: Store) -> dict[str, Any]:
    out: dict[str, Any] = {"databaseBytes": store.database_bytes()}
    with store.read() as conn:
        out["rows"] = {
            t: int(conn.execute(text(f"SELECT count(*) FROM {t}")).scalar_one()) for t in TABLES
        }
        if store.dialect == "postgresql":
            out["tables"] = {
                t: {
                    "heap": int(conn.execute(text(f"SELECT pg_relation_size('{t}')")).scalar_one()),
                    "indexes": int(
                        conn.execute(text(f"SELECT pg_indexes_size('{t}')")).scalar_one()
                    ),
                    "total": int(
                        conn.execute(text(f"SELECT pg_total_relation_size('{t}')")).scalar_one()
                    ),
                }
                for t in TABLES
            }
            out["tablesBytes"] = sum(v["total"] for v in out["tables"].values())
    path = store.sqlite_path()
    if path is not None:
        out["fileBytes"] = os.path.getsize(path)
        out["walBytes"] = os.path.getsize(f"{path}-wal") if os.path.exists(f"{path}-wal") else 0
        raw = store.engine.raw_connection()
        try:
            cur = raw.cursor()
            out["freePages"] = int(cur.execute("PRAGMA freelist_count").fetchone()[0])
            out["pageCount"] = int(cur.execute("PRAGMA page_count").fetchone()[0])
        finally:
            raw.close()
    return out


async def soak_store(
    name: str, store: Store, settings: Settings, url: str, args: argparse.Namespace, out: Any
) -> None:
    store.create_destination(
        {
            "tenant_id": TENANT,
            "name": "soak",
            "connector": "webhook",
            "url": url,
            "event_types": ["survey.response.completed"],
        }
    )
    client = AiohttpDeliveryClient(settings.allowed_networks())
    worker = Worker(store, client, settings, owner=f"soak-{name}")
    stop = asyncio.Event()
    started = time.monotonic()
    end = started + args.minutes * 60

    async def produce() -> None:
        n = 0
        while time.monotonic() < end:
            tick = time.monotonic()
            items = [
                EventIn(tenant_id=TENANT, type="survey.response.completed", data=event_data(n + i))
                for i in range(args.rate)
            ]
            n += args.rate
            await asyncio.to_thread(store.ingest_events, items)
            worker.wakeup.set()
            await asyncio.sleep(max(0.0, 1.0 - (time.monotonic() - tick)))

    pruner = Pruner(store, settings)  # what the scheduler's "retention" job runs

    async def prune() -> None:
        while time.monotonic() < end:
            await asyncio.sleep(args.prune_seconds)
            await asyncio.to_thread(pruner.tick)

    async def watch() -> None:
        while True:
            snap = await asyncio.to_thread(sample, store)
            snap.update(store=name, t=round(time.monotonic() - started, 1))
            out.write(json.dumps(snap) + "\n")
            out.flush()
            print(f"{name:9} t={snap['t']:7.0f}s bytes={snap['databaseBytes']:>11,} {snap['rows']}")
            if time.monotonic() >= end:
                return
            await asyncio.sleep(args.sample_seconds)

    runner = asyncio.create_task(worker.run(stop))
    await asyncio.gather(produce(), prune(), watch())
    stop.set()
    await runner
    await client.close()


def summary(lines: list[dict[str, Any]]) -> list[str]:
    report = []
    for name in sorted({s["store"] for s in lines}):
        rows = [s for s in lines if s["store"] == name]
        key = "tablesBytes" if name == "postgres" else "databaseBytes"
        quarter = [rows[min(len(rows) - 1, round(q * (len(rows) - 1) / 4))] for q in range(5)]
        sizes = " ".join(f"{s['t'] / 60:.0f}m={s[key] / 1e6:.1f}MB" for s in quarter)
        half = rows[len(rows) // 2]
        growth = (rows[-1][key] - half[key]) / 1e6
        peak = max(s[key] for s in rows) / 1e6
        report.append(
            f"{name}: {key} {sizes} | peak {peak:.1f} MB | second half growth {growth:+.1f} MB"
        )
    return report


def plot(lines: list[dict[str, Any]], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, 2, figsize=(12, 4.5))
    sqlite = [s for s in lines if s["store"] == "sqlite"]
    if sqlite:
        t = [s["t"] / 60 for s in sqlite]
        axes[0].plot(t, [s["fileBytes"] / 1e6 for s in sqlite], label="gateway.db")
        axes[0].plot(t, [s["walBytes"] / 1e6 for s in sqlite], label="gateway.db-wal")
        axes[0].set_title("SQLite")
    pg = [s for s in lines if s["store"] == "postgres"]
    if pg:
        t = [s["t"] / 60 for s in pg]
        for table in TABLES:
            axes[1].plot(t, [s["tables"][table]["total"] / 1e6 for s in pg], label=table)
        axes[1].plot(t, [s["tablesBytes"] / 1e6 for s in pg], label="all four", linestyle="--")
        axes[1].set_title("PostgreSQL (table + index + TOAST)")
    for ax in axes:
        ax.set_xlabel("minutes")
        ax.set_ylabel("MB")
        ax.legend(fontsize=8)
        ax.grid(alpha=0.3)
    fig.suptitle("bench/soak.py: steady events, retention in minutes")
    fig.tight_layout()
    fig.savefig(path, dpi=100)


async def main(args: argparse.Namespace) -> None:
    out_path = Path(args.out)
    print(machine_line())
    print(f"python {platform.python_version()} | sqlalchemy {metadata.version('sqlalchemy')}")
    print(
        f"rate {args.rate}/s for {args.minutes} min; payload retention {args.payload_minutes} min,"
        f" history {args.history_minutes} min; prune every {args.prune_seconds} s"
    )
    with ExitStack() as stack, out_path.open("w") as out:
        rec = stack.enter_context(receiver(args.minutes * 60 + 120))
        tmp = stack.enter_context(tempfile.TemporaryDirectory(prefix="soak-"))
        urls = {"sqlite": f"sqlite:///{tmp}/gateway.db"}
        if not args.no_postgres:
            urls["postgres"] = stack.enter_context(
                scratch_postgres_database(POSTGRES_ADMIN_URL, "gw_soak")
            )
        jobs = []
        for name, db_url in urls.items():
            settings = settings_for(db_url, args)
            store = open_store(settings)
            stack.callback(store.engine.dispose)
            jobs.append(soak_store(name, store, settings, rec.url, args, out))
        await asyncio.gather(*jobs)
    lines = [json.loads(line) for line in out_path.read_text().splitlines()]
    for line in summary(lines):
        print(line)
    plot(lines, Path(args.png))


def parse() -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--minutes", type=float, default=30.0, help="run length (default 30)")
    p.add_argument("--rate", type=int, default=20, help="events per second per store (20)")
    p.add_argument("--payload-minutes", type=float, default=2.0, help="payload retention (2)")
    p.add_argument("--history-minutes", type=float, default=5.0, help="history retention (5)")
    p.add_argument("--prune-seconds", type=float, default=30.0, help="pruning period (30)")
    p.add_argument("--sample-seconds", type=float, default=30.0, help="sampling period (30)")
    p.add_argument("--no-postgres", action="store_true", help="SQLite only")
    p.add_argument("--out", default=str(HERE / "soak.jsonl"), help="samples, one JSON a line")
    p.add_argument("--png", default=str(HERE / "soak.png"), help="the plot")
    p.add_argument("--plot", metavar="JSONL", help="only redraw the plot from these samples")
    return p.parse_args()


if __name__ == "__main__":
    arguments = parse()
    if arguments.plot:
        samples = [json.loads(x) for x in Path(arguments.plot).read_text().splitlines()]
        print("\n".join(summary(samples)))
        plot(samples, Path(arguments.png))
    else:
        asyncio.run(main(arguments))
