"""The person.run simulator, driven in-process through httpx's ASGI transport with a fake clock.

Time only moves when a test advances it, so schedules, pagination and concurrency are exact.
"""

from __future__ import annotations

import time
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from typing import Any

import httpx
import pytest

from gateway.sandbox.simulator import (
    DEFAULT_POPULATION_ID,
    DEFAULT_SKILL_ID,
    DEFAULT_TENANT_ID,
    create_simulator_app,
)

KEY = "sim-test-key"
T0 = 1_763_649_000.0  # 2025-11-20T14:30:00Z


class FakeClock:
    def __init__(self, now: float = T0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


def make_client(clock: FakeClock, *, seed: int = 7, **kwargs: Any) -> httpx.AsyncClient:
    app = create_simulator_app(api_key=KEY, seed=seed, clock=clock, **kwargs)
    return httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url="http://sim", headers={"x-api-key": KEY}
    )


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
async def sim(clock: FakeClock) -> AsyncIterator[httpx.AsyncClient]:
    async with make_client(clock) as client:
        yield client


async def start_run(
    sim: httpx.AsyncClient,
    concurrency: int = 6,
    population_id: str = DEFAULT_POPULATION_ID,
    name: str = "Smart Kettle",
) -> dict[str, Any]:
    study = await sim.post(
        "/studies",
        json={
            "tenantId": DEFAULT_TENANT_ID,
            "populationId": population_id,
            "skillId": DEFAULT_SKILL_ID,
            "name": name,
        },
    )
    assert study.status_code == 201, study.text
    run = await sim.post(
        f"/studies/{study.json()['id']}/runs",
        json={"tenantId": DEFAULT_TENANT_ID, "maxConcurrency": concurrency},
    )
    assert run.status_code == 202, run.text
    return dict(run.json())


async def list_tasks(sim: httpx.AsyncClient, **params: Any) -> dict[str, Any]:
    response = await sim.get("/tasks", params={"tenantId": DEFAULT_TENANT_ID, **params})
    assert response.status_code == 200, response.text
    return dict(response.json())


def max_overlap(tasks: list[dict[str, Any]]) -> int:
    """The most tasks running at one instant, from their startedAt/completedAt."""
    edges = []
    for task in tasks:
        edges.append((task["startedAt"], 1))
        edges.append((task["completedAt"], -1))
    running = peak = 0
    for _, step in sorted(edges, key=lambda e: (e[0], e[1])):  # ends before starts at a tie
        running += step
        peak = max(peak, running)
    return peak


async def test_every_route_but_health_needs_the_key(sim: httpx.AsyncClient) -> None:
    health = await sim.get("/health", headers={"x-api-key": ""})
    assert health.status_code == 200 and health.json()["status"] == "ok"
    for method, path in [("GET", "/tasks"), ("GET", "/skills"), ("POST", "/studies")]:
        for headers in ({"x-api-key": ""}, {"x-api-key": "wrong"}):
            response = await sim.request(method, path, headers=headers, json={})
            assert response.status_code == 401
            assert isinstance(response.json()["error"], str)


async def test_default_skill_and_population(sim: httpx.AsyncClient) -> None:
    skills = (await sim.get("/skills")).json()
    assert skills["total"] == 1 and skills["page"] == 1
    skill = skills["items"][0]
    assert skill["id"] == DEFAULT_SKILL_ID
    questions = {q["key"]: q for q in skill["questions"]}
    assert [q["type"] for q in skill["questions"]] == [
        "nps",
        "single_choice",
        "multi_choice",
        "free_text",
        "rating",
    ]
    assert questions["nps"]["scale"] == {"min": 0, "max": 10}
    assert questions["overall_rating"]["scale"] == {"min": 1, "max": 5}
    # option keys and labels as in persona_task_output.json
    assert [o["key"] for o in questions["purchase_intent"]["options"]] == [
        "definitely",
        "probably",
        "not_sure",
        "probably_not",
        "definitely_not",
    ]
    assert {o["key"]: o["label"] for o in questions["appeal_drivers"]["options"]} == {
        "taste": "Taste",
        "price": "Price",
        "sustainability": "Sustainability",
        "nutrition": "Nutrition",
        "packaging": "Packaging",
    }

    populations = (await sim.get("/populations")).json()["items"]
    assert [(p["id"], p["size"]) for p in populations] == [(DEFAULT_POPULATION_ID, 50)]
    personas = (await sim.get(f"/populations/{DEFAULT_POPULATION_ID}")).json()["personas"]
    assert len(personas) == 50
    assert len({p["id"] for p in personas}) == 50
    assert len({(p["firstName"], p["lastName"]) for p in personas}) == 50
    for persona in personas:
        assert 18 <= persona["age"] <= 78
        for field in ("firstName", "lastName", "location", "baseOccupation", "segment"):
            assert isinstance(persona[field], str) and persona[field]
    assert len({p["segment"] for p in personas}) >= 5


