"""What differs between SQLite and PostgreSQL, in one place; the other store modules call it.

SQLite (the embedded default) runs in WAL mode with a busy timeout, so the API threads and the
worker can write one file concurrently; a write transaction takes the lock up front (``BEGIN
IMMEDIATE``), so it is the only writer until it commits, and row locks are not needed (nor
printed: SQLAlchemy emits nothing for ``FOR UPDATE`` there). PostgreSQL (psycopg 3) locks rows,
skips what another transaction holds (``SKIP LOCKED``) and serialises migrations with an advisory
lock. Space: SQLite hands freed pages back (``auto_vacuum=INCREMENTAL``) and truncates its WAL;
PostgreSQL is vacuumed only where autovacuum is off.

Every ``dialect.name`` read of the product is here (tests/test_architecture.py checks it).
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import orjson
from sqlalchemy import BigInteger, ColumnElement, Connection, Engine, Select, Table, func, text
from sqlalchemy import cast as sql_cast
from sqlalchemy import create_engine as sa_create_engine
from sqlalchemy import event as sa_event
from sqlalchemy.dialects import postgresql, sqlite

POSTGRESQL = "postgresql"
SQLITE = "sqlite"

SQLITE_BUSY_TIMEOUT_MS = 30_000
SQLITE_WAL_LIMIT_BYTES = 64 * 1024 * 1024
SQLITE_AUTO_VACUUM_INCREMENTAL = 2  # PRAGMA auto_vacuum's value for INCREMENTAL
MIGRATION_LOCK_KEY = 0x6761_7465  # "gate"


def name_of(bind: Connection | Engine) -> str:
    """``sqlite`` or ``postgresql``."""
    return bind.dialect.name


def is_sqlite(bind: Connection | Engine) -> bool:
    return bind.dialect.name == SQLITE


def is_postgresql(bind: Connection | Engine) -> bool:
    return bind.dialect.name == POSTGRESQL


def locks_rows(bind: Connection | Engine) -> bool:
    """Whether ``FOR UPDATE`` (and ``SKIP LOCKED``) mean anything: PostgreSQL only. On SQLite
    ``BEGIN IMMEDIATE`` already made the transaction the only writer."""
    return bind.dialect.name == POSTGRESQL


# -- URLs and engines ---------------------------------------------------------------------------
def normalise_url(url: str) -> str:
    """Accept ``postgresql://`` and ``postgres://`` as psycopg 3 URLs."""
    for prefix in ("postgres://", "postgresql://"):
        if url.startswith(prefix):
            return "postgresql+psycopg://" + url[len(prefix) :]
    return url


def create_engine(url: str, **kwargs: Any) -> Engine:
    """An engine for ``url`` (normalised) with the dialect's pool and connection settings."""
    url = normalise_url(url)
    if url.startswith(SQLITE):
        return _sqlite_engine(url, **kwargs)
    kwargs.setdefault("pool_size", 10)
    kwargs.setdefault("max_overflow", 20)
    kwargs.setdefault("pool_pre_ping", True)
    return sa_create_engine(url, **kwargs)


def _sqlite_engine(url: str, **kwargs: Any) -> Engine:
    path = url.removeprefix("sqlite:///")
    if path and path != ":memory:":
        Path(path).expanduser().parent.mkdir(parents=True, exist_ok=True)
    # A small pool: opening a connection costs a connect plus four PRAGMAs (~0.6 ms), which
    # per transaction was ~8 % of the drain benchmark's time.
    kwargs.setdefault("pool_size", 8)
    kwargs.setdefault("max_overflow", 16)
    engine = sa_create_engine(
        url,
        connect_args={"check_same_thread": False, "timeout": SQLITE_BUSY_TIMEOUT_MS / 1000},
        **kwargs,
    )

    @sa_event.listens_for(engine, "connect")
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

    @sa_event.listens_for(engine, "begin")
    def _sqlite_begin(conn: Any) -> None:
        readonly = conn.get_execution_options().get("readonly", False)
        conn.exec_driver_sql("BEGIN" if readonly else "BEGIN IMMEDIATE")

    return engine


# -- migrations ---------------------------------------------------------------------------------
def prepare_migration(engine: Engine) -> None:
    """Before migrating: a SQLite file is put in incremental auto-vacuum (see below)."""
    if is_sqlite(engine):
        ensure_incremental_vacuum(engine)


def lock_migrations(conn: Connection) -> None:
    """PostgreSQL: one process migrates at a time (an advisory lock held to the commit)."""
    if conn.dialect.name == POSTGRESQL:
        conn.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": MIGRATION_LOCK_KEY})


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


# -- statements ---------------------------------------------------------------------------------
def insert(conn: Connection, table: Table) -> postgresql.Insert | sqlite.Insert:
    """The dialect's ``INSERT`` (both have ``on_conflict_do_nothing`` / ``_do_update``)."""
    if conn.dialect.name == POSTGRESQL:
        return postgresql.insert(table)
    return sqlite.insert(table)


def insert_ignore(conn: Connection, table: Table) -> postgresql.Insert | sqlite.Insert:
    """``INSERT … ON CONFLICT DO NOTHING``."""
    return insert(conn, table).on_conflict_do_nothing()


