"""``gateway``: serve, worker, demo, simulate, keys create, verify (CONTRACT §1)."""

from __future__ import annotations

import argparse
import asyncio
import logging
import signal
import sys
import time
from collections.abc import Sequence
from typing import Any

from gateway.settings import Settings


def _settings() -> Settings:
    return Settings()


def cmd_serve(args: argparse.Namespace) -> int:
    import uvicorn

    from gateway.app import create_app

    settings = _settings()
    app = create_app(settings)
    print(
        f"person-gateway serving on http://{args.host}:{args.port} "
        f"(database {settings.database_url}); dashboard at /dashboard",
        flush=True,
    )
    config = uvicorn.Config(
        app,
        host=args.host,
        port=args.port,
        log_level=args.log_level,
        timeout_graceful_shutdown=max(1, int(settings.shutdown_seconds)),
    )
    _run_server(config)
    return 0


def _run_server(config: Any) -> None:
    """uvicorn's server, telling the app to stop first on a signal: open SSE streams end at once
    instead of holding the graceful shutdown for its whole timeout, and the worker starts its
    drain (``GATEWAY_SHUTDOWN_SECONDS``) right away."""
    import uvicorn

    class Server(uvicorn.Server):
        def handle_exit(self, sig: int, frame: Any) -> None:
            services = getattr(config.app.state, "services", None)
            if services is not None:
                services.extras["runtime"].stop.set()
            super().handle_exit(sig, frame)
            # SIGTERM is a clean stop (CONTRACT §1: exit 0 once the worker has drained), so
            # uvicorn must not re-raise it at the end.
            self._captured_signals.clear()

    Server(config).run()


def cmd_worker(args: argparse.Namespace) -> int:
    from gateway.app import Runtime
    from gateway.store import open_store

    settings = _settings()

    async def main() -> None:
        store = await asyncio.to_thread(open_store, settings)
        runtime = Runtime(settings, store, role="worker")
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, runtime.stop.set)
        await runtime.start()
        print(
            f"person-gateway worker {runtime.owner} running (database {settings.database_url})",
            flush=True,
        )
        await runtime.stop.wait()
        await runtime.close()

    asyncio.run(main())
    return 0


def cmd_keys_create(args: argparse.Namespace) -> int:
    from gateway.store import open_store

    store = open_store(_settings())
    key_id, key = store.create_api_key(
        tenant_id=args.tenant, name=args.name or "", is_admin=args.admin
    )
    print(
        f"keyId:  {key_id}\ntenant: {args.tenant}\nadmin:  {str(args.admin).lower()}\n"
        f"key:    {key}\n(the key is shown once; it is stored hashed)"
    )
    return 0


def cmd_verify(args: argparse.Namespace) -> int:
    from gateway import signing
    from gateway.errors import SignatureError

    headers: dict[str, str] = {}
    for raw in args.header or []:
        name, sep, value = raw.partition(":")
        if not sep:
            print(f"bad --header {raw!r}: expected 'name: value'", file=sys.stderr)
            return 2
        headers[name.strip().lower()] = value.strip()
    body = sys.stdin.buffer.read()
    now = args.now if args.now is not None else int(time.time())
    try:
        signing.verify(body, headers, args.secret, now=now, tolerance_seconds=args.tolerance)
    except SignatureError as exc:
        print(f"invalid: {exc}", file=sys.stderr)
        return 1
    print("valid")
    return 0


def cmd_simulate(args: argparse.Namespace) -> int:
    from gateway.sandbox.simulator import run_simulator

    run_simulator(args.host, args.port, _settings().person_api_key)
    return 0


def cmd_demo(args: argparse.Namespace) -> int:
    from gateway.sandbox.demo import run_demo

    return run_demo(keep=args.keep, tasks=args.tasks)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="gateway", description=__doc__)
    parser.add_argument("-v", "--verbose", action="store_true", help="debug logging")
    sub = parser.add_subparsers(dest="command", required=True)

    p = sub.add_parser("serve", help="API + delivery worker + scheduler in one process")
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--port", type=int, default=8080)
    p.add_argument("--log-level", default="info")
    p.set_defaults(func=cmd_serve)

    p = sub.add_parser("worker", help="delivery worker and scheduler only (scale-out)")
    p.set_defaults(func=cmd_worker)

    p = sub.add_parser("demo", help="the whole pipeline on embedded defaults, no network")
    p.add_argument("--keep", action="store_true", help="leave the server and dashboard up")
    p.add_argument("--tasks", type=int, default=24, help="personas in the demo study run")
    p.set_defaults(func=cmd_demo)

    p = sub.add_parser("simulate", help="run the person.run API simulator alone")
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--port", type=int, default=8090)
    p.set_defaults(func=cmd_simulate)

    keys = sub.add_parser("keys", help="API keys").add_subparsers(
        dest="keys_command", required=True
    )
    p = keys.add_parser("create", help="print a new API key (shown once)")
    p.add_argument("--tenant", required=True)
    p.add_argument("--name", default="")
    p.add_argument("--admin", action="store_true")
    p.set_defaults(func=cmd_keys_create)

    p = sub.add_parser(
        "verify", help="check a delivery's Standard Webhooks signature (body on stdin)"
    )
    p.add_argument(
        "--secret",
        required=True,
        action="append",
        help="whsec_… (v1) or whpk_… (v1a); repeat for several",
    )
    p.add_argument("--header", action="append", help="'webhook-id: …' (repeat)")
    p.add_argument("--tolerance", type=int, default=300, help="timestamp tolerance, seconds")
    p.add_argument("--now", type=int, default=None, help=argparse.SUPPRESS)
    p.set_defaults(func=cmd_verify)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    logging.basicConfig(
        level=logging.DEBUG if args.verbose else logging.INFO,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    for noisy in ("alembic", "httpx", "apscheduler"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
    if args.command == "demo" and not args.verbose:
        logging.getLogger().setLevel(logging.WARNING)  # the demo shows its own progress
    code: int = args.func(args)
    return code


if __name__ == "__main__":
    sys.exit(main())