async def test_a_run_completes_with_max_concurrency_respected(
    sim: httpx.AsyncClient, clock: FakeClock
) -> None:
    run = await start_run(sim, concurrency=6)
    assert run["taskCount"] == 50 and run["counts"]["queued"] == 50
    completed_before = 0
    saw_full = False
    for _ in range(1000):
        clock.advance(0.05)
        running = await list_tasks(sim, status="running", pageSize=100)
        completed = await list_tasks(sim, status="completed", pageSize=1)
        assert running["total"] <= 6
        saw_full = saw_full or running["total"] == 6
        assert completed["total"] >= completed_before  # completion is forever
        completed_before = completed["total"]
        if completed_before == 50:
            break
    assert completed_before == 50 and saw_full
    # default task_seconds (0.5, 3.0): 50 tasks on 6 slots finish in well under a minute
    assert clock.now - T0 < 30
    tasks = (await list_tasks(sim, pageSize=100))["items"]
    assert max_overlap(tasks) <= 6
    for task in tasks:
        assert task["createdAt"] <= task["startedAt"] < task["completedAt"] == task["updatedAt"]
    progress = (await sim.get(f"/studies/{run['studyId']}/runs/{run['id']}")).json()
    assert progress["status"] == "completed" and progress["counts"]["completed"] == 50


async def test_results_turns_and_scores_are_plausible(
    sim: httpx.AsyncClient, clock: FakeClock
) -> None:
    await start_run(sim, concurrency=50)
    clock.advance(5)
    tasks = (await list_tasks(sim, status="completed", pageSize=100))["items"]
    assert len(tasks) == 50
    for task in tasks:
        results = (await sim.get(f"/tasks/{task['id']}/results")).json()
        answers = {a["questionId"]: a["value"] for a in results["answers"]}
        assert answers["q_nps"] in range(11)
        assert answers["q_intent"] in {
            "definitely",
            "probably",
            "not_sure",
            "probably_not",
            "definitely_not",
        }
        drivers = answers["q_drivers"]
        assert drivers and set(drivers) <= {
            "taste",
            "price",
            "sustainability",
            "nutrition",
            "packaging",
        }
        assert isinstance(answers["q_feedback"], str) and len(answers["q_feedback"]) > 10
        assert answers["q_rating"] in range(1, 6)
        assert results["summary"]

        turns = (await sim.get(f"/tasks/{task['id']}/turns")).json()["turns"]
        assert 4 <= len(turns) <= 8
        assert [t["index"] for t in turns] == list(range(1, len(turns) + 1))
        assert [t["role"] for t in turns[:4]] == ["interviewer", "persona"] * 2
        assert all(t["role"] != u["role"] for t, u in zip(turns, turns[1:], strict=False))
        stamps = [t["createdAt"] for t in turns]
        assert task["startedAt"] <= stamps[0] and stamps == sorted(stamps)
        assert stamps[-1] <= task["completedAt"]

        scores = (await sim.get(f"/tasks/{task['id']}/scores")).json()
        assert 0 <= scores["overall"] <= 1
        assert [c["key"] for c in scores["criteria"]] == [
            "coherence",
            "persona_fidelity",
            "answer_consistency",
            "engagement",
        ]
        assert all(0 <= c["score"] <= 1 for c in scores["criteria"])


async def test_artifacts_of_an_unfinished_task(sim: httpx.AsyncClient, clock: FakeClock) -> None:
    run = await start_run(sim, concurrency=1)
    first, last = run["taskIds"][0], run["taskIds"][-1]
    clock.advance(0.01)
    assert (await sim.get(f"/tasks/{first}")).json()["status"] == "running"
    assert (await sim.get(f"/tasks/{last}")).json()["completedAt"] is None
    for artifact in ("results", "scores"):
        response = await sim.get(f"/tasks/{last}/{artifact}")
        assert response.status_code == 409 and "queued" in response.json()["error"]
    assert (await sim.get(f"/tasks/{last}/turns")).json()["turns"] == []
    assert (await sim.get("/tasks/nope")).status_code == 404
    assert (await sim.get("/tasks/nope/results")).status_code == 404


