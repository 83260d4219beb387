"""The gateway beside the job queues people would otherwise build it on: same receiver, same body.

    .venv/bin/python bench/peers.py                      # 10,000 jobs, concurrency 32, 1 run
    .venv/bin/python bench/peers.py --jobs 5000 --runs 3 --peers arq,bullmq

Each peer (``bench/peers/``: Celery + Redis, arq + Redis, BullMQ + Redis) enqueues ``--jobs`` jobs,
then drains them with ``--concurrency`` in flight; each job signs the body (``v1``) and POSTs it
to ``bench/receiver.py`` on 127.0.0.1, and is done on the 2xx. The gateway does the same as one
``gateway serve`` process would: ``bench/drain.py``'s intake of the same number of events into a
temp SQLite store, then one ``Worker`` draining them (signed, sent, every attempt and status
committed). In the same run: the raw aiohttp ceiling against the same receiver, at the same
concurrency, with a body of the same size. Redis is the machine's (127.0.0.1:6379; database 15 is
flushed). The peers are installed by this script into a scratch folder outside the checkout
(``$PERSON_GATEWAY_CACHE``, default ``/var/cache/person-gateway``, ``bench-peers/``) and reused.
Every drain is capped (``--cap-seconds``); only loopback is ever contacted.
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import json
import os
import shutil
import statistics
import subprocess
import sys
import venv
from pathlib import Path
from typing import Any

if __package__ in (None, ""):
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench import drain as gateway_drain
from bench.client_ceiling import aiohttp_ceiling, machine_line, receiver
from connectors.webhook.adapter import dumps
from gateway.models import Event

HERE = Path(__file__).resolve().parent / "peers"
CACHE = Path(os.environ.get("PERSON_GATEWAY_CACHE", "/var/cache/person-gateway")) / "bench-peers"
REDIS_URL = "redis://127.0.0.1:6379/15"
PEERS = ("celery", "arq", "bullmq")


def _digest(*files: Path) -> str:
    h = hashlib.sha256()
    for f in files:
        h.update(f.read_bytes())
    return h.hexdigest()[:12]


def python_env() -> Path:
    """A scratch virtualenv with the Python peers; made once per requirements.txt."""
    req = HERE / "requirements.txt"
    target = CACHE / f"venv-{_digest(req)}"
    if not (target / "ok").exists():
        shutil.rmtree(target, ignore_errors=True)
        venv.create(target, with_pip=True)
        pip = [str(target / "bin/python"), "-m", "pip", "install", "-q"]
        subprocess.run([*pip, "-U", "pip"], check=True)  # the bundled pip backtracks into kombu 3
        subprocess.run([str(target / "bin/pip"), "install", "-q", "-r", str(req)], check=True)
        (target / "ok").write_text("")
    return target / "bin/python"


def node_env() -> Path:
    """A scratch folder with bullmq installed and the harness beside its node_modules."""
    target = CACHE / f"node-{_digest(HERE / 'package.json')}"
    if not (target / "ok").exists():
        shutil.rmtree(target, ignore_errors=True)
        target.mkdir(parents=True)
        shutil.copy(HERE / "package.json", target / "package.json")
        subprocess.run(
            ["npm", "install", "--silent", "--no-audit", "--no-fund"], cwd=target, check=True
        )
        (target / "ok").write_text("")
    shutil.copy(HERE / "bullmq_peer.mjs", target / "bullmq_peer.mjs")
    return target


def run_peer(
    name: str, jobs: int, concurrency: int, env: dict[str, str], cap: float
) -> dict[str, Any]:
    if name == "bullmq":
        folder = node_env()
        cmd, cwd = ["node", "bullmq_peer.mjs", str(jobs), str(concurrency)], folder
    else:
        cmd = [str(python_env()), f"{name}_peer.py", str(jobs), str(concurrency)]
        cwd = HERE
    out = subprocess.run(cmd, cwd=cwd, env=env, capture_output=True, text=True, timeout=cap)
    for line in out.stdout.splitlines():
        if line.startswith("RESULT "):
            result: dict[str, Any] = json.loads(line[len("RESULT ") :])
            return result
    raise RuntimeError(f"{name} printed no result:\n{out.stdout[-2000:]}\n{out.stderr[-2000:]}")


def versions() -> str:
    code = (
        "from importlib.metadata import version as v; "
        "print(' | '.join(f'{p} {v(p)}' for p in ('celery', 'kombu', 'arq', 'redis', 'aiohttp')))"
    )
    py = subprocess.run([str(python_env()), "-c", code], capture_output=True, text=True)
    node = node_env()
    bull = json.loads((node / "node_modules/bullmq/package.json").read_text())["version"]
    redis_server = subprocess.run(
        ["redis-cli", "-h", "127.0.0.1", "INFO", "server"], capture_output=True, text=True
    ).stdout
    redis_version = next(
        (x.split(":", 1)[1].strip() for x in redis_server.splitlines() if "redis_version" in x), "?"
    )
    node_version = subprocess.getoutput("node --version")
    return f"{py.stdout.strip()} | bullmq {bull} | node {node_version} | redis {redis_version}"


def envelope() -> bytes:
    event = Event(
        id="evt_01J9BENCH0000000000000000",
        tenant_id=gateway_drain.TENANT,
        type=gateway_drain.EVENT_TYPE,
        data=gateway_drain.event_data(),
        created_at=gateway_drain.datetime.now(gateway_drain.UTC),
    )
    return dumps(event.envelope())


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--jobs", type=int, default=10_000, help="jobs (events) per run")
    parser.add_argument("--concurrency", type=int, default=32, help="sends in flight")
    parser.add_argument("--runs", type=int, default=1, help="runs; medians are printed")
    parser.add_argument("--peers", default=",".join(PEERS), help="comma-separated peers")
    parser.add_argument("--cap-seconds", type=float, default=600.0, help="per peer drain")
    args = parser.parse_args(argv)
    peers = [p for p in args.peers.split(",") if p]
    body = envelope()
    rows: dict[str, list[tuple[float, float]]] = {p: [] for p in ["gateway", *peers]}
    ceilings: list[float] = []
    drain_args = argparse.Namespace(events=args.jobs, loop="asyncio", cap_seconds=args.cap_seconds)
    overrides = {"GATEWAY_DESTINATION_CONCURRENCY": str(args.concurrency)}
    with receiver(seconds=args.runs * args.cap_seconds * (len(peers) + 2)) as r:
        env = {
            **os.environ,
            "PEER_RECEIVER_URL": r.url,
            "PEER_BODY": body.decode(),
            "PEER_REDIS_URL": REDIS_URL,
        }
        for run in range(args.runs):
            ceilings.append(asyncio.run(aiohttp_ceiling(r.url, args.jobs, args.concurrency, body)))
            with gateway_drain.sqlite_url() as url:
                g = gateway_drain.run_store("gateway", url, r.url, drain_args, overrides)
            rows["gateway"].append((g.intake_rate, g.rate))
            for peer in peers:
                res = run_peer(peer, args.jobs, args.concurrency, env, args.cap_seconds + 120)
                if res["jobs"] != args.jobs:
                    raise RuntimeError(f"{peer} finished {res['jobs']} of {args.jobs} jobs")
                rows[peer].append((res["jobs"] / res["enqueue_s"], res["jobs"] / res["drain_s"]))
                print(f"  run {run + 1}: {peer} {rows[peer][-1][1]:.0f}/s", file=sys.stderr)
    ceiling = statistics.median(ceilings)
    print(machine_line())
    print(gateway_drain.versions_line("asyncio"))
    print(versions())
    print(
        f"{args.jobs} jobs of {len(body)} B, concurrency {args.concurrency}, median of {args.runs};"
        f" ceiling = raw aiohttp, same receiver, same run: {ceiling:.0f} req/s"
    )
    best_peer = max((statistics.median(v[1] for v in rows[p]) for p in peers), default=0.0)
    print(f"{'system':10} {'enqueue/s':>10} {'deliver/s':>10} {'vs ceiling':>11} {'gw vs it':>9}")
    gateway_rate = statistics.median(v[1] for v in rows["gateway"])
    for name, values in rows.items():
        enq = statistics.median(v[0] for v in values)
        rate = statistics.median(v[1] for v in values)
        vs = "" if name == "gateway" else f"{gateway_rate / rate:.2f}x"
        print(f"{name:10} {enq:10.0f} {rate:10.0f} {rate / ceiling:10.2f}x {vs:>9}")
    if best_peer:
        print(f"gateway / best peer: {gateway_rate / best_peer:.2f}x")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
