"""``KeyCache``: who an ``x-api-key`` belongs to, cached per process, invalidated via the database.

A revoked key must be refused by every process within 1 s (CONTRACT §3), and a key created by
another process must work at once. Each process therefore keeps its answers only while the keys'
*fingerprint* (``Store.keys_fingerprint``: how many keys exist and how many are revoked, both only
ever grow) is unchanged, and reads that fingerprint at most every ``CHECK_SECONDS``: one cheap query
per process per half second, whatever the traffic, instead of one per request. A revocation is
therefore seen within ``CHECK_SECONDS`` plus one query.

A lookup that raced a revocation cannot leave a stale answer behind: answers are stored only if no
invalidation happened while they were being looked up (``generation``).

Last-used times are written at most once per ``LAST_USED_WRITE_SECONDS`` per key and process.
"""

from __future__ import annotations

import asyncio
import hmac
import logging
import time
from dataclasses import dataclass, field

from gateway.errors import AuthError, StoreError
from gateway.settings import Settings
from gateway.store import Principal, Store
from gateway.store.keys import hash_key

log = logging.getLogger(__name__)

CHECK_SECONDS = 0.5
LAST_USED_WRITE_SECONDS = 60.0
MAX_ENTRIES = 10_000
BOOTSTRAP_KEY_ID = "key_bootstrap"


@dataclass
class KeyCache:
    entries: dict[str, Principal | None] = field(default_factory=dict)  # by key hash
    fingerprint: tuple[int, int] | None = None
    checked_at: float = float("-inf")  # time.monotonic() of the last fingerprint read
    generation: int = 0  # bumped on every invalidation
    touched: dict[str, float] = field(default_factory=dict)  # key id -> last-used write

    def invalidate(self) -> None:
        self.entries.clear()
        self.generation += 1

    async def principal(self, store: Store, settings: Settings, key: str) -> Principal:
        """Who ``key`` belongs to; ``AuthError`` for an unknown or revoked key."""
        await self._refresh(store)
        digest = hash_key(key)
        if digest in self.entries:
            principal = self.entries[digest]
        else:
            generation = self.generation
            principal = await asyncio.to_thread(store.find_api_key, key)
            if principal is None and _is_bootstrap(settings, key):
                principal = Principal(
                    key_id=BOOTSTRAP_KEY_ID, tenant_id=None, is_admin=True, name="GATEWAY_ADMIN_KEY"
                )
            if generation == self.generation:
                if len(self.entries) >= MAX_ENTRIES:
                    self.entries.clear()
                self.entries[digest] = principal
        if principal is None:
            raise AuthError("invalid x-api-key")
        await self._touch(store, principal)
        return principal

    async def _refresh(self, store: Store) -> None:
        now = time.monotonic()
        if now - self.checked_at < CHECK_SECONDS:
            return
        fingerprint = await asyncio.to_thread(store.keys_fingerprint)
        self.checked_at = now
        if fingerprint != self.fingerprint:
            self.fingerprint = fingerprint
            self.invalidate()

    async def _touch(self, store: Store, principal: Principal) -> None:
        if principal.key_id == BOOTSTRAP_KEY_ID:
            return
        now = time.monotonic()
        if now - self.touched.get(principal.key_id, float("-inf")) < LAST_USED_WRITE_SECONDS:
            return
        self.touched[principal.key_id] = now
        try:
            await asyncio.to_thread(store.touch_api_key, principal.key_id)
        except StoreError as exc:  # a missed last-used time is not worth failing the request
            log.warning("could not record a key's last use: %s", exc.message)


def _is_bootstrap(settings: Settings, key: str) -> bool:
    admin_key = settings.admin_key
    return bool(admin_key) and hmac.compare_digest(key.encode(), str(admin_key).encode())
