"""``gateway serve`` and ``gateway worker`` (CONTRACT §1).

Start-up order for ``serve``: settings, then the port (bound before anything else, so a clash
fails at once), then the store (opened and migrated here, so a database problem is one line, not
the lifespan's traceback), then the ``GATEWAY_WORKER_PROCESSES`` worker subprocesses, then uvicorn
on the bound socket. "serving on" is printed only once uvicorn has started listening on it. On
SIGTERM the workers get SIGTERM too and serve waits for their drain; on a ``kill -9`` they die with
it (Linux: ``PR_SET_PDEATHSIG``).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import ctypes
import signal
import subprocess
import sys
from typing import Any

from gateway.cli.common import add_command, bind_port, load_settings, open_store_or_fail
from gateway.redaction import mask_urls as masked_url


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = add_command(
        sub,
        "serve",
        help="run the API, the delivery worker and the scheduler (and "
        "GATEWAY_WORKER_PROCESSES worker subprocesses, default 0)",
        example="GATEWAY_ADMIN_KEY=change-me gateway serve --port 8080",
    )
    p.add_argument("--host", default="127.0.0.1", help="address to listen on")
    p.add_argument("--port", type=int, default=8080, help="TCP port to listen on")
    p.add_argument(
        "--log-level",
        default="info",
        choices=["critical", "error", "warning", "info", "debug"],
        help="uvicorn's log level",
    )
    p.set_defaults(func=cmd_serve)

    p = add_command(
        sub,
        "worker",
        help="run the delivery worker and the scheduler only (scale-out on PostgreSQL)",
        example="GATEWAY_DATABASE_URL=postgresql+psycopg://gateway@db/gateway gateway worker",
    )
    p.set_defaults(func=cmd_worker)


def cmd_serve(args: argparse.Namespace) -> int:
    import uvicorn

    from gateway.app import create_app

    settings = load_settings()
    sock = bind_port(args.host, args.port)
    try:
        store = open_store_or_fail(settings)
        app = create_app(settings, store=store)
        config = uvicorn.Config(
            app,
            log_level=args.log_level,
            timeout_graceful_shutdown=max(1, int(settings.shutdown_seconds)),
            lifespan="on",
        )
        banner = (
            f"person-gateway serving on http://{args.host}:{args.port} "
            f"(database {masked_url(settings.database_url)}); dashboard at /dashboard"
        )
        workers = _spawn_workers(settings.worker_processes)
        try:
            started = _run_server(config, sock, banner)
        finally:
            _stop_workers(workers, settings.shutdown_seconds + 10)
    finally:
        sock.close()
    return 0 if started else 1


PR_SET_PDEATHSIG = 1  # Linux prctl: a signal the child gets when its parent dies


def _die_with_parent() -> None:
    """In a worker subprocess before exec: die with serve (a ``kill -9`` of serve takes its
    workers with it, as it takes its in-process worker). Linux only; elsewhere nothing."""
    with contextlib.suppress(OSError, AttributeError):
        ctypes.CDLL(None, use_errno=True).prctl(PR_SET_PDEATHSIG, signal.SIGKILL)


def _spawn_workers(count: int) -> list[subprocess.Popen[bytes]]:
    """``GATEWAY_WORKER_PROCESSES`` × ``gateway worker``, with serve's environment and folder;
    their logs go to serve's stderr, their start-up line nowhere (serve prints its own)."""
    command = [sys.executable, "-m", "gateway.cli", "worker"]
    return [
        subprocess.Popen(command, stdout=subprocess.DEVNULL, preexec_fn=_die_with_parent)
        for _ in range(count)
    ]


def _stop_workers(workers: list[subprocess.Popen[bytes]], bound: float) -> None:
    """SIGTERM each worker (they drain like serve's own) and wait; kill what outlives ``bound``."""
    for proc in workers:
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
    for proc in workers:
        try:
            proc.wait(timeout=bound)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def _run_server(config: Any, sock: Any, banner: str) -> bool:
    """uvicorn on ``sock``; prints ``banner`` once it listens. On a signal the app is told to stop
    first, so open SSE streams end at once instead of holding the graceful shutdown for its whole
    timeout. Returns whether the server started."""
    import uvicorn

    class Server(uvicorn.Server):
        async def startup(self, sockets: Any = None) -> None:
            await super().startup(sockets)
            if self.started:
                print(banner, flush=True)

        def handle_exit(self, sig: int, frame: Any) -> None:
            services = getattr(config.app.state, "services", None)
            if services is not None:
                services.stopping.set()
            super().handle_exit(sig, frame)
            # SIGTERM is a clean stop (CONTRACT §1: exit 0 once the worker has drained), so
            # uvicorn must not re-raise it at the end.
            self._captured_signals.clear()

    server = Server(config)
    try:
        server.run(sockets=[sock])
    except SystemExit:  # uvicorn exits 3 when the lifespan fails; it has logged why
        return False
    return bool(server.started)


def cmd_worker(args: argparse.Namespace) -> int:
    from gateway.runtime import Runtime

    settings = load_settings()
    store = open_store_or_fail(settings)

    async def main() -> None:
        runtime = Runtime(settings, store, role="worker")
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, runtime.stop.set)
        await runtime.start()
        print(
            f"person-gateway worker {runtime.owner} running "
            f"(database {masked_url(settings.database_url)})",
            flush=True,
        )
        await runtime.stop.wait()
        await runtime.close()

    asyncio.run(main())
    return 0
