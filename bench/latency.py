"""Accept -> delivered latency of single events under open-loop load, against real processes.

    .venv/bin/python bench/latency.py                           # 20, 100, 500 events/s x 10 s
    .venv/bin/python bench/latency.py --rates 100 --seconds 5 --stores sqlite
    .venv/bin/python bench/latency.py --json bench/latency.json # the figures for bench/plot.py
    .venv/bin/python bench/latency.py --env GATEWAY_WORKER_IDLE_SECONDS=0.01   # try a setting

Open loop: event ``i`` of a phase is sent at ``t0 + i / rate`` whatever the gateway is doing, so a
slow gateway cannot slow the load down (a closed loop would hide its latency). At most
``--max-inflight`` requests are outstanding; an event due while that many are waiting is not sent
and is counted (``over cap``). Each POST is one ``task.completed`` event (the catalog example, with
an id chosen here) to ``POST /integrations/events``.

The receiver runs inside this process, on the same event loop as the sender, so both read one
monotonic clock: it records when each delivery's request was complete, keyed by ``webhook-id``
(the event id). Delivered latency = arrival - the moment the POST was issued; accept latency =
the POST answered - issued. Stores, each against subprocesses on 127.0.0.1:

- ``sqlite``: one ``gateway serve`` on a temp SQLite file (API, worker, scheduler in one process);
- ``postgres``: a scratch database (created, ``gateway migrate``, dropped), ``gateway serve`` and
  one separate ``gateway worker``.

The baseline, measured in the same run at each rate, is the same open-loop sender posting the same
bodies straight to the receiver: the wire's own latency on this machine. Prints the machine, the
versions, the settings, and per store and rate p50/p90/p99/max and delivered/expected.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator, Sequence
from copy import deepcopy
from dataclasses import dataclass, field
from importlib import metadata
from pathlib import Path
from typing import Any

if __package__ in (None, ""):  # run as a script: make `bench` and `gateway` importable
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import aiohttp
import orjson

from bench.client_ceiling import free_port, machine_line
from bench.receiver import Counter, ReceiverProtocol
from gateway.catalog import catalog
from gateway.sandbox.postgres import scratch_postgres_database
from gateway.settings import Settings

POSTGRES_ADMIN_URL = os.environ.get(
    "GATEWAY_TEST_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"
)
ADMIN_KEY = "bench-latency-admin-key"
ENCRYPTION_KEY = "x7rV4q3pZ5m2Y0b9P8Kj1QyTn6Ws3Hd2Lc0Fv5Ga8Eo="  # a fixed test key
TENANT = "ten_latency"
EVENT_TYPE = "task.completed"
READY_SECONDS = 60.0  # a gateway process must answer (or say it runs) within this
STOP_SECONDS = 30.0  # SIGTERM, then kill
ANSWER_SECONDS = 30.0  # one POST's own timeout
WARMUP_EVENTS = 20  # sent at 20/s before a store's first phase; not counted


# -- pure helpers (tests/bench/test_latency_stats.py) ---------------------------------------------
def percentile(values: Sequence[float], q: float) -> float:
    """The ``q``-th percentile (0-100) with linear interpolation between closest ranks (numpy's
    default); NaN for no values."""
    if not values:
        return float("nan")
    if not 0 <= q <= 100:
        raise ValueError(f"percentile {q} is outside 0..100")
    ordered = sorted(values)
    rank = (len(ordered) - 1) * q / 100
    low = int(rank)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (rank - low)


def summarise_ms(seconds: Sequence[float]) -> dict[str, float]:
    """p50/p90/p99/max of durations in seconds, as milliseconds."""
    ms = [s * 1000 for s in seconds]
    return {
        "p50": percentile(ms, 50),
        "p90": percentile(ms, 90),
        "p99": percentile(ms, 99),
        "max": max(ms) if ms else float("nan"),
    }


def schedule(rate: float, seconds: float) -> list[float]:
    """Offsets (s) of an open-loop phase: ``rate`` events per second for ``seconds``."""
    return [i / rate for i in range(max(1, round(rate * seconds)))]


# -- the receiver ---------------------------------------------------------------------------------
class Arrivals:
    """When each event id's first delivery was complete at the receiver (monotonic seconds)."""

    def __init__(self) -> None:
        self.counter = Counter()
        self.first: dict[str, float] = {}
        self.duplicates = 0

    def arrive(self, event_id: str, at: float) -> None:
        if event_id in self.first:
            self.duplicates += 1
        else:
            self.first[event_id] = at


