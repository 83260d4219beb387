"""The store's engine and schema migration (alembic; safe from several processes at once).

The engine's dialect settings (SQLite pragmas and ``BEGIN IMMEDIATE``, pools, URL spellings) and
the migration lock are in ``dialect.py``, with every other SQLite/PostgreSQL difference.
"""

from __future__ import annotations

from importlib import resources
from typing import Any

import orjson
from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Engine
from sqlalchemy.exc import ArgumentError, DBAPIError, NoSuchModuleError

from gateway.store import dialect
from gateway.store.dialect import normalise_url

__all__ = ["make_engine", "migrate", "normalise_url", "open_failure", "pending_migrations"]


def _json_dumps(value: Any) -> str:
    return orjson.dumps(value, option=orjson.OPT_NON_STR_KEYS).decode()


def make_engine(url: str, **kwargs: Any) -> Engine:
    kwargs.setdefault("json_serializer", _json_dumps)
    kwargs.setdefault("json_deserializer", orjson.loads)
    return dialect.create_engine(url, **kwargs)


def _alembic_config() -> Config:
    cfg = Config()
    cfg.set_main_option("script_location", str(resources.files("gateway.store") / "migrations"))
    return cfg


def migrate(engine: Engine, box: Any = None) -> None:
    """Bring the schema to the newest revision (idempotent; safe from several processes).

    ``box`` (the store's ``SecretBox``) lets a migration seal secrets it finds in clear."""
    cfg = _alembic_config()
    cfg.attributes["secretbox"] = box
    dialect.prepare_migration(engine)
    with engine.begin() as conn:
        dialect.lock_migrations(conn)
        cfg.attributes["connection"] = conn
        command.upgrade(cfg, "head")


def open_failure(exc: BaseException) -> tuple[str, str] | None:
    """Why opening the store failed, for a one-line message: ``("url", cause)`` for a URL or
    driver that cannot be used, ``("database", cause)`` for one that cannot be reached or opened;
    ``None`` for anything else (a bug, not a setting)."""
    if isinstance(exc, ArgumentError | NoSuchModuleError | ImportError):
        return "url", _first_line(exc)
    if isinstance(exc, DBAPIError):
        return "database", _driver_cause(exc.orig if exc.orig is not None else exc)
    return None


def _driver_cause(exc: BaseException) -> str:
    """The driver's reason without its preamble: psycopg says 'connection failed: connection to
    server at "h", port p failed: FATAL:  database "x" does not exist'; keep the last part."""
    cause = _first_line(exc)
    for marker in ("FATAL:", "failed: "):
        if marker in cause:
            cause = cause.rsplit(marker, 1)[1].strip()
    return cause


def _first_line(exc: BaseException) -> str:
    lines = [line.strip() for line in str(exc).splitlines() if line.strip()]
    return lines[0] if lines else type(exc).__name__


def pending_migrations(engine: Engine) -> list[str]:
    """The revisions this code has that the database does not (empty when up to date)."""
    script = ScriptDirectory.from_config(_alembic_config())
    with engine.connect() as conn:
        current = set(MigrationContext.configure(conn).get_current_heads())
    if set(script.get_heads()) <= current:
        return []
    done = {rev.revision for head in current for rev in script.iterate_revisions(head, "base")}
    return [rev.revision for rev in script.walk_revisions() if rev.revision not in done][::-1]
