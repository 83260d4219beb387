"""Group commit of single events (gateway/intake.py): requests that share one store transaction
still get exactly the answer each would get alone. Real apps and stores (SQLite and PostgreSQL);
a group is made deterministic by letting it close only when it holds the expected count
(``max_group``) rather than by timing."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import httpx
import pytest
from sqlalchemy import create_engine, func, select
from starlette.testclient import TestClient

from gateway.app import create_app
from gateway.errors import StoreUnavailable
from gateway.intake import Committer
from gateway.sandbox.fakes.server import BackgroundServer
from gateway.store import EventIn, Store, open_store
from gateway.store.engine import normalise_url
from gateway.store.tables import DeliveryRow, EventRow
from tests.conftest import ADMIN_KEY, make_settings, task_data
from tests.store.test_outage import Outage

TENANT = "ten_group"
WAIT_SECONDS = 30.0  # a group waits this long at most for its expected members (never reached)


@pytest.fixture
def app_client(db_url: str, tmp_path: Any) -> Iterator[TestClient]:
    settings = make_settings(db_url, tmp_path)
    app = create_app(settings, run_worker=False, run_scheduler=False)
    with TestClient(app, headers={"x-api-key": ADMIN_KEY}) as client:
        client.post(
            "/integrations/destinations",
            json={
                "tenantId": TENANT,
                "connector": "webhook",
                "url": "http://127.0.0.1:9/hook",
                "eventTypes": ["task.completed"],
            },
        ).raise_for_status()
        yield client


def committer_of(client: TestClient) -> Committer:
    return committer_of_app(client.app)


def committer_of_app(app: Any) -> Committer:
    intake = app.state.services.intake
    assert isinstance(intake, Committer)
    return intake


def event(event_id: str | None = None, **data: Any) -> dict[str, Any]:
    body: dict[str, Any] = {"tenantId": TENANT, "type": "task.completed", "data": task_data(**data)}
    if event_id is not None:
        body["id"] = event_id
    return body


def post_together(client: TestClient, bodies: list[dict[str, Any]]) -> list[Any]:
    """POST each body from its own thread at once; the responses, in ``bodies`` order."""
    with ThreadPoolExecutor(len(bodies)) as pool:
        futures = [pool.submit(client.post, "/integrations/events", json=b) for b in bodies]
        return [f.result() for f in futures]


def test_a_group_answers_each_request_as_alone(app_client: TestClient) -> None:
    intake = committer_of(app_client)
    intake.max_group, intake.max_wait_seconds = 4, WAIT_SECONDS
    responses = post_together(
        app_client,
        [event("evt_g1"), event("evt_g2"), event("evt_g1"), event("evt_g3")],
    )
    assert intake.groups == 1  # all four in one transaction
    by_id: dict[str, list[Any]] = {}
    for r in responses:
        by_id.setdefault(r.json()["eventId"], []).append(r)
    assert sorted(by_id) == ["evt_g1", "evt_g2", "evt_g3"]
    for eid in ("evt_g2", "evt_g3"):
        [only] = by_id[eid]
        assert only.status_code == 202 and only.json()["status"] == "created"
        assert len(only.json()["deliveryIds"]) == 1
    # The same id twice in one group: one created, the other a duplicate with its delivery ids.
    pair = sorted(by_id["evt_g1"], key=lambda r: r.status_code)
    assert [r.status_code for r in pair] == [200, 202]
    assert [r.json()["status"] for r in pair] == ["duplicate", "created"]
    assert pair[0].json()["deliveryIds"] == pair[1].json()["deliveryIds"]
    assert len(pair[1].json()["deliveryIds"]) == 1
    intake.max_group, intake.max_wait_seconds = 1, 0.0
    again = app_client.post("/integrations/events", json=event("evt_g1"))
    assert again.status_code == 200 and again.json() == pair[0].json()  # sequential: the same


def test_a_rejected_request_does_not_fail_its_neighbours(app_client: TestClient) -> None:
    intake = committer_of(app_client)
    intake.max_group, intake.max_wait_seconds = 2, WAIT_SECONDS  # the rejected one never joins
    bad = {"tenantId": TENANT, "type": "task.completed", "data": {"nope": True}}
    responses = post_together(app_client, [event("evt_r1"), bad, event("evt_r2")])
    assert [r.status_code for r in responses] == [202, 422, 202]
    assert responses[1].json()["error"]["code"] == "validation_error"
    assert intake.groups == 1


def test_warnings_are_kept_in_a_group(app_client: TestClient) -> None:
    intake = committer_of(app_client)
    intake.max_group, intake.max_wait_seconds = 2, WAIT_SECONDS
    nobody = {**event("evt_w1"), "tenantId": "ten_nobody"}
    responses = post_together(app_client, [nobody, event("evt_w2")])
    assert [r.status_code for r in responses] == [202, 202]
    assert responses[0].json()["deliveryIds"] == []
    assert "goes nowhere" in responses[0].json()["warnings"][0]
    assert "warnings" not in responses[1].json()


@pytest.mark.postgres
def test_a_store_outage_answers_every_request_503(postgres_url: str, tmp_path: Any) -> None:
    settings = make_settings(postgres_url, tmp_path)
    app = create_app(settings, run_worker=False, run_scheduler=False)
    outage = Outage(postgres_url)
    try:
        with TestClient(app, headers={"x-api-key": ADMIN_KEY}) as client:
            client.get("/integrations/event-types").raise_for_status()  # the key is cached
            intake = committer_of(client)
            intake.max_group, intake.max_wait_seconds = 3, WAIT_SECONDS
            outage.start()
            responses = post_together(client, [event(f"evt_o{i}") for i in range(3)])
            outage.end()
            intake.max_group, intake.max_wait_seconds = 1, 0.0
            for r in responses:
                assert r.status_code == 503
                assert r.json()["error"]["code"] == "store_unavailable"
                assert r.headers["retry-after"] == str(StoreUnavailable.retry_after)
            after = client.post("/integrations/events", json=event("evt_o0"))
            assert after.status_code == 202 and after.json()["status"] == "created"
    finally:
        outage.end()
        outage.admin.dispose()


# The committer itself, on a real store: what the HTTP layer cannot line up deterministically.


@pytest.fixture
def store(db_url: str, tmp_path: Any) -> Iterator[Store]:
    s = open_store(make_settings(db_url, tmp_path), run_migrations=True)
    try:
        yield s
    finally:
        s.engine.dispose()


def item(event_id: str | None = None, data: Any = None) -> EventIn:
    return EventIn(id=event_id, tenant_id=TENANT, type="task.completed", data=data or task_data())


def stored_events(store: Store) -> int:
    with store.engine.connect() as conn:
        return int(conn.execute(select(func.count()).select_from(EventRow)).scalar_one())


def test_a_failing_group_retries_each_event_alone(store: Store) -> None:
    async def main() -> list[Any]:
        wakes: list[int] = []
        committer = Committer(
            store.ingest_events,
            lambda: wakes.append(1),
            max_group=3,
            max_wait_seconds=WAIT_SECONDS,
        )
        committer.start()
        # A value the store's JSON serializer refuses fails the whole group's transaction.
        unstorable = item("evt_f2", {**task_data(), "bad": {1, 2}})
        tasks = [
            asyncio.create_task(committer.submit(i))
            for i in (item("evt_f1"), unstorable, item("evt_f3"))
        ]
        answers = await asyncio.gather(*tasks, return_exceptions=True)
        await committer.close()
        assert committer.groups == 1 and len(wakes) == 1
        return answers

    first, failed, third = asyncio.run(main())
    with pytest.raises(Exception) as alone:  # what the same event gets when it is alone
        store.ingest_events([item("evt_f4", {**task_data(), "bad": {1, 2}})])
    assert type(failed) is type(alone.value)
    assert (first.event_id, first.status) == ("evt_f1", "created")
    assert (third.event_id, third.status) == ("evt_f3", "created")
    assert stored_events(store) == 2


def test_ids_follow_arrival_order_within_a_group(store: Store) -> None:
    store.create_destination(
        {
            "tenant_id": TENANT,
            "connector": "webhook",
            "url": "http://127.0.0.1:9/h",
            "event_types": ["*"],
        }
    )

    async def main() -> list[Any]:
        committer = Committer(store.ingest_events, max_group=20, max_wait_seconds=WAIT_SECONDS)
        committer.start()
        tasks = [asyncio.create_task(committer.submit(item())) for _ in range(20)]
        answers = await asyncio.gather(*tasks)
        await committer.close()
        assert committer.groups == 1
        return answers

    answers = asyncio.run(main())
    event_ids = [a.event_id for a in answers]
    assert event_ids == sorted(event_ids) and len(set(event_ids)) == 20
    delivery_ids = [a.delivery_ids[0] for a in answers]
    assert delivery_ids == sorted(delivery_ids)


def test_close_commits_everything_queued_then_refuses(store: Store) -> None:
    async def main() -> tuple[list[Any], BaseException | None]:
        # A group that would wait 30 s for company: close must not wait for it, nor drop it.
        committer = Committer(store.ingest_events, max_group=100, max_wait_seconds=WAIT_SECONDS)
        committer.start()
        tasks = [asyncio.create_task(committer.submit(item(f"evt_c{i}"))) for i in range(5)]
        await asyncio.sleep(0)  # they are queued
        await committer.close()
        answers = await asyncio.gather(*tasks)
        try:
            await committer.submit(item("evt_late"))
        except StoreUnavailable as exc:
            return answers, exc
        return answers, None

    answers, late = asyncio.run(main())
    assert [a.status for a in answers] == ["created"] * 5
    assert isinstance(late, StoreUnavailable)
    assert stored_events(store) == 5


def test_the_app_stopping_answers_waiting_requests(db_url: str, tmp_path: Any) -> None:
    """A real uvicorn told to stop while requests wait in a group: they are committed and
    answered (uvicorn lets in-flight requests finish, then the lifespan drains the committer)."""
    settings = make_settings(db_url, tmp_path)
    app = create_app(settings, run_worker=False, run_scheduler=False)
    pool = ThreadPoolExecutor(3)
    with BackgroundServer(app) as server:
        intake = committer_of_app(app)
        # The group waits 2 s for company that never comes (under uvicorn's 5 s grace).
        intake.max_group, intake.max_wait_seconds = 100, 2.0
        futures = [
            pool.submit(
                httpx.post,
                f"{server.url}/integrations/events",
                json=event(f"evt_s{i}"),
                headers={"x-api-key": ADMIN_KEY},
                timeout=WAIT_SECONDS,
            )
            for i in range(3)
        ]
        while intake.pending < 3:  # all three are waiting in the committer
            threading.Event().wait(0.01)
        server.stop()
        responses = [f.result(timeout=WAIT_SECONDS) for f in futures]
    pool.shutdown()
    assert [r.status_code for r in responses] == [202, 202, 202]
    engine = create_engine(normalise_url(db_url))
    try:
        with engine.connect() as conn:
            assert conn.execute(select(func.count()).select_from(EventRow)).scalar_one() == 3
            assert conn.execute(select(func.count()).select_from(DeliveryRow)).scalar_one() == 0
    finally:
        engine.dispose()
