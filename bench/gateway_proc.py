"""A real ``gateway serve`` process for the intake and fan-out benches: its own port, database and
admin key, stopped with SIGTERM (a clean stop) when the block exits.

    with gateway_server(database_url, seconds=300) as gw:
        gw.url            # http://127.0.0.1:<port>
        gw.headers        # {"x-api-key": ...}
"""

from __future__ import annotations

import contextlib
import os
import select
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from bench.client_ceiling import free_port

ROOT = Path(__file__).resolve().parent.parent
ADMIN_KEY = "bench-admin-key"
ENCRYPTION_KEY = "x7rV4q3pZ5m2Y0b9P8Kj1QyTn6Ws3Hd2Lc0Fv5Ga8Eo="
READY_SECONDS = 60.0
POSTGRES_ADMIN_URL = os.environ.get(
    "GATEWAY_TEST_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"
)


@dataclass
class Gateway:
    url: str
    pid: int
    headers: dict[str, str]


@contextlib.contextmanager
def sqlite_url() -> Iterator[str]:
    with tempfile.TemporaryDirectory(prefix="gw-intake-") as tmp:
        yield f"sqlite:///{tmp}/gateway.db"


def postgres_url() -> contextlib.AbstractContextManager[str]:
    """A fresh database, dropped afterwards (even if the run fails)."""
    from gateway.sandbox.postgres import scratch_postgres_database

    return scratch_postgres_database(POSTGRES_ADMIN_URL, "gw_bench")


def database(name: str) -> contextlib.AbstractContextManager[str]:
    return postgres_url() if name == "postgres" else sqlite_url()


@contextlib.contextmanager
def gateway_server(database_url: str, extra_env: dict[str, str] | None = None) -> Iterator[Gateway]:
    """``python -m gateway.cli serve`` on a free loopback port (migrating the database first)."""
    env = {
        **os.environ,
        "GATEWAY_DATABASE_URL": database_url,
        "GATEWAY_ADMIN_KEY": ADMIN_KEY,
        "GATEWAY_ALLOW_PRIVATE_NETWORKS": "127.0.0.0/8",
        "GATEWAY_ENCRYPTION_KEY": ENCRYPTION_KEY,
        "PYTHONPATH": str(ROOT),
        **(extra_env or {}),
    }
    if database_url.startswith("postgresql"):
        subprocess.run(
            [sys.executable, "-m", "gateway.cli", "migrate"],
            env=env,
            check=True,
            capture_output=True,
            timeout=120,
        )
    port = free_port()
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "gateway.cli",
            "serve",
            "--port",
            str(port),
            "--log-level",
            "warning",
        ],
        env=env,
        stdout=subprocess.PIPE,
        text=True,
        cwd=ROOT,
    )
    assert proc.stdout is not None
    try:
        deadline = time.monotonic() + READY_SECONDS
        line = ""
        while "serving on" not in line:
            remaining = deadline - time.monotonic()
            if remaining <= 0 or not select.select([proc.stdout], [], [], remaining)[0]:
                raise RuntimeError("gateway not ready in time")
            line = proc.stdout.readline()
            if not line and proc.poll() is not None:
                raise RuntimeError(f"gateway exited before it was ready ({proc.returncode})")
        yield Gateway(f"http://127.0.0.1:{port}", proc.pid, {"x-api-key": ADMIN_KEY})
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=60)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
