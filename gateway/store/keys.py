"""API keys: stored as SHA-256 hashes; the plain key is shown once."""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass

from sqlalchemy import insert, select

from gateway import ids
from gateway.store.base import StoreBase
from gateway.store.tables import ApiKeyRow

KEY_PREFIX = "pgw_"
_keys = ApiKeyRow.__table__  # type: ignore[attr-defined]


@dataclass(frozen=True)
class Principal:
    """Who is calling: an admin sees every tenant; a tenant key sees one."""

    key_id: str
    tenant_id: str | None
    is_admin: bool
    name: str = ""

    def can_see(self, tenant_id: str) -> bool:
        return self.is_admin or self.tenant_id == tenant_id


def hash_key(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()


class KeyVerbs(StoreBase):
    def create_api_key(
        self, *, tenant_id: str | None, name: str, is_admin: bool
    ) -> tuple[str, str]:
        """Returns ``(key_id, key)``; only the hash is stored."""
        key_id = ids.new_id(ids.KEY)
        key = KEY_PREFIX + secrets.token_urlsafe(32)
        with self.tx() as conn:
            conn.execute(
                insert(_keys).values(
                    id=key_id,
                    tenant_id=tenant_id,
                    name=name,
                    key_hash=hash_key(key),
                    is_admin=is_admin,
                    created_at=self.clock(),
                )
            )
        return key_id, key

    def find_api_key(self, key: str) -> Principal | None:
        with self.read() as conn:
            row = conn.execute(
                select(_keys.c.id, _keys.c.tenant_id, _keys.c.is_admin, _keys.c.name).where(
                    _keys.c.key_hash == hash_key(key), _keys.c.revoked_at.is_(None)
                )
            ).first()
        if row is None:
            return None
        return Principal(
            key_id=row.id, tenant_id=row.tenant_id, is_admin=bool(row.is_admin), name=row.name
        )
