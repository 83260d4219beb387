"""The person.run client against the simulator under a real uvicorn server on 127.0.0.1, plus
``httpx.MockTransport`` cases for answers the simulator never gives."""

from __future__ import annotations

import asyncio
import socket
import time
from collections.abc import AsyncIterator, Callable, Iterator
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from typing import Any

import httpx
import pydantic
import pytest
from starlette.applications import Starlette

from gateway.catalog import validate_event_data
from gateway.errors import UpstreamError, UpstreamThrottled
from gateway.sandbox.fakes.server import BackgroundServer
from gateway.sandbox.simulator import (
    DEFAULT_POPULATION_ID,
    DEFAULT_SKILL_ID,
    DEFAULT_TENANT_ID,
    create_simulator_app,
)
from gateway.upstream.client import (
    DEFAULT_RETRY_AFTER_SECONDS,
    PersonRunClient,
    Task,
    parse_retry_after,
)
from gateway.upstream.mapping import task_event_data, task_event_id

KEY = "sim-client-key"
NOW = datetime(2025, 11, 20, 14, 30, tzinfo=UTC)


@pytest.fixture
def simulator() -> Iterator[tuple[str, Starlette]]:
    app = create_simulator_app(api_key=KEY, seed=11, task_seconds=(0.05, 0.25))
    with BackgroundServer(app) as server:
        yield server.url, app


@pytest.fixture
async def http() -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(timeout=5) as client:
        yield client


@pytest.fixture
def client(simulator: tuple[str, Starlette], http: httpx.AsyncClient) -> PersonRunClient:
    return PersonRunClient(http, base_url=simulator[0] + "/", api_key=KEY)


async def arm(http: httpx.AsyncClient, base_url: str, **fault: Any) -> None:
    response = await http.post(f"{base_url}/_faults", json=fault, headers={"x-api-key": KEY})
    assert response.status_code == 201, response.text


async def test_poll_a_run_of_50_tasks_into_valid_events(
    simulator: tuple[str, Starlette], http: httpx.AsyncClient, client: PersonRunClient
) -> None:
    base_url, _ = simulator
    headers = {"x-api-key": KEY}
    study = await http.post(
        f"{base_url}/studies",
        headers=headers,
        json={
            "tenantId": DEFAULT_TENANT_ID,
            "populationId": DEFAULT_POPULATION_ID,
            "skillId": DEFAULT_SKILL_ID,
            "name": "Oat Milk Concept",
        },
    )
    started = time.monotonic()
    run = await http.post(
        f"{base_url}/studies/{study.json()['id']}/runs",
        headers=headers,
        json={"tenantId": DEFAULT_TENANT_ID, "maxConcurrency": 10},
    )
    assert run.status_code == 202

    # The poller's loop: page with a fixed cursor until a short page, then advance the cursor.
    tasks: dict[str, Task] = {}
    cursor: datetime | None = None
    while len(tasks) < 50 and time.monotonic() - started < 10:
        page = 1
        while True:
            batch = await client.list_completed_tasks(DEFAULT_TENANT_ID, cursor, page, 8)
            for task in batch.items:
                assert task.id not in tasks  # never repeated
                tasks[task.id] = task
            if batch.items:
                cursor = max(cursor or batch.items[-1].updated_at, batch.items[-1].updated_at)
            if len(batch.items) < 8:
                break
            page += 1
        await asyncio.sleep(0.05)
    elapsed = time.monotonic() - started
    assert len(tasks) == 50 and elapsed < 5  # 50 tasks x 0.05-0.25 s on 10 slots: about 1 s
    assert set(tasks) == set(run.json()["taskIds"])

    starts = [(t.started_at, 1) for t in tasks.values()]
    ends = [(t.completed_at, -1) for t in tasks.values()]
    spans = sorted(starts + ends, key=lambda edge: (edge[0], edge[1]))  # ends first at a tie
    running = peak = 0
    for _, step in spans:
        running += step
        peak = max(peak, running)
    assert peak == 10  # maxConcurrency reached, never exceeded

    event_ids = set()
    for task in tasks.values():
        results, turns, scores = await asyncio.gather(
            client.get_results(task.id), client.get_turns(task.id), client.get_scores(task.id)
        )
        data = task_event_data(task, results, turns, scores, base_url=client.base_url)
        validate_event_data("task.completed", data)
        assert data["studyName"] == "Oat Milk Concept" and len(data["results"]["answers"]) == 5
        assert data["persona"]["name"] and data["persona"]["occupation"]
        assert 4 <= len(data["turns"]) <= 8
        assert data["links"]["task"] == f"{base_url}/tasks/{task.id}"
        event_ids.add(task_event_id(DEFAULT_TENANT_ID, task.id))
    assert len(event_ids) == 50
    assert (await client.get_task(task.id)).model_extra == {"populationId": DEFAULT_POPULATION_ID}


async def test_throttling_carries_retry_after(
    simulator: tuple[str, Starlette], http: httpx.AsyncClient, client: PersonRunClient
) -> None:
    await arm(http, simulator[0], mode="throttle429", count=1, retryAfter=2)
    with pytest.raises(UpstreamThrottled) as seconds:
        await client.list_completed_tasks(DEFAULT_TENANT_ID)
    assert seconds.value.retry_after == 2.0

    await arm(
        http, simulator[0], mode="throttle429", count=1, retryAfter=3, retryAfterHttpDate=True
    )
    with pytest.raises(UpstreamThrottled) as dated:
        await client.get_scores("any")
    assert 1.5 <= dated.value.retry_after <= 3.0  # an HTTP-date has whole seconds
    assert (await client.list_completed_tasks(DEFAULT_TENANT_ID)).total == 0


