"""``ids.new_ids``: the bulk ids a fan-out makes are the ids ``new_id`` would make one by one."""

from __future__ import annotations

from gateway import ids


def test_bulk_ids_sort_between_single_ids_and_are_unique() -> None:
    before = ids.new_id(ids.DELIVERY)
    bulk = ids.new_ids(ids.DELIVERY, 5000)
    after = ids.new_id(ids.DELIVERY)
    assert len(set(bulk)) == 5000
    assert [before, *bulk, after] == sorted([before, *bulk, after])
    assert all(i.startswith("dlv_") and len(i) == len(before) for i in bulk)


def test_the_pair_table_encodes_as_the_reference() -> None:
    for value in (0, 1, 31, 32, 1023, 1024, 2**79 + 12345, 2**80 - 1):
        assert ids._b32_80(value) == ids._b32(value, 16)  # noqa: SLF001


def test_no_ids_for_nothing() -> None:
    assert ids.new_ids(ids.DELIVERY, 0) == []