async def test_paging_during_a_run_neither_skips_nor_repeats(
    sim: httpx.AsyncClient, clock: FakeClock
) -> None:
    """A poller pages with a fixed cursor until a short page, then moves the cursor to the
    largest updatedAt it saw; tasks complete between every request."""
    await start_run(sim, concurrency=8)
    seen: list[str] = []
    cursor: str | None = None
    for _ in range(500):
        page = 1
        while True:
            clock.advance(0.03)
            params: dict[str, Any] = {"status": "completed", "page": page, "pageSize": 4}
            if cursor is not None:
                params["updatedAfter"] = cursor
            body = await list_tasks(sim, **params)
            items = body["items"]
            keys = [(t["updatedAt"], t["id"]) for t in items]
            assert keys == sorted(keys)
            assert all(cursor is None or t["updatedAt"] > cursor for t in items)
            seen.extend(t["id"] for t in items)
            if items:
                cursor = max(cursor or "", items[-1]["updatedAt"])
            if len(items) < 4:
                break
            page += 1
        if len(seen) >= 50:
            break
    assert len(seen) == len(set(seen)) == 50


async def test_updated_after_is_strictly_greater(sim: httpx.AsyncClient, clock: FakeClock) -> None:
    await start_run(sim, concurrency=10)
    clock.advance(60)
    items = (await list_tasks(sim, status="completed", pageSize=100))["items"]
    pivot = items[20]["updatedAt"]
    later = [t["id"] for t in items if t["updatedAt"] > pivot]
    after = await list_tasks(sim, status="completed", updatedAfter=pivot, pageSize=100)
    assert [t["id"] for t in after["items"]] == later and after["total"] == len(later)
    # one microsecond earlier includes the pivot itself: the comparison is exact
    stamp = datetime.fromisoformat(pivot).timestamp() - 1e-6
    just_before = datetime.fromtimestamp(stamp, UTC).isoformat(timespec="microseconds")
    again = await list_tasks(sim, status="completed", updatedAfter=just_before, pageSize=100)
    assert items[20]["id"] in {t["id"] for t in again["items"]}


@pytest.mark.parametrize(
    ("params", "status"),
    [
        ({"tenantId": DEFAULT_TENANT_ID, "status": "done"}, 400),  # unknown status
        ({"tenantId": DEFAULT_TENANT_ID, "updatedAfter": "yesterday"}, 400),  # not ISO-8601
        ({"tenantId": DEFAULT_TENANT_ID, "pageSize": 101}, 400),  # pageSize is 1-100
        ({"tenantId": DEFAULT_TENANT_ID, "page": 0}, 400),  # page is 1-1000
        ({}, 400),  # tenantId is required on /tasks
        ({"tenantId": "99999999-9999-4999-8999-999999999999"}, 404),  # unknown tenant
    ],
)
async def test_task_list_validation(sim: httpx.AsyncClient, params: Any, status: int) -> None:
    response = await sim.get("/tasks", params=params)
    assert response.status_code == status and "error" in response.json()


async def test_study_validation(sim: httpx.AsyncClient) -> None:
    base = {
        "tenantId": DEFAULT_TENANT_ID,
        "populationId": DEFAULT_POPULATION_ID,
        "skillId": DEFAULT_SKILL_ID,
        "name": "x",
    }
    assert (await sim.post("/studies", json={**base, "name": ""})).status_code == 400
    assert (await sim.post("/studies", json={**base, "skillId": "s"})).status_code == 404
    assert (await sim.post("/studies", json={**base, "populationId": "p"})).status_code == 404
    assert (await sim.post("/studies", content=b"{")).status_code == 400
    study = (await sim.post("/studies", json=base)).json()
    runs = f"/studies/{study['id']}/runs"
    bad = await sim.post(runs, json={"tenantId": DEFAULT_TENANT_ID, "maxConcurrency": 0})
    assert bad.status_code == 400
    missing = await sim.post("/studies/nope/runs", json={"tenantId": DEFAULT_TENANT_ID})
    assert missing.status_code == 404


async def test_faults_on_request(sim: httpx.AsyncClient) -> None:
    armed = await sim.post("/_faults", json={"mode": "error500", "count": 2})
    assert armed.status_code == 201
    assert (await sim.get("/skills")).status_code == 200  # only /tasks* fail
    assert (await sim.get("/tasks", params={"tenantId": DEFAULT_TENANT_ID})).status_code == 500
    assert (await sim.get("/tasks/x/results")).status_code == 500
    assert (await sim.get("/tasks", params={"tenantId": DEFAULT_TENANT_ID})).status_code == 200

    await sim.post("/_faults", json={"mode": "throttle429", "count": 1, "retryAfter": 3})
    throttled = await sim.get("/tasks", params={"tenantId": DEFAULT_TENANT_ID})
    assert throttled.status_code == 429 and throttled.headers["retry-after"] == "3"

    await sim.post(
        "/_faults", json={"mode": "throttle429", "retryAfter": 30, "retryAfterHttpDate": True}
    )
    dated = await sim.get("/tasks/x")
    when = parsedate_to_datetime(dated.headers["retry-after"])
    assert dated.status_code == 429 and 28 <= when.timestamp() - T0 <= 31

    await sim.post("/_faults", json={"mode": "slow", "count": 1, "delaySeconds": 0.2})
    started = time.monotonic()
    slow = await sim.get("/tasks", params={"tenantId": DEFAULT_TENANT_ID})
    assert slow.status_code == 200 and time.monotonic() - started >= 0.2

    await sim.post("/_faults", json={"mode": "error500", "count": 5})
    assert (await sim.delete("/_faults")).status_code == 204
    assert (await sim.get("/tasks", params={"tenantId": DEFAULT_TENANT_ID})).status_code == 200
    assert (await sim.post("/_faults", json={"mode": "explode"})).status_code == 400


