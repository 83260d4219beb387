"""Engines for SQLite and PostgreSQL, and schema migration. The dialect differences live here.

SQLite (the embedded default) runs in WAL mode with a busy timeout, so the API threads and the
worker can write one file concurrently. PostgreSQL uses psycopg 3; migrations take an advisory lock
so several processes starting at once migrate once.
"""

from __future__ import annotations

from importlib import resources
from pathlib import Path
from typing import Any

import orjson
from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Engine, create_engine, event, text
from sqlalchemy.exc import ArgumentError, DBAPIError, NoSuchModuleError

SQLITE_BUSY_TIMEOUT_MS = 30_000
SQLITE_WAL_LIMIT_BYTES = 64 * 1024 * 1024
SQLITE_AUTO_VACUUM_INCREMENTAL = 2  # PRAGMA auto_vacuum's value for INCREMENTAL
MIGRATION_LOCK_KEY = 0x6761_7465  # "gate"


def normalise_url(url: str) -> str:
    """Accept ``postgresql://`` and ``postgres://`` as psycopg 3 URLs."""
    for prefix in ("postgres://", "postgresql://"):
        if url.startswith(prefix):
            return "postgresql+psycopg://" + url[len(prefix) :]
    return url


def _json_dumps(value: Any) -> str:
    return orjson.dumps(value, option=orjson.OPT_NON_STR_KEYS).decode()


def make_engine(url: str, **kwargs: Any) -> Engine:
    url = normalise_url(url)
    kwargs.setdefault("json_serializer", _json_dumps)
    kwargs.setdefault("json_deserializer", orjson.loads)
    if url.startswith("sqlite"):
        path = url.removeprefix("sqlite:///")
        if path and path != ":memory:":
            Path(path).expanduser().parent.mkdir(parents=True, exist_ok=True)
        # A small pool: opening a connection costs a connect plus four PRAGMAs (~0.6 ms), which
        # per transaction was ~8 % of the drain benchmark's time.
        kwargs.setdefault("pool_size", 8)
        kwargs.setdefault("max_overflow", 16)
        engine = create_engine(
            url,
            connect_args={"check_same_thread": False, "timeout": SQLITE_BUSY_TIMEOUT_MS / 1000},
            **kwargs,
        )

        @event.listens_for(engine, "connect")
        def _sqlite_pragmas(dbapi_conn: Any, _record: Any) -> None:
            # Autocommit at the driver level; SQLAlchemy emits BEGIN itself (see "begin" below),
            # so a write transaction takes the lock up front (BEGIN IMMEDIATE) instead of failing
            # to upgrade a read lock under contention.
            dbapi_conn.isolation_level = None
            cur = dbapi_conn.cursor()
            cur.execute("PRAGMA journal_mode=WAL")
            cur.execute("PRAGMA synchronous=NORMAL")
            cur.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_MS}")
            cur.execute("PRAGMA foreign_keys=ON")
            # Deleted and overwritten content is zeroed in the file (retention, erasure), and
            # the WAL is truncated back to this size after each checkpoint.
            cur.execute("PRAGMA secure_delete=ON")
            cur.execute(f"PRAGMA journal_size_limit={SQLITE_WAL_LIMIT_BYTES}")
            cur.close()

        @event.listens_for(engine, "begin")
        def _sqlite_begin(conn: Any) -> None:
            readonly = conn.get_execution_options().get("readonly", False)
            conn.exec_driver_sql("BEGIN" if readonly else "BEGIN IMMEDIATE")

        return engine
    kwargs.setdefault("pool_size", 10)
    kwargs.setdefault("max_overflow", 20)
    kwargs.setdefault("pool_pre_ping", True)
    return create_engine(url, **kwargs)


def _alembic_config() -> Config:
    cfg = Config()
    cfg.set_main_option("script_location", str(resources.files("gateway.store") / "migrations"))
    return cfg


def migrate(engine: Engine, box: Any = None) -> None:
    """Bring the schema to the newest revision (idempotent; safe from several processes).

    ``box`` (the store's ``SecretBox``) lets a migration seal secrets it finds in clear."""
    cfg = _alembic_config()
    cfg.attributes["secretbox"] = box
    if engine.dialect.name == "sqlite":
        ensure_incremental_vacuum(engine)
    with engine.begin() as conn:
        if conn.dialect.name == "postgresql":
            conn.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": MIGRATION_LOCK_KEY})
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


def ensure_incremental_vacuum(engine: Engine) -> None:
    """Put a SQLite file in ``auto_vacuum=INCREMENTAL`` so freed pages can be handed back.

    The mode can only be set on an empty file or by a ``VACUUM``: a new file gets it before its
    first table; an existing file from before is rebuilt once by ``VACUUM`` (as long as copying
    it takes; every later start finds the mode set and does nothing).
    """
    raw = engine.raw_connection()
    try:
        cur = raw.cursor()
        if cur.execute("PRAGMA auto_vacuum").fetchone()[0] != SQLITE_AUTO_VACUUM_INCREMENTAL:
            cur.execute("PRAGMA auto_vacuum=INCREMENTAL")
            if cur.execute("PRAGMA auto_vacuum").fetchone()[0] != SQLITE_AUTO_VACUUM_INCREMENTAL:
                cur.execute("VACUUM")
        cur.close()
    finally:
        raw.close()
