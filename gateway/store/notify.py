"""Wake-ups across processes on PostgreSQL: intake ``NOTIFY``s, every worker ``LISTEN``s.

Whatever makes deliveries due (intake's fan-out, ingest, replays, test sends, operational events,
a destination enabled again) calls :func:`notify_due` in its own transaction, so the notification
goes out when, and only if, the rows are committed (PostgreSQL folds the duplicates of one
transaction into one). :class:`DueListener` holds one dedicated connection per process in
``LISTEN`` and calls its ``wake`` for each notification, so a ``gateway worker`` claims new work at
once instead of at its next idle poll (``GATEWAY_WORKER_IDLE_SECONDS``, which stays the fallback).

The listener survives its connection: a dropped connection (a restart, a failover,
``pg_terminate_backend``) is reopened with a backoff, and each (re)connect wakes the worker once,
for whatever was committed while nobody listened. A connection that went silent is found by a
``SELECT 1`` after every quiet interval. SQLite has one process per file and needs none of this:
:func:`notify_due` does nothing there.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable
from typing import Any

from sqlalchemy import Connection
from sqlalchemy.engine import URL

from gateway.store import dialect

log = logging.getLogger(__name__)

CHANNEL = "gateway_due"
QUIET_CHECK_SECONDS = 5.0  # after this long without a notification, check the connection
BACKOFF_MIN_SECONDS = 0.5
BACKOFF_MAX_SECONDS = 10.0
CONNECT_TIMEOUT_SECONDS = 5
APPLICATION_NAME = "person-gateway listener"  # how the connection shows in pg_stat_activity


def notify_due(conn: Connection) -> None:
    """Tell the listening workers that deliveries are due, at this transaction's commit."""
    if dialect.is_postgresql(conn):
        conn.exec_driver_sql(f"NOTIFY {CHANNEL}")


def libpq_url(url: URL) -> str:
    """A SQLAlchemy ``postgresql+psycopg://`` URL as psycopg's own connection string."""
    return url.set(drivername="postgresql").render_as_string(hide_password=False)


class DueListener:
    """One process's ``LISTEN`` connection; ``run`` until cancelled, reconnecting as needed."""

    def __init__(self, url: URL, wake: Callable[[], None]) -> None:
        self.conninfo = libpq_url(url)
        self.wake = wake
        self.backend_pid: int | None = None  # the listening connection's server process
        self.connects = 0  # successful (re)connects so far
        self.listening = asyncio.Event()  # set while LISTEN is in effect

    async def run(self) -> None:
        import psycopg

        backoff = BACKOFF_MIN_SECONDS
        while True:
            conn: Any = None
            try:
                conn = await psycopg.AsyncConnection.connect(
                    self.conninfo,
                    autocommit=True,
                    connect_timeout=CONNECT_TIMEOUT_SECONDS,
                    application_name=APPLICATION_NAME,
                )
                await conn.execute(f"LISTEN {CHANNEL}")
                self.backend_pid = conn.info.backend_pid
                self.connects += 1
                self.listening.set()
                backoff = BACKOFF_MIN_SECONDS
                self.wake()  # anything committed while nobody listened
                while True:
                    async for _ in conn.notifies(timeout=QUIET_CHECK_SECONDS):
                        self.wake()
                    await conn.execute("SELECT 1")  # quiet: is the connection still there?
            except psycopg.Error as exc:
                self.listening.clear()
                log.warning(
                    "the wake-up listener lost PostgreSQL (%s); reconnecting in %.1f s",
                    str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__,
                    backoff,
                )
                await asyncio.sleep(backoff)
                backoff = min(backoff * 2, BACKOFF_MAX_SECONDS)
            finally:
                self.listening.clear()
                if conn is not None:
                    with contextlib.suppress(Exception):
                        await conn.close()
