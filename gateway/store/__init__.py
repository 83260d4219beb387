"""The store: domain verbs over SQLAlchemy, one layer for SQLite and PostgreSQL.

``Store`` is assembled from one mixin per resource so each module stays small:
keys, destinations, events (+ fan-out), deliveries (log, replay, test), claim (the worker's hot
path), ops (cursors, ticks, heartbeats, replays, sources), retention and erasure
(pruning, expunging), opevents (operational events).
"""

from __future__ import annotations

from gateway.secretbox import SecretBox
from gateway.settings import Settings
from gateway.store.claim import AttemptRecord, Claimed, ClaimVerbs
from gateway.store.deliveries import DeliveryFilter, DeliveryVerbs
from gateway.store.engine import make_engine, migrate
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


def open_store(settings: Settings, *, run_migrations: bool = True) -> Store:
    engine = make_engine(settings.database_url)
    if run_migrations:
        migrate(engine)
    box = SecretBox.from_settings(settings.encryption_key, settings.database_dir())
    return Store(engine, box)


__all__ = [
    "AttemptRecord",
    "Claimed",
    "DeliveryFilter",
    "EventIn",
    "IntakeResult",
    "Principal",
    "ReplayFilter",
    "Store",
    "open_store",
]
