"""The store: domain verbs over SQLAlchemy, one layer for SQLite and PostgreSQL.

``Store`` is assembled from one mixin per resource so each module stays small:
keys, destinations, events (+ fan-out), deliveries (log, replay, test), claim (the worker's hot
path), ops (cursors, ticks, heartbeats, replays, sources), retention and erasure
(pruning, expunging), opevents (operational events). Verbs return the frozen records of
``records.py``; every SQLite/PostgreSQL difference is a function in ``dialect.py``.
"""

from __future__ import annotations

from sqlalchemy.exc import SQLAlchemyError

from gateway.errors import MigrationsPending
from gateway.secretbox import SecretBox
from gateway.settings import Settings
from gateway.store import dialect
from gateway.store.attempts import AttemptRecord, Recorded, RecordResult
from gateway.store.base import translate
from gateway.store.claim import Claimed, ClaimVerbs
from gateway.store.deliveries import DeliveryFilter, DeliveryVerbs
from gateway.store.engine import make_engine, migrate, pending_migrations
from gateway.store.erasure import ErasureVerbs
from gateway.store.events import EventIn, IntakeResult
from gateway.store.keys import KeyVerbs, Principal
from gateway.store.opevents import OpEventVerbs
from gateway.store.ops import OpsVerbs
from gateway.store.replays import ReplayFilter, ReplayVerbs
from gateway.store.stats import StatsVerbs


class Store(
    DeliveryVerbs,
    ClaimVerbs,
    KeyVerbs,
    OpsVerbs,
    ReplayVerbs,
    StatsVerbs,
    ErasureVerbs,
    OpEventVerbs,
):
    """Every verb the API, the worker and the scheduler use."""


def open_store(settings: Settings, *, run_migrations: bool | None = None) -> Store:
    """The store for ``settings``, its schema checked.

    ``run_migrations``: ``True`` migrates; ``False`` trusts the schema; ``None`` (``serve``,
    ``worker``) follows the deployment's policy: the embedded SQLite file migrates itself, and so
    does PostgreSQL with ``GATEWAY_AUTO_MIGRATE=true``; otherwise a PostgreSQL schema that is
    behind raises ``MigrationsPending`` (a newcomer's ``postgres`` database is not silently filled
    with tables; an operator runs ``gateway migrate`` when they choose)."""
    engine = make_engine(settings.database_url)
    # The box first: migration 0006 seals what earlier versions stored in clear.
    box = SecretBox.from_settings(settings.encryption_key, settings.database_dir())
    try:
        if run_migrations is None:
            run_migrations = dialect.is_sqlite(engine) or settings.auto_migrate
            if not run_migrations and (pending := pending_migrations(engine)):
                raise MigrationsPending(
                    f"the database schema is behind ({len(pending)} migration(s) pending, up to "
                    f"{pending[-1]}): run `gateway migrate`, or set GATEWAY_AUTO_MIGRATE=true"
                )
        if run_migrations:
            migrate(engine, box)
    except SQLAlchemyError as exc:
        engine.dispose()
        raise translate(exc) from exc
    except MigrationsPending:
        engine.dispose()
        raise
    return Store(engine, box)


__all__ = [
    "AttemptRecord",
    "Claimed",
    "DeliveryFilter",
    "EventIn",
    "IntakeResult",
    "Principal",
    "RecordResult",
    "Recorded",
    "ReplayFilter",
    "Store",
    "make_engine",
    "migrate",
    "open_store",
    "pending_migrations",
]
