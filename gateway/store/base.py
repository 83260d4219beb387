"""The store's shared state and the few helpers every verb module uses."""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Connection, Engine
from sqlalchemy.exc import DBAPIError, SQLAlchemyError

from gateway.errors import StoreError
from gateway.secretbox import SecretBox

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
        return self.engine.dialect.name

    @contextmanager
    def tx(self) -> Iterator[Connection]:
        """One transaction; driver errors leave as ``StoreError`` (translated once, here)."""
        try:
            with self.engine.begin() as conn:
                yield conn
        except DBAPIError as exc:
            raise StoreError(f"database error: {exc.orig!r}") from exc
        except SQLAlchemyError as exc:
            raise StoreError(f"database error: {exc}") from exc

    @contextmanager
    def read(self) -> Iterator[Connection]:
        try:
            with self.engine.connect().execution_options(readonly=True) as conn:
                yield conn
        except DBAPIError as exc:
            raise StoreError(f"database error: {exc.orig!r}") from exc


def page_bounds(page: int, page_size: int) -> tuple[int, int]:
    return (page - 1) * page_size, page_size


def row_dict(row: Any) -> dict[str, Any]:
    return dict(row._mapping)


def insert_ignore(conn: Connection, table: Any) -> Any:
    """``INSERT … ON CONFLICT DO NOTHING`` for the connection's dialect."""
    if conn.dialect.name == "postgresql":
        from sqlalchemy.dialects.postgresql import insert as pg_insert

        return pg_insert(table).on_conflict_do_nothing()
    from sqlalchemy.dialects.sqlite import insert as sqlite_insert

    return sqlite_insert(table).on_conflict_do_nothing()
