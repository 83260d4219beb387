"""The raw HTTP client ceiling on loopback: how many webhook-shaped POSTs/s each client can send.

    .venv/bin/python bench/client_ceiling.py [--n 5000] [--concurrency 64] [--runs 3]

Starts ``bench/receiver.py`` on 127.0.0.1 (a free port), then for each client posts a ~2 KiB JSON
body with the 8 headers a delivery carries (CONTRACT.md §4), ``--n`` times at ``--concurrency``,
``--runs`` times, clients interleaved within each run. Prints the machine, the versions, the median
requests/s per client and its ratio to aiohttp measured in the same run. Each run is capped at
``--cap-seconds``; a capped run reports what it completed and is marked.

``aiohttp_ceiling`` is importable so other benchmarks (bench/drain.py) can print the ceiling
alongside their own figure.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import platform
import resource
import select
import socket
import statistics
import subprocess
import sys
import time
from collections.abc import Awaitable, Callable, Iterator
from dataclasses import dataclass, field
from importlib import metadata
from pathlib import Path

import aiohttp
import httpx

from gateway.signing import signature_headers

RECEIVER = Path(__file__).resolve().with_name("receiver.py")
BODY_BYTES = 2048
CAP_SECONDS = 60.0
READY_TIMEOUT_SECONDS = 10.0
# A fixed test secret: the bench signs one body once, outside the timed loop.
BENCH_SECRET = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"

Post = Callable[[], Awaitable[int]]


@dataclass
class RunResult:
    """One client's run: requests answered 200, failures, wall seconds, whether the cap hit."""

    ok: int
    errors: int
    seconds: float
    capped: bool
    cpu_seconds: float = 0.0  # this process's CPU time during the run

    @property
    def rate(self) -> float:
        return self.ok / self.seconds if self.seconds > 0 else 0.0

    @property
    def cpu_us_per_request(self) -> float:
        done = self.ok + self.errors
        return self.cpu_seconds / done * 1e6 if done else 0.0


@dataclass
class ClientRuns:
    name: str
    runs: list[RunResult] = field(default_factory=list)

    @property
    def median(self) -> float:
        return statistics.median(r.rate for r in self.runs)

    @property
    def median_cpu_us(self) -> float:
        return statistics.median(r.cpu_us_per_request for r in self.runs)


def make_body(size: int = BODY_BYTES) -> bytes:
    """A webhook event of about ``size`` bytes (JSON, deterministic)."""
    event = {
        "id": "evt_01J9BENCH0000000000000000",
        "type": "run.completed",
        "timestamp": "2026-01-01T00:00:00Z",
        "tenantId": "ten_bench",
        "data": {"runId": "run_bench", "answers": [], "pad": ""},
    }
    raw = json.dumps(event, separators=(",", ":")).encode()
    event["data"]["pad"] = "x" * max(0, size - len(raw))  # type: ignore[index]
    return json.dumps(event, separators=(",", ":")).encode()


def make_headers(body: bytes) -> dict[str, str]:
    """The 8 headers of one delivery attempt (CONTRACT.md §4), signed once."""
    headers = {
        "content-type": "application/json",
        "user-agent": "person-gateway/bench",
        "x-gateway-delivery-id": "dlv_01J9BENCH0000000000000000",
        "x-gateway-attempt": "1",
        "x-gateway-test": "true",
    }
    headers.update(signature_headers("evt_01J9BENCH0000000000000000", 0, body, [BENCH_SECRET]))
    return headers


async def drive(post: Post, n: int, concurrency: int, cap_seconds: float) -> RunResult:
    """Call ``post`` ``n`` times from ``concurrency`` workers; stop issuing at ``cap_seconds``."""
    issued = ok = errors = 0
    start = time.perf_counter()
    cpu_start = time.process_time()
    deadline = start + cap_seconds

    async def worker() -> None:
        nonlocal issued, ok, errors
        while issued < n and time.perf_counter() < deadline:
            issued += 1
            try:
                status = await post()
            except Exception:  # a bench counts failures; it does not stop on them
                errors += 1
                continue
            if status == 200:
                ok += 1
            else:
                errors += 1

    tasks = [asyncio.create_task(worker()) for _ in range(min(concurrency, n))]
    # Backstop: a request stuck past the cap is cancelled, not waited on.
    _done, pending = await asyncio.wait(tasks, timeout=cap_seconds + 5)
    for task in pending:
        task.cancel()
    await asyncio.gather(*pending, return_exceptions=True)
    seconds = time.perf_counter() - start
    cpu = time.process_time() - cpu_start
    return RunResult(ok, errors, seconds, capped=ok + errors < n, cpu_seconds=cpu)


