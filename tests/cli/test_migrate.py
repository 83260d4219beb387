"""``gateway migrate`` and the PostgreSQL start-up refusal (CONTRACT §1): serve and worker do not
fill whatever database they are pointed at; an operator migrates, or opts in with
``GATEWAY_AUTO_MIGRATE=true``. The embedded SQLite file keeps migrating by itself."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from sqlalchemy import create_engine, inspect

from gateway.store import make_engine, pending_migrations
from gateway.store.engine import normalise_url
from tests.conftest import make_settings


def run_cli(
    db_url: str, tmp_path: Path, *args: str, **env: str
) -> subprocess.CompletedProcess[str]:
    full = {
        **os.environ,
        "GATEWAY_DATABASE_URL": db_url,
        "GATEWAY_ENCRYPTION_KEY": make_settings(db_url, tmp_path).encryption_key or "",
        **env,
    }
    if "GATEWAY_AUTO_MIGRATE" not in env:
        full.pop("GATEWAY_AUTO_MIGRATE", None)
    return subprocess.run(
        [sys.executable, "-m", "gateway.cli", *args],
        env=full,
        capture_output=True,
        text=True,
        timeout=60,
    )


def tables(url: str) -> set[str]:
    engine = create_engine(normalise_url(url))
    try:
        return set(inspect(engine).get_table_names())
    finally:
        engine.dispose()


@pytest.mark.postgres
def test_serve_and_worker_refuse_pending_migrations_on_postgres(
    empty_postgres_url: str, tmp_path: Path
) -> None:
    for command in (["serve", "--port", "0"], ["worker"]):
        done = run_cli(empty_postgres_url, tmp_path, *command)
        assert done.returncode == 1, (command, done.stdout, done.stderr)
        lines = done.stderr.strip().splitlines()
        assert len(lines) == 1 and "gateway migrate" in lines[0], done.stderr
        assert "GATEWAY_AUTO_MIGRATE" in lines[0] and "Traceback" not in done.stderr
        assert "serving on" not in done.stdout
    assert tables(empty_postgres_url) == set()  # nothing was created behind the operator's back


@pytest.mark.postgres
def test_migrate_applies_everything_once(empty_postgres_url: str, tmp_path: Path) -> None:
    done = run_cli(empty_postgres_url, tmp_path, "migrate")
    assert done.returncode == 0, done.stderr
    assert "applied" in done.stdout and "0005" in done.stdout
    assert {"events", "deliveries", "api_keys", "alembic_version"} <= tables(empty_postgres_url)
    engine = make_engine(empty_postgres_url)
    try:
        assert pending_migrations(engine) == []
    finally:
        engine.dispose()
    again = run_cli(empty_postgres_url, tmp_path, "migrate")
    assert again.returncode == 0 and "up to date" in again.stdout
    # Migrated: a key can be made (the store opens without refusing).
    made = run_cli(empty_postgres_url, tmp_path, "keys", "create", "--tenant", "t")
    assert made.returncode == 0, made.stderr


@pytest.mark.postgres
def test_auto_migrate_lets_the_worker_migrate(empty_postgres_url: str, tmp_path: Path) -> None:
    env = {
        **os.environ,
        "GATEWAY_DATABASE_URL": empty_postgres_url,
        "GATEWAY_ENCRYPTION_KEY": make_settings("sqlite://", tmp_path).encryption_key or "",
        "GATEWAY_AUTO_MIGRATE": "true",
    }
    proc = subprocess.Popen(
        [sys.executable, "-m", "gateway.cli", "worker"],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert proc.stdout is not None
        line = proc.stdout.readline()  # printed once the worker runs (bounded by the timeout)
        assert "running" in line, (line, proc.stderr.read() if proc.poll() is not None else "")
    finally:
        proc.terminate()
        proc.wait(timeout=30)
    assert "events" in tables(empty_postgres_url)


def test_sqlite_migrates_by_itself(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path}/gateway.db"
    done = run_cli(url, tmp_path, "keys", "create", "--tenant", "t")
    assert done.returncode == 0, done.stderr
    assert {"events", "api_keys"} <= tables(url)


def test_migration_0005_keeps_existing_rows(tmp_path: Path) -> None:
    """An existing SQLite file at 0004 keeps its events through the re-keying."""
    from alembic import command
    from sqlalchemy import text

    from gateway.store.engine import _alembic_config, migrate

    url = f"sqlite:///{tmp_path}/old.db"
    engine = make_engine(url)
    cfg = _alembic_config()
    with engine.begin() as conn:
        cfg.attributes["connection"] = conn
        command.upgrade(cfg, "0004")
    with engine.begin() as conn:
        conn.execute(
            text(
                "INSERT INTO events (id, tenant_id, type, data, origin, created_at) "
                "VALUES ('e1', 't1', 'task.completed', '{\"a\": 1}', 'api', '2026-01-01')"
            )
        )
    assert pending_migrations(engine)[0] == "0005"  # and any later ones
    migrate(engine)
    with engine.begin() as conn:
        conn.execute(
            text(
                "INSERT INTO events (id, tenant_id, type, data, origin, created_at) "
                "VALUES ('e1', 't2', 'task.completed', '{}', 'api', '2026-01-01')"
            )
        )
        rows = conn.execute(text("SELECT id, tenant_id, data FROM events ORDER BY tenant_id"))
        assert [tuple(r) for r in rows] == [("e1", "t1", '{"a": 1}'), ("e1", "t2", "{}")]
    engine.dispose()