def for_update(conn: Connection, query: Select[Any]) -> Select[Any]:
    """``query`` locking its rows on PostgreSQL (SQLite's writer is alone already)."""
    return query.with_for_update() if locks_rows(conn) else query


def epoch_seconds(bind: Connection | Engine, column: Any) -> ColumnElement[int]:
    """Whole Unix seconds of a naive-UTC timestamp column."""
    if bind.dialect.name == POSTGRESQL:
        return sql_cast(func.floor(func.extract("epoch", column)), BigInteger)
    return sql_cast(func.strftime("%s", column), BigInteger)


def wait_for_writers(conn: Connection, table: str) -> None:
    """Wait until every transaction writing ``table`` has finished (PostgreSQL ``SHARE`` lock,
    given up after 2 s); SQLite has one writer at a time, so there is nothing to wait for."""
    if conn.dialect.name == POSTGRESQL:
        conn.execute(text("SET LOCAL lock_timeout = '2s'"))
        conn.execute(text(f"LOCK TABLE {table} IN SHARE MODE"))


# -- the database's space -----------------------------------------------------------------------
def sqlite_file(engine: Engine) -> str | None:
    """The SQLite database's path (``None``: PostgreSQL, or SQLite in memory)."""
    if not is_sqlite(engine):
        return None
    database = engine.url.database
    return None if not database or database == ":memory:" else database


def database_bytes(conn: Connection) -> int:
    """The database's size on disk: SQLite file plus its WAL, or ``pg_database_size``."""
    if conn.dialect.name == POSTGRESQL:
        return int(conn.execute(text("SELECT pg_database_size(current_database())")).scalar_one())
    path = sqlite_file(conn.engine)
    if path is None:
        return 0
    return sum(os.path.getsize(p) for p in (path, f"{path}-wal") if os.path.exists(p))


def reclaim_sqlite_space(engine: Engine, keep_pages: int) -> None:
    """SQLite: hand free pages beyond ``keep_pages`` back to the file system, then checkpoint so
    the WAL is truncated. Nothing on PostgreSQL or in memory."""
    if sqlite_file(engine) is None:
        return
    raw = engine.raw_connection()
    try:
        cur = raw.cursor()
        free = int(cur.execute("PRAGMA freelist_count").fetchone()[0])
        if free > keep_pages:
            cur.execute(f"PRAGMA incremental_vacuum({free - keep_pages})")
            cur.fetchall()
        cur.execute("PRAGMA wal_checkpoint(TRUNCATE)").fetchall()
        cur.close()
    finally:
        raw.close()


def checkpoint_sqlite(engine: Engine) -> None:
    """SQLite: copy the WAL into the file and truncate it. Nothing on PostgreSQL."""
    if sqlite_file(engine) is None:
        return
    raw = engine.raw_connection()
    try:
        cur = raw.cursor()
        cur.execute("PRAGMA wal_checkpoint(TRUNCATE)").fetchall()
        cur.close()
    finally:
        raw.close()


def vacuum_if_no_autovacuum(engine: Engine, tables: Iterable[str]) -> bool:
    """PostgreSQL with ``autovacuum = off``: plain ``VACUUM`` (no lock that blocks reads or
    writes) of ``tables``; returns True when it ran. Nothing on SQLite."""
    if engine.dialect.name != POSTGRESQL:
        return False
    with engine.connect().execution_options(readonly=True) as conn:
        if conn.execute(text("SHOW autovacuum")).scalar() == "on":
            return False
    with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        conn.execute(text(f"VACUUM (SKIP_LOCKED) {', '.join(tables)}"))
    return True


def rows_source(
    conn: Connection,
    columns: dict[str, list[Any]],
    names: list[str],
    pg_types: dict[str, str],
) -> tuple[str, dict[str, Any]]:
    """A ``FROM`` clause yielding the ``names`` columns as ``r``, in order: one array per column
    through ``unnest`` on PostgreSQL, one JSON array through ``json_each`` on SQLite (both parsed
    in C: no per-row bind processing in Python); ``pg_types`` names the array type of a column
    that is not ``TEXT[]``."""
    quoted = ", ".join(f'"{c}"' for c in names)
    if conn.dialect.name == POSTGRESQL:
        arrays = ", ".join(f"CAST(:a_{c} AS {pg_types.get(c, 'TEXT[]')})" for c in names)
        source = f"unnest({arrays}) WITH ORDINALITY AS r({quoted}, n) ORDER BY r.n"
        return source, {f"a_{c}": columns[c] for c in names}
    if len(names) == 1:
        source = f'(SELECT value AS "{names[0]}" FROM json_each(:rows) ORDER BY key) AS r'
        return source, {"rows": orjson.dumps(columns[names[0]]).decode()}
    picked = ", ".join(f"json_extract(value, '$[{i}]') AS \"{c}\"" for i, c in enumerate(names))
    source = f"(SELECT {picked} FROM json_each(:rows) ORDER BY key) AS r"
    data = list(zip(*(columns[c] for c in names), strict=True))
    return source, {"rows": orjson.dumps(data).decode()}