async def run_aiohttp(
    url: str, n: int, concurrency: int, body: bytes, cap_seconds: float = CAP_SECONDS
) -> RunResult:
    headers = make_headers(body)
    connector = aiohttp.TCPConnector(limit=concurrency)
    async with aiohttp.ClientSession(connector=connector) as session:

        async def post() -> int:
            async with session.post(url, data=body, headers=headers) as response:
                await response.read()
                return response.status

        return await drive(post, n, concurrency, cap_seconds)


async def aiohttp_ceiling(url: str, n: int, concurrency: int, body: bytes) -> float:
    """Requests/s one ``aiohttp.ClientSession`` (TCPConnector(limit=concurrency)) achieves
    posting ``body`` ``n`` times to ``url``; raises ``RuntimeError`` if any request failed."""
    result = await run_aiohttp(url, n, concurrency, body)
    if result.errors or result.capped:
        raise RuntimeError(
            f"aiohttp ceiling run incomplete: {result.ok} ok, {result.errors} errors, "
            f"capped={result.capped}"
        )
    return result.rate


async def run_gateway_client(
    url: str, n: int, concurrency: int, body: bytes, cap_seconds: float = CAP_SECONDS
) -> RunResult:
    """The worker's own client (``AiohttpDeliveryClient``: the outbound guard, no redirects, a
    4 KiB response excerpt), so its cost over the bare session shows."""
    from gateway import netguard
    from gateway.delivery.client import AiohttpDeliveryClient

    headers = make_headers(body)
    client = AiohttpDeliveryClient(netguard.parse_allowlist("127.0.0.0/8"), limit=concurrency)
    try:

        async def post() -> int:
            return (await client.send(url, body, headers, 15.0)).status_code

        return await drive(post, n, concurrency, cap_seconds)
    finally:
        await client.close()


async def run_httpx(
    url: str,
    n: int,
    concurrency: int,
    body: bytes,
    cap_seconds: float,
    *,
    client: httpx.AsyncClient,
) -> RunResult:
    headers = make_headers(body)
    async with client:

        async def post() -> int:
            response = await client.post(url, content=body, headers=headers)
            return response.status_code

        return await drive(post, n, concurrency, cap_seconds)


def httpx_aiohttp_transport() -> httpx.AsyncBaseTransport | None:
    try:
        from httpx_aiohttp import AiohttpTransport
    except ImportError:
        return None
    transport: httpx.AsyncBaseTransport = AiohttpTransport()
    return transport


Runner = Callable[[str, int, int, bytes, float], Awaitable[RunResult]]


def clients(concurrency: int) -> dict[str, Runner]:
    """Name -> runner; each runner builds a fresh client so every run pays its own connects."""
    pool = httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)
    found: dict[str, Runner] = {
        "httpx (default pool)": lambda *a: run_httpx(*a, client=httpx.AsyncClient()),
        f"httpx (pool={concurrency}, keepalive={concurrency})": lambda *a: run_httpx(
            *a, client=httpx.AsyncClient(limits=pool)
        ),
    }
    if httpx_aiohttp_transport() is not None:
        found["httpx + httpx-aiohttp transport"] = lambda *a: run_httpx(
            *a, client=httpx.AsyncClient(transport=httpx_aiohttp_transport())
        )
    found[f"aiohttp (TCPConnector limit={concurrency})"] = run_aiohttp
    found["gateway AiohttpDeliveryClient"] = run_gateway_client
    return found


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


@dataclass
class Receiver:
    """The running bench/receiver.py: its URL and, once stopped, what it did."""

    url: str
    served: int = 0
    cpu_seconds: float = 0.0


