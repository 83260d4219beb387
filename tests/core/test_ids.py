"""Prefixed, time-sortable ids (``gateway/ids.py``): a ULID body, derived ids stable."""

from __future__ import annotations

import re

from gateway import ids

BODY = re.compile(r"^[0-9A-HJKMNP-TV-Z]{26}$")  # Crockford base32: no I, L, O, U


def test_ids_sort_in_creation_order_even_within_one_millisecond() -> None:
    made = [ids.new_id(ids.DELIVERY) for _ in range(2000)]
    assert made == sorted(made) and len(set(made)) == 2000


def test_an_id_is_its_prefix_and_a_26_character_body() -> None:
    for prefix in (ids.EVENT, ids.DESTINATION, ids.DELIVERY, ids.ATTEMPT, ids.SOURCE, ids.REPLAY):
        made = ids.new_id(prefix)
        head, body = made.split("_")
        assert head == prefix and BODY.match(body), made


def test_the_time_part_orders_ids_across_milliseconds() -> None:
    earlier = ids.new_id(ids.EVENT, now_ms=1_700_000_000_000)
    later = ids.new_id(ids.EVENT, now_ms=1_700_000_000_001)
    assert earlier < later
    assert earlier[4:14] == ids._b32(1_700_000_000_000, 10)  # 48 bits of milliseconds first


def test_derived_ids_are_stable_and_keep_their_parts_apart() -> None:
    assert ids.derived_id("evt", "a", "b") == ids.derived_id("evt", "a", "b")
    assert ids.derived_id("evt", "a", "b") != ids.derived_id("evt", "ab", "")
    assert ids.derived_id("evt", "a", "b") != ids.derived_id("evt", "b", "a")
    head, body = ids.derived_id("src", "x").split("_")
    assert head == "src" and BODY.match(body)