class ArrivalProtocol(ReceiverProtocol):
    """bench/receiver.py's protocol, also recording each request's ``webhook-id`` and arrival."""

    def __init__(self, arrivals: Arrivals) -> None:
        self.arrivals = arrivals
        self._event_id: str | None = None
        super().__init__(arrivals.counter)

    # httptools callback: one complete header.
    def on_header(self, name: bytes, value: bytes) -> None:
        if name.lower() == b"webhook-id":
            self._event_id = value.decode()

    def on_message_complete(self) -> None:
        if self._event_id is not None:
            self.arrivals.arrive(self._event_id, time.monotonic())
            self._event_id = None
        super().on_message_complete()


# -- the open-loop sender -------------------------------------------------------------------------
@dataclass
class Send:
    scheduled: float
    sent: float
    answered: float | None = None
    status: int | None = None
    error: str | None = None


@dataclass
class Phase:
    """One store at one rate: what was sent, answered and delivered."""

    store: str
    rate: float
    seconds: float
    due: int
    sends: dict[str, Send] = field(default_factory=dict)
    over_cap: int = 0
    delivered: dict[str, float] = field(default_factory=dict)  # event id -> latency (s)
    duplicates: int = 0
    cpu_ms_per_event: dict[str, float] = field(default_factory=dict)  # per gateway process

    @property
    def accepted(self) -> list[str]:
        return [i for i, s in self.sends.items() if s.status in (200, 202)]

    @property
    def errors(self) -> int:
        return sum(1 for s in self.sends.values() if s.status not in (200, 202))

    def figures(self) -> dict[str, Any]:
        answered = [s.answered - s.sent for s in self.sends.values() if s.answered is not None]
        lag = [s.sent - s.scheduled for s in self.sends.values()]
        after = [  # arrival - the 202 read here: the worker's part, intake excluded
            latency - ((self.sends[i].answered or self.sends[i].sent) - self.sends[i].sent)
            for i, latency in self.delivered.items()
        ]
        return {
            "store": self.store,
            "rate": self.rate,
            "seconds": self.seconds,
            "due": self.due,
            "sent": len(self.sends),
            "over_cap": self.over_cap,
            "errors": self.errors,
            "expected": len(self.accepted),
            "delivered": len(self.delivered),
            "duplicates": self.duplicates,
            "latency_ms": summarise_ms(list(self.delivered.values())),
            "accept_ms": summarise_ms(answered),
            "after_accept_ms": summarise_ms(after),
            "send_lag_ms": summarise_ms(lag),
            "cpu_ms_per_event": dict(self.cpu_ms_per_event),
        }


def event_body(event_id: str, data: dict[str, Any]) -> bytes:
    return orjson.dumps({"id": event_id, "tenantId": TENANT, "type": EVENT_TYPE, "data": data})


