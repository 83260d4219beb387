"""Where one Worker's time goes while it drains a backlog: py-spy over the drain only.

    .venv/bin/pip install py-spy        # not a project dependency
    .venv/bin/python bench/profile_drain.py [--events 20000] [--store sqlite|postgres] [--top 25]

Seeds like ``bench/drain.py`` (one webhook destination on a loopback receiver, a backlog of
``--events``), then attaches ``py-spy record --gil`` to this process for the drain alone, so
seeding is not in the profile. ``--gil`` keeps only samples of the thread holding the GIL: on this
CPU-bound process that is where the wall time goes, across the event loop and the ``to_thread``
store calls alike. Prints the top functions by own time and the share of each worker stage
(inclusive), and leaves the collapsed stacks in ``--out`` (flamegraph.pl or speedscope read them).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import shutil
import signal
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

if __package__ in (None, ""):
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.client_ceiling import receiver
from bench.drain import count, drain, make_settings, postgres_url, seed, sqlite_url
from gateway.store import open_store

# Inclusive shares: a sample counts for a stage when any frame matches "function (file" text.
STAGES = {
    "claim_due (store)": "claim_due (",
    "_load: events + destinations (store)": "_load (",
    "record_attempts (store)": "record_attempts (",
    "renew_leases (store)": "renew_leases (",
    "prepare: render + sign": "prepare (",
    "  render (json.dumps of envelope)": "render (",
    "  signature_headers (HMAC)": "signature_headers (",
    "redact headers": "redact (",
    "client.send (aiohttp)": "send (gateway/delivery/client.py",
    "_record (retry decision, record)": "_record (",
    "event loop thread (all of it)": "_run_once (",
    "to_thread pool (all of it)": "Thread._bootstrap (",
    "sqlalchemy (any)": "sqlalchemy/",
}


def summarise(path: Path, top: int) -> None:
    own: Counter[str] = Counter()
    stages: Counter[str] = Counter()
    total = 0
    for line in path.read_text().splitlines():
        stack, _, count = line.rpartition(" ")
        if not stack:
            continue
        samples = int(count)
        total += samples
        frames = stack.split(";")
        own[_short(frames[-1])] += samples
        for name, needle in STAGES.items():
            if any(needle in f for f in frames):
                stages[name] += samples
    print(f"{total} samples holding the GIL")
    print("stage (inclusive)                          share")
    for name in STAGES:
        print(f"  {name:<40} {stages[name] / total:>6.1%}")
    print(f"top {top} functions by own time")
    for function, n in own.most_common(top):
        print(f"  {n / total:>6.1%}  {function}")


def _short(frame: str) -> str:
    # py-spy raw frames look like "function (path/to/file.py:123)"; drop the line, shorten paths.
    name, _, where = frame.partition(" (")
    where = where.rstrip(")").rsplit(":", 1)[0]
    for marker in ("site-packages/", "python3.11/", "/work/main/"):
        if marker in where:
            where = where.split(marker, 1)[1]
    return f"{name} ({where})"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=20_000)
    parser.add_argument("--store", choices=["sqlite", "postgres"], default="sqlite")
    parser.add_argument("--rate", type=int, default=200, help="py-spy samples/s")
    parser.add_argument("--top", type=int, default=25)
    parser.add_argument("--out", type=Path, default=Path("/tmp/drain-profile.txt"))
    parser.add_argument("--cap-seconds", type=float, default=300.0)
    args = parser.parse_args(argv)
    spy = shutil.which("py-spy") or str(Path(sys.executable).with_name("py-spy"))
    if not Path(spy).exists():
        parser.error("py-spy not found: .venv/bin/pip install py-spy")

    with (
        receiver(args.cap_seconds + 120) as rec,
        postgres_url() if args.store == "postgres" else sqlite_url() as url,
    ):
        settings = make_settings(url, {})
        store = open_store(settings, run_migrations=True)
        seed(store, rec.url, args.events)
        proc = subprocess.Popen(
            [
                spy,
                "record",
                "--pid",
                str(os.getpid()),
                "--gil",
                "--rate",
                str(args.rate),
                "--format",
                "raw",
                "-o",
                str(args.out),
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
        )
        time.sleep(1.0)  # let py-spy attach before the drain starts
        try:
            seconds, _cpu, capped = asyncio.run(
                drain(store, settings, args.events, args.cap_seconds)
            )
        finally:
            proc.send_signal(signal.SIGINT)
            try:
                proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
        succeeded, _ = count(store)
        store.engine.dispose()
    print(
        f"{args.store}: {succeeded} deliveries in {seconds:.2f} s = {succeeded / seconds:.0f}/s"
        f"{' (CAPPED)' if capped else ''}"
    )
    summarise(args.out, args.top)
    return 0


if __name__ == "__main__":
    sys.exit(main())
