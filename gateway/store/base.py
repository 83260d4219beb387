"""The store's shared state and the few helpers every verb module uses."""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from typing import TypeVar

from sqlalchemy import Connection, Engine, Table, select
from sqlalchemy.exc import DBAPIError, OperationalError, SQLAlchemyError
from sqlalchemy.exc import TimeoutError as PoolTimeout

from gateway.errors import NotFoundError, StoreError, StoreUnavailable
from gateway.secretbox import SecretBox
from gateway.store import dialect
from gateway.store.records import FromRow

R = TypeVar("R", bound=FromRow)

log = logging.getLogger(__name__)


def utcnow() -> datetime:
    return datetime.now(UTC)


class StoreBase:
    """Holds the engine, the secret box and the clock; verbs live in the mixins."""

    def __init__(
        self, engine: Engine, box: SecretBox, *, clock: Callable[[], datetime] = utcnow
    ) -> None:
        self.engine = engine
        self.box = box
        self.clock = clock

    @property
    def dialect(self) -> str:
        """``sqlite`` or ``postgresql`` (for display: branch in ``dialect.py``, not on this)."""
        return dialect.name_of(self.engine)

    @contextmanager
    def tx(self) -> Iterator[Connection]:
        """One transaction; driver errors leave as ``StoreError`` (translated once, here)."""
        try:
            with self.engine.begin() as conn:
                yield conn
        except SQLAlchemyError as exc:
            raise translate(exc) from exc

    def get_by_id(self, record: type[R], table: Table, row_id: str) -> R:
        """The row of ``table`` with id ``row_id`` as ``record``; ``NotFoundError`` when none."""
        with self.read() as conn:
            row = conn.execute(select(table).where(table.c.id == row_id)).first()
        if row is None:
            raise NotFoundError(f"{_noun(table)} {row_id} not found")
        return record.from_row(row)

    @contextmanager
    def read(self) -> Iterator[Connection]:
        try:
            with self.engine.connect().execution_options(readonly=True) as conn:
                yield conn
        except SQLAlchemyError as exc:
            raise translate(exc) from exc


def _noun(table: Table) -> str:
    """``deliveries`` -> ``delivery``, ``replays`` -> ``replay``: the name errors use."""
    name = table.name
    return name[:-3] + "y" if name.endswith("ies") else name.removesuffix("s")


def translate(exc: SQLAlchemyError) -> StoreError:
    """The store's one seam for driver errors. A database that cannot be reached (refused or
    dropped connection, server shutting down, pool exhausted, SQLite file locked past the busy
    timeout) is ``StoreUnavailable`` (503, retry); anything else is a ``StoreError`` (500). Either
    way the transaction was rolled back: nothing is half-written."""
    if isinstance(exc, PoolTimeout) or (
        isinstance(exc, DBAPIError) and (exc.connection_invalidated or _unreachable(exc))
    ):
        return StoreUnavailable(f"database unavailable: {_reason(exc)}")
    return StoreError(f"database error: {_reason(exc)}")


# SQLite reports a mistake in a statement as an OperationalError too; only these mean "not now".
_SQLITE_UNAVAILABLE = ("database is locked", "unable to open", "disk i/o error", "readonly")


def _unreachable(exc: DBAPIError) -> bool:
    if not isinstance(exc, OperationalError):
        return False
    if type(exc.orig).__module__.startswith("sqlite3"):
        text = str(exc.orig).lower()
        return any(marker in text for marker in _SQLITE_UNAVAILABLE)
    return True  # psycopg: connection refused or lost, server shutting down, admin cancel


def _reason(exc: SQLAlchemyError) -> str:
    orig = getattr(exc, "orig", None)
    return repr(orig) if orig is not None else str(exc)


def page_bounds(page: int, page_size: int) -> tuple[int, int]:
    return (page - 1) * page_size, page_size