async def open_loop(
    session: aiohttp.ClientSession,
    url: str,
    phase: Phase,
    bodies: list[tuple[str, bytes]],
    headers: dict[str, str],
    *,
    max_inflight: int,
    direct: bool,
) -> None:
    """Send ``bodies`` at ``phase.rate`` on schedule, whatever the answers; ``direct`` (the
    baseline) also sets ``webhook-id`` so the receiver records it."""
    inflight = 0

    async def one(event_id: str, body: bytes, scheduled: float) -> None:
        nonlocal inflight
        send = phase.sends[event_id] = Send(scheduled, time.monotonic())
        try:
            extra = {"webhook-id": event_id} if direct else {}
            async with session.post(url, data=body, headers={**headers, **extra}) as resp:
                await resp.read()
                send.status = resp.status
        except (aiohttp.ClientError, TimeoutError) as exc:
            send.error = type(exc).__name__
        finally:
            send.answered = time.monotonic()
            inflight -= 1

    tasks: list[asyncio.Task[None]] = []
    t0 = time.monotonic() + 0.05
    for offset, (event_id, body) in zip(schedule(phase.rate, phase.seconds), bodies, strict=True):
        scheduled = t0 + offset
        delay = scheduled - time.monotonic()
        if delay > 0:
            await asyncio.sleep(delay)
        if inflight >= max_inflight:
            phase.over_cap += 1
            continue
        inflight += 1  # counted now: a late loop creates several tasks before any starts
        tasks.append(asyncio.create_task(one(event_id, body, scheduled)))
    if tasks:
        await asyncio.wait(tasks, timeout=ANSWER_SECONDS + 5)


async def collect(phase: Phase, arrivals: Arrivals, drain_seconds: float) -> None:
    """Wait (bounded) for every accepted event to arrive, then compute the latencies."""
    accepted = phase.accepted
    dups0 = arrivals.duplicates
    deadline = time.monotonic() + drain_seconds
    while time.monotonic() < deadline:
        if all(i in arrivals.first for i in accepted):
            break
        await asyncio.sleep(0.05)
    await asyncio.sleep(0.2)  # let a late duplicate show
    for i in accepted:
        if i in arrivals.first:
            phase.delivered[i] = arrivals.first[i] - phase.sends[i].sent
    phase.duplicates = arrivals.duplicates - dups0


async def run_phase(
    session: aiohttp.ClientSession,
    store: str,
    target: str,
    rate: float,
    args: argparse.Namespace,
    arrivals: Arrivals,
    tag: str,
) -> Phase:
    direct = store == "baseline"
    data = deepcopy(catalog()[EVENT_TYPE].example)
    phase = Phase(store, rate, args.seconds, len(schedule(rate, args.seconds)))
    ids = [f"evt_lat_{tag}_{store}_{rate:g}_{n}" for n in range(phase.due)]
    bodies = [(i, event_body(i, data)) for i in ids]  # built outside the timed part
    headers = {"content-type": "application/json"}
    if not direct:
        headers["x-api-key"] = ADMIN_KEY
    await open_loop(
        session, target, phase, bodies, headers, max_inflight=args.max_inflight, direct=direct
    )
    await collect(phase, arrivals, args.drain_seconds)
    f = phase.figures()
    print(
        f"    {store} {rate:g}/s: delivered {f['delivered']}/{f['expected']}, "
        f"p50 {f['latency_ms']['p50']:.1f} ms, p99 {f['latency_ms']['p99']:.1f} ms, "
        f"accept p99 {f['accept_ms']['p99']:.1f} ms, over cap {phase.over_cap}, "
        f"errors {phase.errors}",
        file=sys.stderr,
        flush=True,
    )
    return phase


