"""Prefixed, time-sortable ids: ``evt_ dst_ dlv_ att_ src_ key_ rpl_``.

The body is a 26-character Crockford base32 ULID (48 bits of milliseconds, 80 random bits), so ids
sort by creation time as plain strings in both SQLite and PostgreSQL. Derived ids (an event id made
from a person.run task id) use a hash instead, so the same input always yields the same id.
"""

from __future__ import annotations

import hashlib
import os
import threading
import time

_ALPHABET = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"

EVENT = "evt"
DESTINATION = "dst"
DELIVERY = "dlv"
ATTEMPT = "att"
SOURCE = "src"
KEY = "key"
REPLAY = "rpl"


def _b32(value: int, length: int) -> str:
    chars = []
    for _ in range(length):
        chars.append(_ALPHABET[value & 31])
        value >>= 5
    return "".join(reversed(chars))


_lock = threading.Lock()
_last = (0, 0)  # (milliseconds, random part) of the newest id made in this process


def new_id(prefix: str, *, now_ms: int | None = None) -> str:
    """A new ULID-bodied id; ``now_ms`` (Unix milliseconds) is for tests.

    Monotonic within a process: ids made in the same millisecond increment the random part, so
    the order ids were made in is their sort order (fan-out order = delivery order for
    ``ordered`` destinations).
    """
    global _last
    ms = int(time.time() * 1000) if now_ms is None else now_ms
    with _lock:
        last_ms, last_rand = _last
        if ms <= last_ms and now_ms is None:
            ms, rand = last_ms, (last_rand + 1) & ((1 << 80) - 1)
        else:
            rand = int.from_bytes(os.urandom(10), "big") >> 1  # headroom for increments
        _last = (ms, rand)
    return f"{prefix}_{_b32(ms, 10)}{_b32(rand, 16)}"


def derived_id(prefix: str, *parts: str) -> str:
    """A stable id for an outside identity (e.g. a person.run task): same parts, same id."""
    digest = hashlib.sha256("\x1f".join(parts).encode()).digest()
    return f"{prefix}_{_b32(int.from_bytes(digest[:17], 'big') >> 6, 26)}"