async def test_server_errors_and_bad_keys_are_upstream_errors(
    simulator: tuple[str, Starlette], http: httpx.AsyncClient, client: PersonRunClient
) -> None:
    await arm(http, simulator[0], mode="error500", count=1)
    with pytest.raises(UpstreamError) as failed:
        await client.get_results("any")
    assert not isinstance(failed.value, UpstreamThrottled)
    assert isinstance(failed.value.__cause__, httpx.HTTPStatusError)
    assert failed.value.details == [{"status": 500}]

    with pytest.raises(UpstreamError) as missing:
        await client.get_turns("no-such-task")
    assert missing.value.details == [{"status": 404}]

    stranger = PersonRunClient(http, base_url=simulator[0], api_key="wrong")
    with pytest.raises(UpstreamError) as denied:
        await stranger.list_completed_tasks(DEFAULT_TENANT_ID)
    assert denied.value.details == [{"status": 401}] and "wrong" not in str(denied.value)


async def test_timeouts_and_refused_connections_are_upstream_errors(
    simulator: tuple[str, Starlette],
) -> None:
    async with httpx.AsyncClient(timeout=5) as http:
        await arm(http, simulator[0], mode="slow", count=1, delaySeconds=0.5)
    async with httpx.AsyncClient(timeout=0.1) as impatient:
        client = PersonRunClient(impatient, base_url=simulator[0], api_key=KEY)
        with pytest.raises(UpstreamError) as slow:
            await client.list_completed_tasks(DEFAULT_TENANT_ID)
        assert isinstance(slow.value.__cause__, httpx.TimeoutException)

        with socket.socket() as sock:  # a port nobody listens on
            sock.bind(("127.0.0.1", 0))
            port = sock.getsockname()[1]
        closed = PersonRunClient(impatient, base_url=f"http://127.0.0.1:{port}", api_key=KEY)
        with pytest.raises(UpstreamError) as refused:
            await closed.get_task("x")
        assert isinstance(refused.value.__cause__, httpx.ConnectError)


def mock_client(handler: Callable[[httpx.Request], httpx.Response]) -> PersonRunClient:
    http = httpx.AsyncClient(transport=httpx.MockTransport(handler))
    return PersonRunClient(http, base_url="https://api.person.run", api_key=KEY, clock=lambda: NOW)


async def test_bodies_that_do_not_fit_are_upstream_errors() -> None:
    client = mock_client(lambda request: httpx.Response(200, content=b"<html>oops</html>"))
    with pytest.raises(UpstreamError) as not_json:
        await client.get_results("t")
    assert isinstance(not_json.value.__cause__, ValueError)

    client = mock_client(lambda request: httpx.Response(200, json={"items": "nope"}))
    with pytest.raises(UpstreamError) as wrong_shape:
        await client.list_completed_tasks("tenant")
    assert isinstance(wrong_shape.value.__cause__, pydantic.ValidationError)
    with pytest.raises(UpstreamError, match="no turns"):
        await client.get_turns("t")

    redirect = {"location": "https://elsewhere.example/"}
    client = mock_client(lambda request: httpx.Response(302, headers=redirect))
    with pytest.raises(UpstreamError) as moved:
        await client.get_scores("t")
    assert moved.value.details == [{"status": 302}]


async def test_requests_and_tolerant_models() -> None:
    seen: list[httpx.Request] = []
    turn = {"role": "persona", "content": "hi", "sentiment": "warm"}

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        if request.url.path.endswith("/turns"):
            return httpx.Response(200, json=[turn])  # a bare list is accepted too
        return httpx.Response(200, json={"items": [], "page": 1, "pageSize": 5, "total": 0})

    client = mock_client(handler)
    cursor = datetime(2025, 11, 20, 14, 30, 2, 123456, tzinfo=UTC)
    await client.list_completed_tasks("t 1", cursor, page=2, page_size=5)
    await client.list_completed_tasks("t", datetime(2025, 11, 20, 9, 0))  # naive: UTC
    await client.list_completed_tasks("t", "2025-11-20T14:30:02.123Z")  # passed through
    turns = await client.get_turns("a/b")
    assert dict(seen[0].url.params) == {
        "tenantId": "t 1",
        "status": "completed",
        "page": "2",
        "pageSize": "5",
        "updatedAfter": "2025-11-20T14:30:02.123456Z",
    }
    assert seen[1].url.params["updatedAfter"] == "2025-11-20T09:00:00.000000Z"
    assert seen[2].url.params["updatedAfter"] == "2025-11-20T14:30:02.123Z"
    assert seen[3].url.raw_path == b"/tasks/a%2Fb/turns"
    assert all(r.headers["x-api-key"] == KEY for r in seen)
    assert turns[0].content == "hi" and turns[0].model_extra == {"sentiment": "warm"}


@pytest.mark.parametrize(
    ("value", "seconds"),
    [
        ("3", 3.0),  # delta-seconds
        (" 1.5 ", 1.5),  # fractional, padded
        ("-4", 0.0),  # negative: no wait
        (format_datetime(NOW + timedelta(seconds=10), usegmt=True), 10.0),  # HTTP-date
        (format_datetime(NOW - timedelta(seconds=10), usegmt=True), 0.0),  # a past date
        (None, DEFAULT_RETRY_AFTER_SECONDS),  # missing
        ("soon", DEFAULT_RETRY_AFTER_SECONDS),  # unreadable
    ],
)
def test_parse_retry_after(value: str | None, seconds: float) -> None:
    assert parse_retry_after(value, now=NOW) == seconds
