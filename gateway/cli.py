"""``gateway``: serve, worker, migrate, demo, simulate, keys, verify (CONTRACT §1)."""

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


class CommandFailed(Exception):
    """A command cannot go on; ``main`` prints the message (cause and fix) and exits 1."""


def _open_store(settings: Settings, *, run_migrations: bool | None = None) -> Any:
    """The store, or ``CommandFailed`` with one line naming the fix (no traceback)."""
    from gateway.errors import MigrationsPending, StoreError
    from gateway.store import open_store

    try:
        return open_store(settings, run_migrations=run_migrations)
    except MigrationsPending as exc:
        raise CommandFailed(exc.message) from None
    except StoreError as exc:
        raise CommandFailed(f"cannot open the database: {exc.message}") from None


def cmd_serve(args: argparse.Namespace) -> int:
    import uvicorn

    from gateway.app import create_app

    settings = _settings()
    store = _open_store(settings)  # refuses a PostgreSQL schema with pending migrations
    app = create_app(settings, store=store)
    print(
        f"person-gateway serving on http://{args.host}:{args.port} "
        f"(database {settings.database_url}); dashboard at /dashboard",
        flush=True,
    )
    config = uvicorn.Config(
        app, host=args.host, port=args.port, log_level=args.log_level, timeout_graceful_shutdown=10
    )
    _run_server(config)
    return 0


def _run_server(config: Any) -> None:
    """uvicorn's server, telling the app to stop first on a signal: open SSE streams end at once
    instead of holding the graceful shutdown for its whole timeout."""
    import uvicorn

    class Server(uvicorn.Server):
        def handle_exit(self, sig: int, frame: Any) -> None:
            services = getattr(config.app.state, "services", None)
            if services is not None:
                services.extras["runtime"].stop.set()
            super().handle_exit(sig, frame)

    Server(config).run()


def cmd_worker(args: argparse.Namespace) -> int:
    from gateway.app import Runtime

    settings = _settings()
    store = _open_store(settings)

    async def main() -> None:
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


def cmd_migrate(args: argparse.Namespace) -> int:
    from gateway.store import make_engine, pending_migrations

    settings = _settings()
    engine = make_engine(settings.database_url)
    try:
        pending = pending_migrations(engine)
    except Exception as exc:  # the driver's own error: connection refused, unknown database
        raise CommandFailed(f"cannot reach the database: {type(exc).__name__}") from None
    finally:
        engine.dispose()
    if not pending:
        print("the database schema is up to date")
        return 0
    _open_store(settings, run_migrations=True)
    print(f"applied {len(pending)} migration(s): {', '.join(pending)}")
    return 0


def cmd_keys_list(args: argparse.Namespace) -> int:
    from gateway.models import iso

    store = _open_store(_settings())
    rows, _ = store.list_api_keys(args.tenant)
    print(f"{'KEY ID':<32} {'TENANT':<20} {'NAME':<20} {'CREATED':<25} LAST USED")
    for r in rows:
        tenant = r["tenant_id"] or "(admin)"
        last = iso(r["last_used_at"]) if r["last_used_at"] else "never"
        print(f"{r['id']:<32} {tenant:<20} {r['name']:<20} {iso(r['created_at']):<25} {last}")
    return 0


def cmd_keys_revoke(args: argparse.Namespace) -> int:
    store = _open_store(_settings())
    if not store.revoke_api_key(args.key_id):
        print(f"no active key {args.key_id} (see `gateway keys list`)", file=sys.stderr)
        return 1
    print(f"revoked {args.key_id}; every gateway process refuses it within a second")
    return 0


def cmd_keys_create(args: argparse.Namespace) -> int:
    store = _open_store(_settings())
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

    p = sub.add_parser(
        "migrate",
        help="apply the schema migrations and exit (PostgreSQL: serve and worker refuse to start "
        "while any is pending, unless GATEWAY_AUTO_MIGRATE=true)",
    )
    p.set_defaults(func=cmd_migrate)

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
    p = keys.add_parser("list", help="list active keys (id, tenant, name, created, last used)")
    p.add_argument("--tenant", default=None, help="only this tenant's keys (default: all)")
    p.set_defaults(func=cmd_keys_list)
    p = keys.add_parser("revoke", help="revoke a key (refused everywhere within 1 s)")
    p.add_argument("key_id", help="the key's id (key_…), from `gateway keys list`")
    p.set_defaults(func=cmd_keys_revoke)

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
    try:
        code: int = args.func(args)
    except CommandFailed as exc:
        print(f"gateway {args.command}: {exc}", file=sys.stderr)
        return 1
    return code


if __name__ == "__main__":
    sys.exit(main())