@contextlib.contextmanager
def receiver(seconds: float) -> Iterator[Receiver]:
    """Run bench/receiver.py on a free loopback port for at most ``seconds``; fill in its
    request count and CPU time when the block exits."""
    port = free_port()
    proc = subprocess.Popen(
        [sys.executable, str(RECEIVER), "--port", str(port), "--seconds", str(int(seconds))],
        stdout=subprocess.PIPE,
        text=True,
    )
    assert proc.stdout is not None
    try:
        deadline = time.monotonic() + READY_TIMEOUT_SECONDS
        line = ""
        while line.strip() != "ready":
            remaining = deadline - time.monotonic()
            if remaining <= 0 or not select.select([proc.stdout], [], [], remaining)[0]:
                break
            line = proc.stdout.readline()
            if not line and proc.poll() is not None:
                raise RuntimeError("receiver exited before it was ready")
        if line.strip() != "ready":
            raise RuntimeError("receiver not ready in time")
        stats = Receiver(f"http://127.0.0.1:{port}/hooks/bench")
        yield stats
    finally:
        proc.terminate()
        try:
            out, _ = proc.communicate(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            out, _ = proc.communicate()
    for tail in out.splitlines():
        if tail.startswith("served "):
            stats.served = int(tail.split()[1])
    # The receiver is this process's only child, so its reaped CPU time is the children's total.
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    stats.cpu_seconds = usage.ru_utime + usage.ru_stime


def cpu_model() -> str:
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    return platform.processor() or "cpu n/a"


def machine_line() -> str:
    return f"machine: {platform.platform()} | {os.cpu_count()} CPUs | {cpu_model()}"


def versions_line(loop_name: str) -> str:
    def version(name: str) -> str:
        try:
            return metadata.version(name)
        except metadata.PackageNotFoundError:
            return "absent"

    return (
        f"python {platform.python_version()} ({loop_name} loop) | httpx {version('httpx')} | "
        f"aiohttp {version('aiohttp')} | httpx-aiohttp {version('httpx-aiohttp')} | "
        f"httpcore {version('httpcore')}"
    )


async def measure(
    url: str, n: int, concurrency: int, runs: int, cap_seconds: float, only: list[str] | None = None
) -> list[ClientRuns]:
    body = make_body()
    chosen = {
        k: v for k, v in clients(concurrency).items() if only is None or any(o in k for o in only)
    }
    results = {name: ClientRuns(name) for name in chosen}
    for run in range(runs):
        # Interleave clients inside each run so drift (thermal, neighbours) hits all alike.
        for name, runner in chosen.items():
            result = await runner(url, n, concurrency, body, cap_seconds)
            results[name].runs.append(result)
            flag = " CAPPED" if result.capped else ""
            print(
                f"  run {run + 1}/{runs} {name:<40} {result.rate:>9.0f} req/s "
                f"({result.ok} ok, {result.errors} errors, {result.seconds:.2f} s){flag}",
                file=sys.stderr,
                flush=True,
            )
    return list(results.values())


def print_table(results: list[ClientRuns], n: int, concurrency: int, runs: int) -> None:
    base = next((r for r in results if r.name.startswith("aiohttp")), None)
    baseline = base.median if base is not None else 0.0
    print(f"{n} POSTs of {BODY_BYTES} B + 8 headers, concurrency {concurrency}, median of {runs}")
    print(
        f"{'client':<42} {'median req/s':>12} {'vs aiohttp':>10} {'CPU us/req':>10}  runs (req/s)"
    )
    for r in results:
        ratio = r.median / baseline if baseline else float("nan")
        each = ", ".join(f"{x.rate:.0f}{'*' if x.capped else ''}" for x in r.runs)
        errors = sum(x.errors for x in r.runs)
        note = f"  [{errors} errors]" if errors else ""
        print(
            f"{r.name:<42} {r.median:>12.0f} {ratio:>9.2f}x {r.median_cpu_us:>10.0f}  {each}{note}"
        )
    if any(x.capped for r in results for x in r.runs):
        print("* run hit the time cap; its rate counts only the requests completed")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=5000, help="POSTs per run")
    parser.add_argument("--concurrency", type=int, default=64)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--cap-seconds", type=float, default=CAP_SECONDS, help="per run")
    parser.add_argument("--loop", choices=["asyncio", "uvloop"], default="asyncio")
    parser.add_argument(
        "--clients", help="comma-separated parts of client names to run (default: all)"
    )
    args = parser.parse_args(argv)
    only = args.clients.split(",") if args.clients else None
    if args.n < 1 or args.concurrency < 1 or args.runs < 1:
        parser.error("--n, --concurrency and --runs must be positive")

    run = asyncio.run
    if args.loop == "uvloop":
        import uvloop

        run = uvloop.run
    print(machine_line())
    print(versions_line(args.loop))
    budget = args.runs * len(clients(args.concurrency)) * (args.cap_seconds + 5) + 30
    with receiver(budget) as stats:
        results = run(
            measure(stats.url, args.n, args.concurrency, args.runs, args.cap_seconds, only)
        )
    print_table(results, args.n, args.concurrency, args.runs)
    sent = sum(x.ok + x.errors for r in results for x in r.runs)
    if stats.served:
        # If the receiver's CPU per request is well below a client's, it is not the bottleneck.
        print(
            f"receiver served {stats.served} requests (clients completed {sent}), "
            f"{stats.cpu_seconds / stats.served * 1e6:.0f} us CPU each"
        )
    errors = sum(x.errors for r in results for x in r.runs)
    if errors:
        print(f"WARNING: {errors} requests failed; the figures above are not a ceiling")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
