"""``GET /integrations/deliveries.csv``: the API list's rows, safe to open in a spreadsheet."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator
from typing import Any

import pytest
from sqlalchemy import update
from starlette.testclient import TestClient

from gateway.api.export import COLUMNS, safe_cell
from gateway.settings import Settings
from gateway.store import Store
from gateway.store.tables import DeliveryRow
from tests.conftest import runner_client
from tests.seeding import seed_deliveries

_dlv = DeliveryRow.__table__  # type: ignore[attr-defined]


@pytest.fixture
def api(settings: Settings, store: Store) -> Iterator[TestClient]:
    """Over the seeded ``store``, not tests/api/'s shared app (10,000 rows want their own)."""
    with runner_client(settings, store) as client:
        yield client


def read_csv(client: TestClient, **params: str) -> list[dict[str, str]]:
    r = client.get("/integrations/deliveries.csv", params=params)
    assert r.status_code == 200, r.text
    assert r.headers["content-type"].startswith("text/csv")
    assert "attachment" in r.headers["content-disposition"]
    assert r.content.startswith(b"\xef\xbb\xbf")  # the BOM: Excel reads UTF-8
    return list(csv.DictReader(io.StringIO(r.content.decode("utf-8-sig"), newline="")))


def api_rows(client: TestClient, **params: str) -> list[dict[str, Any]]:
    items: list[dict[str, Any]] = []
    page = 1
    while True:
        body = client.get(
            "/integrations/deliveries", params={**params, "page": page, "pageSize": 100}
        ).json()
        items.extend(body["items"])
        if len(items) >= body["total"]:
            return items
        page += 1


def as_cell(value: Any) -> str:
    """What a CSV cell holds for an API value (the CSV's own rendering, via ``safe_cell``)."""
    return str(safe_cell(value))


# SQLite only: the size is about streaming and spreadsheet safety, which do not depend on the
# database; the PostgreSQL path is covered by the filter test below.
@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)
def test_csv_of_10000_matches_the_api_list(api: TestClient, store: Store) -> None:
    seed_deliveries(store, 6000, status="failed", last_error="HTTP 500: =upstream exploded")
    seed_deliveries(store, 4000, status="succeeded", name="good")
    rows = read_csv(api)
    assert len(rows) == 10_000
    assert list(rows[0]) == [name for name, _ in COLUMNS]
    listed = api_rows(api)
    assert [r["id"] for r in rows] == [d["id"] for d in listed]  # same order: newest first
    for row, item in zip(rows, listed, strict=True):
        for name, _ in COLUMNS:
            assert row[name] == as_cell(item[name]), (name, row[name], item[name])
    failed = [r for r in rows if r["status"] == "failed"]
    assert {r["lastError"] for r in failed} == {"HTTP 500: =upstream exploded"}  # not a formula
    assert len(failed) == 6000


def test_csv_takes_the_list_filters(api: TestClient, store: Store) -> None:
    bad = seed_deliveries(store, 30, status="failed")
    seed_deliveries(store, 20, status="succeeded", name="good")
    seed_deliveries(store, 10, status="failed", tenant_id="t2")
    for params in (
        {"status": "failed"},
        {"destinationId": bad.id},
        {"tenantId": "t2"},
        {"status": "succeeded", "isTest": "false"},
    ):
        listed = [d["id"] for d in api_rows(api, **params)]
        assert [r["id"] for r in read_csv(api, **params)] == listed
    key = api.post("/integrations/keys", json={"tenantId": "t2"}).json()["key"]
    mine = api.get("/integrations/deliveries.csv", headers={"x-api-key": key})
    assert mine.text.count("\n") == 11 and "t1" not in mine.text
    assert api.get("/integrations/deliveries.csv", headers={"x-api-key": "nope"}).status_code == 401
    assert api.get("/integrations/deliveries.csv", params={"status": "x"}).status_code == 422


@pytest.mark.parametrize(
    ("value", "cell"),
    [
        ("=1+1", "'=1+1"),  # a formula
        ("+SUM(A1:A2)", "'+SUM(A1:A2)"),  # a formula by its plus sign
        ("-2+3", "'-2+3"),  # minus starts a formula too
        ("@SUM(A1)", "'@SUM(A1)"),  # Lotus-style at
        ("\t=1", "'\t=1"),  # a leading tab is stripped by some spreadsheets, exposing the =
        ("\r=1", "'\r=1"),  # likewise a carriage return
        ("\uff1d1+1", "'\uff1d1+1"),  # full-width equals sign, which some spreadsheets accept
        ("=cmd|' /C calc'!A0", "'=cmd|' /C calc'!A0"),  # the classic DDE payload
        ("HTTP 500 = bad", "HTTP 500 = bad"),  # an = inside text is harmless
        ("", ""),  # empty stays empty
        (None, ""),  # null is an empty cell
        (-5, -5),  # a number stays a number, sign and all
        (3, 3),  # integers stay numbers
        (True, "true"),  # booleans as JSON spells them
    ],
)
def test_safe_cell(value: Any, cell: Any) -> None:
    assert safe_cell(value) == cell


def test_hostile_values_are_neutralised_end_to_end(api: TestClient, store: Store) -> None:
    seed_deliveries(
        store,
        2,
        tenant_id='=HYPERLINK("http://evil")',
        status="failed",
        last_error="@SUM(1+1)*cmd|' /C calc'!A0",
    )
    with store.tx() as conn:
        conn.execute(update(_dlv).values(event_type="+task.completed"))
    rows = read_csv(api)
    assert len(rows) == 2
    for row in rows:
        assert row["tenantId"] == '\'=HYPERLINK("http://evil")'
        assert row["lastError"] == "'@SUM(1+1)*cmd|' /C calc'!A0"
        assert row["eventType"] == "'+task.completed"
        for value in row.values():
            assert not value.startswith(("=", "+", "-", "@", "\t", "\r"))
