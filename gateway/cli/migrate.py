"""``gateway migrate`` (CONTRACT §1): apply the schema migrations and exit.

On PostgreSQL ``serve`` and ``worker`` refuse to start while a migration is pending (unless
``GATEWAY_AUTO_MIGRATE=true``), so an operator chooses when the schema changes; the embedded SQLite
file migrates by itself.
"""

from __future__ import annotations

import argparse

from gateway.cli.common import add_command, database_failure, load_settings, open_store_or_fail


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = add_command(
        sub,
        "migrate",
        help="apply the schema migrations and exit (PostgreSQL: serve and worker refuse to "
        "start while any is pending, unless GATEWAY_AUTO_MIGRATE=true)",
        example="GATEWAY_DATABASE_URL=postgresql+psycopg://gw@db/gateway gateway migrate",
    )
    p.set_defaults(func=cmd_migrate)


def cmd_migrate(args: argparse.Namespace) -> int:
    from gateway.store import pending_migrations

    settings = load_settings()
    store = open_store_or_fail(settings, run_migrations=False)
    try:
        pending = pending_migrations(store.engine)
    except Exception as exc:  # unreachable or missing: one line, like every start-up failure
        failure = database_failure(exc, settings)
        if failure is exc:
            raise
        raise failure from exc
    finally:
        store.engine.dispose()
    if not pending:
        print("the database schema is up to date")
        return 0
    open_store_or_fail(settings, run_migrations=True).engine.dispose()
    print(f"applied {len(pending)} migration(s): {', '.join(pending)}")
    return 0