async def snapshot(sim: httpx.AsyncClient, clock: FakeClock) -> list[Any]:
    run = await start_run(sim, concurrency=5)
    clock.advance(60)
    tasks = (await list_tasks(sim, pageSize=100))["items"]
    out: list[Any] = [run, tasks]
    for task in tasks[:5]:
        for artifact in ("results", "turns", "scores"):
            out.append((await sim.get(f"/tasks/{task['id']}/{artifact}")).json())
    return out


async def test_same_seed_same_world() -> None:
    worlds = []
    for seed in (7, 7, 8):
        clock = FakeClock()
        async with make_client(clock, seed=seed) as sim:
            worlds.append(await snapshot(sim, clock))
    assert worlds[0] == worlds[1]
    assert worlds[0][1][0]["persona"] != worlds[2][1][0]["persona"]
    assert worlds[0][2:] != worlds[2][2:]


async def test_other_populations(sim: httpx.AsyncClient, clock: FakeClock) -> None:
    created = await sim.post(
        "/populations", json={"tenantId": DEFAULT_TENANT_ID, "name": "Small", "size": 5}
    )
    assert created.status_code == 201 and created.json()["size"] == 5
    run = await start_run(sim, concurrency=2, population_id=created.json()["id"])
    assert run["taskCount"] == 5
    clock.advance(30)
    assert (await list_tasks(sim, status="completed"))["total"] == 5
    too_big = await sim.post("/populations", json={"tenantId": DEFAULT_TENANT_ID, "size": 5000})
    assert too_big.status_code == 400


async def test_schedules_start_runs(sim: httpx.AsyncClient, clock: FakeClock) -> None:
    study = (
        await sim.post(
            "/studies",
            json={
                "tenantId": DEFAULT_TENANT_ID,
                "populationId": DEFAULT_POPULATION_ID,
                "skillId": DEFAULT_SKILL_ID,
                "name": "Weekly",
            },
        )
    ).json()
    base = {"tenantId": DEFAULT_TENANT_ID, "studyId": study["id"], "maxConcurrency": 10}

    now = await sim.post("/schedules", json={**base, "runNow": True})
    assert now.status_code == 201 and len(now.json()["runIds"]) == 1
    assert now.json()["status"] == "completed"  # a one-off, already fired
    assert (await list_tasks(sim))["total"] == 50

    clock.advance(1)  # T0 is itself a fire time of */5
    cron = await sim.post("/schedules", json={**base, "cron": "*/5 * * * *"})
    assert cron.status_code == 201 and cron.json()["runIds"] == []
    fire_at = cron.json()["nextRunAt"]
    assert fire_at == "2025-11-20T14:35:00.000Z"
    clock.advance(298.5)
    assert (await list_tasks(sim))["total"] == 50  # not yet due
    clock.advance(2)
    tasks = (await list_tasks(sim, pageSize=100, page=1))["total"]
    assert tasks == 100
    listed = (await sim.get("/schedules")).json()["items"]
    fired = next(s for s in listed if s["id"] == cron.json()["id"])
    assert len(fired["runIds"]) == 1 and fired["nextRunAt"] == "2025-11-20T14:40:00.000Z"
    newest = await list_tasks(sim, runId=fired["runIds"][0], pageSize=1)
    assert newest["items"][0]["createdAt"] == fire_at

    later = await sim.post("/schedules", json={**base, "runAt": "2025-11-20T15:00:00Z"})
    assert later.json()["nextRunAt"] == "2025-11-20T15:00:00.000Z"
    triggered = await sim.post(f"/schedules/{later.json()['id']}/trigger-now")
    assert triggered.status_code == 202 and triggered.json()["taskCount"] == 50

    assert (await sim.post("/schedules", json=base)).status_code == 400  # no when
    bad = await sim.post("/schedules", json={**base, "cron": "every tuesday"})
    assert bad.status_code == 400 and "cron" in bad.json()["error"]
