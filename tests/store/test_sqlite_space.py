"""SQLite files run with secure_delete and incremental auto-vacuum, new files and old ones alike."""

from __future__ import annotations

import sqlite3
from pathlib import Path

from gateway.store.engine import make_engine, migrate


def pragma(path: Path, name: str) -> int:
    with sqlite3.connect(path) as conn:
        return int(conn.execute(f"PRAGMA {name}").fetchone()[0])


def test_a_new_file_is_incremental(tmp_path: Path) -> None:
    path = tmp_path / "new.db"
    engine = make_engine(f"sqlite:///{path}")
    migrate(engine)
    with engine.connect() as conn:
        assert conn.exec_driver_sql("PRAGMA secure_delete").scalar() == 1
    engine.dispose()
    assert pragma(path, "auto_vacuum") == 2  # INCREMENTAL


def test_an_existing_file_is_converted_once_and_keeps_its_rows(tmp_path: Path) -> None:
    path = tmp_path / "old.db"
    with sqlite3.connect(path) as conn:  # a file from before: auto_vacuum NONE, with data
        conn.execute("PRAGMA journal_mode=WAL")
        conn.execute("CREATE TABLE keep (v TEXT)")
        conn.executemany("INSERT INTO keep VALUES (?)", [("x" * 500,)] * 200)
    assert pragma(path, "auto_vacuum") == 0
    engine = make_engine(f"sqlite:///{path}")
    migrate(engine)
    engine.dispose()
    assert pragma(path, "auto_vacuum") == 2
    with sqlite3.connect(path) as conn:
        assert conn.execute("SELECT count(*) FROM keep").fetchone()[0] == 200