def cpu_seconds(pid: int) -> float:
    """User + system CPU seconds of a process so far (``/proc/PID/stat``); 0 once it is gone."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


# -- the gateway processes ------------------------------------------------------------------------
@dataclass
class Proc:
    name: str
    popen: subprocess.Popen[bytes]
    log: Path

    def tail(self, lines: int = 15) -> str:
        with contextlib.suppress(OSError):
            return "\n".join(self.log.read_text(errors="replace").splitlines()[-lines:])
        return ""


def gateway_env(database_url: str, extra: dict[str, str]) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("GATEWAY_")}
    env.update(
        {
            "GATEWAY_DATABASE_URL": database_url,
            "GATEWAY_ADMIN_KEY": ADMIN_KEY,
            "GATEWAY_ALLOW_PRIVATE_NETWORKS": "127.0.0.0/8",
            "GATEWAY_ENCRYPTION_KEY": ENCRYPTION_KEY,
            **extra,
        }
    )
    return env


def start(name: str, argv: list[str], env: dict[str, str], cwd: Path) -> Proc:
    """``gateway <argv>`` from this interpreter (this checkout's code), output to a log file."""
    log = cwd / f"{name}.log"
    with log.open("wb") as out:
        popen = subprocess.Popen(
            [sys.executable, "-m", "gateway.cli", *argv],
            env=env,
            cwd=cwd,
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    return Proc(name, popen, log)


def stop(procs: Sequence[Proc]) -> None:
    for p in procs:
        if p.popen.poll() is None:
            p.popen.send_signal(signal.SIGTERM)
    for p in procs:
        try:
            p.popen.wait(timeout=STOP_SECONDS)
        except subprocess.TimeoutExpired:
            p.popen.kill()
            p.popen.wait()


async def wait_ready(proc: Proc, check: Any) -> None:
    """Until ``await check()`` is true; fails with the process's log if it exits or times out."""
    deadline = time.monotonic() + READY_SECONDS
    while time.monotonic() < deadline:
        if proc.popen.poll() is not None:
            raise RuntimeError(f"{proc.name} exited {proc.popen.returncode}:\n{proc.tail()}")
        with contextlib.suppress(aiohttp.ClientError, OSError):
            if await check():
                return
        await asyncio.sleep(0.1)
    raise RuntimeError(f"{proc.name} not ready in {READY_SECONDS:g} s:\n{proc.tail()}")


def says_running(proc: Proc) -> Any:
    async def check() -> bool:
        return "running" in proc.log.read_text(errors="replace")

    return check


def answers_health(session: aiohttp.ClientSession, api: str) -> Any:
    async def check() -> bool:
        async with session.get(f"{api}/health") as resp:
            return resp.status == 200

    return check


@contextlib.contextmanager
def database(store: str, tmp: Path) -> Iterator[str]:
    if store == "sqlite":
        yield f"sqlite:///{tmp}/gateway.db"
    else:
        with scratch_postgres_database(POSTGRES_ADMIN_URL, "gw_latency") as url:
            yield url


async def start_gateway(
    store: str, env: dict[str, str], tmp: Path, session: aiohttp.ClientSession, port: int
) -> list[Proc]:
    """``sqlite``: ``gateway serve``; ``postgres``: ``gateway migrate``, then serve + worker."""
    procs: list[Proc] = []
    if store == "postgres":
        done = await asyncio.to_thread(
            subprocess.run,
            [sys.executable, "-m", "gateway.cli", "migrate"],
            env=env,
            cwd=tmp,
            capture_output=True,
            timeout=120,
        )
        if done.returncode:
            raise RuntimeError(f"gateway migrate failed: {done.stdout!r} {done.stderr!r}")
    serve = start("serve", ["serve", "--port", str(port), "--log-level", "warning"], env, tmp)
    procs.append(serve)
    try:
        await wait_ready(serve, answers_health(session, f"http://127.0.0.1:{port}"))
        if store == "postgres":
            worker = start("worker", ["worker"], env, tmp)
            procs.append(worker)
            await wait_ready(worker, says_running(worker))
    except BaseException:
        stop(procs)
        raise
    return procs


async def create_destination(session: aiohttp.ClientSession, api: str, url: str) -> None:
    body = {
        "tenantId": TENANT,
        "name": "latency",
        "connector": "webhook",
        "url": url,
        "eventTypes": [EVENT_TYPE],
    }
    headers = {"x-api-key": ADMIN_KEY}
    async with session.post(f"{api}/integrations/destinations", json=body, headers=headers) as r:
        if r.status != 201:
            raise RuntimeError(f"creating the destination answered {r.status}: {await r.text()}")


async def run_store(
    session: aiohttp.ClientSession,
    store: str,
    args: argparse.Namespace,
    arrivals: Arrivals,
    receiver_url: str,
    tag: str,
) -> list[Phase]:
    port = free_port()
    api = f"http://127.0.0.1:{port}"
    with tempfile.TemporaryDirectory(prefix="gw-latency-") as tmp, database(store, Path(tmp)) as db:
        env = gateway_env(db, dict(args.env))
        procs = await start_gateway(store, env, Path(tmp), session, port)
        try:
            await create_destination(session, api, receiver_url)
            warm = argparse.Namespace(**{**vars(args), "seconds": WARMUP_EVENTS / 20})
            await run_phase(session, f"{store}-warmup", f"{api}/integrations/events", 20, warm,
                            arrivals, tag)  # fmt: skip
            phases = []
            for rate in args.rates:
                target = f"{api}/integrations/events"
                cpu0 = {p.name: cpu_seconds(p.popen.pid) for p in procs}
                phase = await run_phase(session, store, target, rate, args, arrivals, tag)
                for p in procs:  # the gateway's CPU per event: what a busy machine starves
                    used = cpu_seconds(p.popen.pid) - cpu0[p.name]
                    phase.cpu_ms_per_event[p.name] = used * 1000 / max(1, len(phase.accepted))
                phases.append(phase)
            return phases
        finally:
            stop(procs)
            for p in procs:
                if p.popen.returncode not in (0, None):
                    print(f"    {p.name} exited {p.popen.returncode}:\n{p.tail()}", file=sys.stderr)


# -- the run --------------------------------------------------------------------------------------
def versions_line() -> str:
    def version(name: str) -> str:
        try:
            return metadata.version(name)
        except metadata.PackageNotFoundError:
            return "absent"

    import sqlite3

    return (
        f"python {sys.version.split()[0]} | person-gateway {version('person-gateway')} | "
        f"aiohttp {version('aiohttp')} | uvicorn {version('uvicorn')} | SQLAlchemy "
        f"{version('sqlalchemy')} | sqlite {sqlite3.sqlite_version} | psycopg {version('psycopg')}"
    )


def settings_line(extra: dict[str, str]) -> str:
    s = Settings(_env_file=None, **{"GATEWAY_DATABASE_URL": "sqlite:///unused.db", **extra})
    from gateway.delivery import worker

    coalesce = getattr(worker, "CLAIM_COALESCE_SECONDS", None)
    return (
        f"settings: worker_idle_seconds={s.worker_idle_seconds:g} "
        f"worker_batch_size={s.worker_batch_size} destination_concurrency="
        f"{s.destination_concurrency} CLAIM_COALESCE_SECONDS={coalesce}"
        + (f" (set here: {', '.join(f'{k}={v}' for k, v in extra.items())})" if extra else "")
    )


def print_table(phases: list[Phase], args: argparse.Namespace) -> None:
    wire = {p.rate: p.figures() for p in phases if p.store == "baseline"}
    print(
        f"open loop, single {EVENT_TYPE} events, {args.seconds:g} s per rate, "
        f"at most {args.max_inflight} in flight; latency in ms from the POST issued"
    )
    print(
        f"{'store':<9} {'rate/s':>6} {'delivered':>11} {'over cap':>8} {'err':>4} "
        f"{'p50':>8} {'p90':>8} {'p99':>8} {'max':>8} {'x wire p99':>10} "
        f"{'accept p50':>10} {'accept p99':>10} {'after p50':>9} {'after p99':>9} {'lag p99':>8}"
    )
    for p in phases:
        f = p.figures()
        lat, acc, aft = f["latency_ms"], f["accept_ms"], f["after_accept_ms"]
        base = wire.get(p.rate, {}).get("latency_ms", {}).get("p99")
        ratio = f"{lat['p99'] / base:.0f}x" if base else "-"
        print(
            f"{p.store:<9} {p.rate:>6g} {f['delivered']:>5}/{f['expected']:<5} "
            f"{f['over_cap']:>8} {f['errors']:>4} {lat['p50']:>8.1f} {lat['p90']:>8.1f} "
            f"{lat['p99']:>8.1f} {lat['max']:>8.1f} {ratio:>10} {acc['p50']:>10.1f} "
            f"{acc['p99']:>10.1f} {aft['p50']:>9.1f} {aft['p99']:>9.1f} "
            f"{f['send_lag_ms']['p99']:>8.1f}  "
            + " + ".join(f"{k} {v:.1f}" for k, v in p.cpu_ms_per_event.items())
        )
    print(
        "baseline = the same sender posting straight to the receiver (the wire); accept = POST "
        "answered; after = delivered - answered (the worker's part; intake excluded); lag = how "
        "late the sender issued a POST against its schedule; CPU ms/event = each gateway process's "
        "CPU during the phase over the events accepted"
    )


async def measure(args: argparse.Namespace) -> list[Phase]:
    arrivals = Arrivals()
    loop = asyncio.get_running_loop()
    server = await loop.create_server(
        lambda: ArrivalProtocol(arrivals), "127.0.0.1", 0, backlog=1024
    )
    port = server.sockets[0].getsockname()[1]
    receiver_url = f"http://127.0.0.1:{port}/hooks/latency"
    tag = f"{int(time.time())}"
    connector = aiohttp.TCPConnector(limit=args.max_inflight)
    timeout = aiohttp.ClientTimeout(total=ANSWER_SECONDS)
    phases: list[Phase] = []
    try:
        async with aiohttp.ClientSession(connector=connector, timeout=timeout) as session:
            for rate in args.rates:
                phases.append(
                    await run_phase(session, "baseline", receiver_url, rate, args, arrivals, tag)
                )
            for store in args.stores:
                print(f"  {store}", file=sys.stderr, flush=True)
                phases += await run_store(session, store, args, arrivals, receiver_url, tag)
    finally:
        server.close()
    return phases


def parse_env(value: str) -> tuple[str, str]:
    key, sep, val = value.partition("=")
    if not sep or not key.startswith("GATEWAY_"):
        raise argparse.ArgumentTypeError("expected GATEWAY_NAME=value")
    return key, val


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--rates", type=lambda s: [float(x) for x in s.split(",")], default=[20.0, 100.0, 500.0]
    )
    parser.add_argument("--seconds", type=float, default=10.0, help="load per rate")
    parser.add_argument("--stores", type=lambda s: s.split(","), default=["sqlite", "postgres"])
    parser.add_argument("--max-inflight", type=int, default=256)
    parser.add_argument(
        "--drain-seconds", type=float, default=30.0, help="wait for the last deliveries"
    )
    parser.add_argument("--env", type=parse_env, action="append", default=[],
                        help="GATEWAY_X=value for the gateway processes (repeatable)")  # fmt: skip
    parser.add_argument("--json", type=Path, help="write the figures here (for bench/plot.py)")
    args = parser.parse_args(argv)
    if any(r <= 0 for r in args.rates) or args.seconds <= 0 or args.max_inflight < 1:
        parser.error("--rates, --seconds and --max-inflight must be positive")
    if bad := [s for s in args.stores if s not in ("sqlite", "postgres")]:
        parser.error(f"unknown store(s) {bad}: sqlite, postgres")

    print(f"{machine_line()} | load average {os.getloadavg()[0]:.1f} at the start")
    print(versions_line())
    print(settings_line(dict(args.env)))
    phases = [p for p in asyncio.run(measure(args)) if not p.store.endswith("-warmup")]
    print_table(phases, args)
    if args.json:
        out = {
            "machine": machine_line(),
            "versions": versions_line(),
            "settings": settings_line(dict(args.env)),
            "results": [p.figures() for p in phases],
        }
        args.json.write_text(json.dumps(out, indent=1) + "\n")
        print(f"wrote {args.json}")
    short = [p for p in phases if len(p.delivered) < len(p.accepted) or p.errors or p.over_cap]
    if short:
        print(f"WARNING: {len(short)} phase(s) lost, refused or skipped events (see the table)")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
