"""The store's one seam for driver errors: what is "unavailable, retry" (503) and what is a bug
(500), with real SQLite errors (PostgreSQL's outage: tests/store/test_outage.py)."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.exc import SQLAlchemyError

from gateway.errors import StoreError, StoreUnavailable
from gateway.store.base import translate


def raised(engine_url: str, statement: str, *, hold_lock: Path | None = None) -> SQLAlchemyError:
    engine = create_engine(engine_url, connect_args={"timeout": 0.05})
    holder = sqlite3.connect(hold_lock, isolation_level=None) if hold_lock else None
    try:
        if holder is not None:
            holder.execute("BEGIN IMMEDIATE")  # another process holding the write lock
        with pytest.raises(SQLAlchemyError) as info, engine.begin() as conn:
            conn.execute(text(statement))
        return info.value
    finally:
        if holder is not None:
            holder.close()
        engine.dispose()


def test_a_locked_file_is_unavailable(tmp_path: Path) -> None:
    path = tmp_path / "g.db"
    sqlite3.connect(path).execute("CREATE TABLE t (x)").connection.commit()
    exc = raised(f"sqlite:///{path}", "INSERT INTO t VALUES (1)", hold_lock=path)
    assert isinstance(translate(exc), StoreUnavailable)


def test_a_bad_statement_is_a_plain_store_error(tmp_path: Path) -> None:
    exc = raised(f"sqlite:///{tmp_path}/g.db", "SELECT * FROM no_such_table")
    translated = translate(exc)
    assert isinstance(translated, StoreError) and not isinstance(translated, StoreUnavailable)
    assert translated.status == 500
