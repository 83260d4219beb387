"""The simulator's HTTP surface: person.run's public routes in its shapes (camelCase JSON).

Every route but ``GET /health`` needs ``x-api-key``; errors are ``{"error": "message"}``. Lists
answer ``{"items", "page", "pageSize", "total"}``. See the package docstring for the route list.
"""

from __future__ import annotations

import hmac
import time
from collections.abc import Callable
from typing import Any

from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route
from starlette.types import ASGIApp, Receive, Scope, Send

from gateway.sandbox.simulator import data
from gateway.sandbox.simulator.faults import FaultInjector, parse_fault
from gateway.sandbox.simulator.state import (
    ScheduleSpec,
    SimulatorError,
    SimulatorState,
    Study,
    Task,
    format_ms,
    parse_timestamp_us,
)

TASK_STATUSES = ("queued", "running", "completed")
DEFAULT_MAX_CONCURRENCY = 4


def monotonic_clock() -> Callable[[], float]:
    """Unix seconds that never go backwards: wall time at creation plus monotonic elapsed time."""
    wall, mono = time.time(), time.monotonic()
    return lambda: wall + (time.monotonic() - mono)


class _Gate:
    """ASGI middleware: checks ``x-api-key``, fires due schedules, applies armed faults."""

    def __init__(
        self,
        app: ASGIApp,
        *,
        api_key: str,
        state: SimulatorState,
        faults: FaultInjector,
        clock: Callable[[], float],
    ) -> None:
        self.app = app
        self.api_key = api_key.encode()
        self.state = state
        self.faults = faults
        self.clock = clock

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        path: str = scope["path"]
        self.state.tick()
        if path != "/health":
            key = Request(scope).headers.get("x-api-key", "").encode()
            if not hmac.compare_digest(key, self.api_key):
                await JSONResponse({"error": "missing or invalid x-api-key"}, 401)(
                    scope, receive, send
                )
                return
            failure = await self.faults.apply(path, self.clock())
            if failure is not None:
                await failure(scope, receive, send)
                return
        await self.app(scope, receive, send)


async def _body(request: Request) -> dict[str, Any]:
    try:
        body = await request.json()
    except ValueError as exc:
        raise SimulatorError(400, "body must be JSON") from exc
    if not isinstance(body, dict):
        raise SimulatorError(400, "body must be a JSON object")
    return body


def _string(body: dict[str, Any], name: str, default: str | None = None) -> str:
    value = body.get(name, default)
    if not isinstance(value, str) or not value:
        raise SimulatorError(400, f"{name} is required (a non-empty string)")
    return value


def _integer(raw: Any, name: str, default: int, low: int, high: int) -> int:
    if raw is None:
        return default
    try:
        value = int(raw)
    except (TypeError, ValueError) as exc:
        raise SimulatorError(400, f"{name} must be an integer") from exc
    if isinstance(raw, bool) or not low <= value <= high:
        raise SimulatorError(400, f"{name} must be between {low} and {high}")
    return value


def _page(items: list[Any], request: Request) -> dict[str, Any]:
    page = _integer(request.query_params.get("page"), "page", 1, 1, 1000)
    size = _integer(request.query_params.get("pageSize"), "pageSize", 10, 1, 100)
    start = (page - 1) * size
    return {
        "items": items[start : start + size],
        "page": page,
        "pageSize": size,
        "total": len(items),
    }


def _completed(task: Task, now_ms: int) -> None:
    status = task.status(now_ms)
    if status != "completed":
        raise SimulatorError(409, f"task {task.id} is {status}; results exist once completed")


class _Routes:
    """The route handlers, bound to one simulator state."""

    def __init__(self, state: SimulatorState, faults: FaultInjector) -> None:
        self.state = state
        self.faults = faults

    def _tenant(self, tenant_id: str | None) -> str:
        if tenant_id is None:
            return self.state.tenant_ids[0]
        return self.state.require_tenant(tenant_id)

    async def health(self, request: Request) -> Response:
        return JSONResponse(
            {
                "status": "ok",
                "checks": {"database": "ok", "queue": "ok"},
                "simulator": True,
                "time": format_ms(self.state.now_ms()),
            }
        )

    async def skills(self, request: Request) -> Response:
        self._tenant(request.query_params.get("tenantId"))
        return JSONResponse(_page([data.skill_json()], request))

    async def populations(self, request: Request) -> Response:
        tenant = self._tenant(request.query_params.get("tenantId"))
        found = [p.to_json() for p in self.state.populations.values() if p.tenant_id == tenant]
        return JSONResponse(_page(found, request))

    async def population(self, request: Request) -> Response:
        found = self.state.populations.get(request.path_params["populationId"])
        if found is None:
            raise SimulatorError(404, "population not found")
        return JSONResponse(found.to_json(with_personas=True))

    async def create_population(self, request: Request) -> Response:
        body = await _body(request)
        tenant = self._tenant(_string(body, "tenantId"))
        size = _integer(body.get("size"), "size", data.DEFAULT_POPULATION_SIZE, 1, 1000)
        population = self.state.create_population(tenant, _string(body, "name", "Panel"), size)
        return JSONResponse(population.to_json(), 201)

    async def studies(self, request: Request) -> Response:
        tenant = self._tenant(request.query_params.get("tenantId"))
        found = [s.to_json() for s in self.state.studies.values() if s.tenant_id == tenant]
        return JSONResponse(_page(found, request))

    async def create_study(self, request: Request) -> Response:
        body = await _body(request)
        study = self.state.create_study(
            self._tenant(_string(body, "tenantId")),
            _string(body, "populationId"),
            _string(body, "skillId"),
            _string(body, "name"),
        )
        return JSONResponse(study.to_json(), 201)

    def _study(self, request: Request, tenant_id: str | None) -> Study:
        return self.state.get_study(request.path_params["studyId"], tenant_id)

    async def create_run(self, request: Request) -> Response:
        body = await _body(request)
        study = self._study(request, self._tenant(_string(body, "tenantId")))
        concurrency = _integer(
            body.get("maxConcurrency"), "maxConcurrency", DEFAULT_MAX_CONCURRENCY, 1, 100
        )
        run = self.state.start_run(study, concurrency)
        return JSONResponse(run.to_json(self.state.now_ms()), 202)

    async def run(self, request: Request) -> Response:
        study = self._study(request, None)
        run = self.state.runs.get(request.path_params["runId"])
        if run is None or run.study is not study:
            raise SimulatorError(404, "run not found")
        return JSONResponse(run.to_json(self.state.now_ms()))

    async def tasks(self, request: Request) -> Response:
        query = request.query_params
        tenant = self.state.require_tenant(_string(dict(query), "tenantId"))
        status = query.get("status")
        if status is not None and status not in TASK_STATUSES:
            raise SimulatorError(400, f"status must be one of {list(TASK_STATUSES)}")
        after = query.get("updatedAfter")
        try:
            after_us = parse_timestamp_us(after) if after else None
        except ValueError as exc:
            raise SimulatorError(400, "updatedAfter must be an ISO-8601 timestamp") from exc
        now = self.state.now_ms()
        found = self.state.list_tasks(
            tenant,
            status=status,
            updated_after_us=after_us,
            study_id=query.get("studyId"),
            run_id=query.get("runId"),
        )
        page = _page(found, request)
        page["items"] = [t.to_json(now) for t in page["items"]]
        return JSONResponse(page)

    async def task(self, request: Request) -> Response:
        task = self.state.get_task(request.path_params["taskId"])
        return JSONResponse(task.to_json(self.state.now_ms()))

    async def results(self, request: Request) -> Response:
        task = self.state.get_task(request.path_params["taskId"])
        _completed(task, self.state.now_ms())
        answers = task.content.answers
        return JSONResponse(
            {
                "taskId": task.id,
                "status": "completed",
                "skill": {"id": task.study.skill_id, "name": data.SKILL_NAME, "version": 1},
                "summary": task.content.summary,
                "questions": [q.to_json() for q in data.QUESTIONS],
                "answers": [{"questionId": q.id, "value": answers[q.key]} for q in data.QUESTIONS],
                "completedAt": format_ms(task.end_ms),
            }
        )

    async def turns(self, request: Request) -> Response:
        # Turns appear as the interview proceeds: a running task shows those said so far.
        task = self.state.get_task(request.path_params["taskId"])
        now = self.state.now_ms()
        turns = [
            {"index": i, "role": role, "content": text, "createdAt": format_ms(at)}
            for i, ((role, text), at) in enumerate(
                zip(task.content.turns, task.turn_ms(), strict=True), start=1
            )
            if at <= now and task.status(now) != "queued"
        ]
        return JSONResponse({"taskId": task.id, "status": task.status(now), "turns": turns})

    async def scores(self, request: Request) -> Response:
        task = self.state.get_task(request.path_params["taskId"])
        _completed(task, self.state.now_ms())
        return JSONResponse(
            {
                "taskId": task.id,
                "overall": task.content.overall,
                "criteria": [
                    {"key": k, "name": n, "score": s, "rationale": r}
                    for k, n, s, r in task.content.criteria
                ],
                "scoredAt": format_ms(task.end_ms),
            }
        )

    async def schedules(self, request: Request) -> Response:
        tenant = self._tenant(request.query_params.get("tenantId"))
        found = [s.to_json() for s in self.state.schedules.values() if s.tenant_id == tenant]
        return JSONResponse(_page(found, request))

    async def create_schedule(self, request: Request) -> Response:
        body = await _body(request)
        tenant = self._tenant(_string(body, "tenantId"))
        study_id = body.get("studyId")
        if study_id is None:  # "recurring study creation": a study from population + skill
            study_id = self.state.create_study(
                tenant,
                _string(body, "populationId"),
                _string(body, "skillId"),
                _string(body, "name", "Scheduled study"),
            ).id
        cron, run_at, run_now = body.get("cron"), body.get("runAt"), body.get("runNow", False)
        if cron is not None and run_at is not None:
            raise SimulatorError(400, "give cron or runAt, not both")
        if cron is None and run_at is None and run_now is not True:
            raise SimulatorError(400, "give cron, runAt or runNow: true")
        if cron is not None and not isinstance(cron, str):
            raise SimulatorError(400, "cron must be a 5-field crontab string")
        try:
            run_at_ms = parse_timestamp_us(str(run_at)) // 1000 if run_at is not None else None
        except ValueError as exc:
            raise SimulatorError(400, "runAt must be an ISO-8601 timestamp") from exc
        spec = ScheduleSpec(
            tenant_id=tenant,
            study_id=_string(body, "studyId", study_id),
            name=_string(body, "name", "Schedule"),
            cron=cron,
            run_at_ms=run_at_ms,
            run_now=run_now is True,
            max_concurrency=_integer(
                body.get("maxConcurrency"), "maxConcurrency", DEFAULT_MAX_CONCURRENCY, 1, 100
            ),
        )
        return JSONResponse(self.state.create_schedule(spec).to_json(), 201)

    async def trigger_schedule(self, request: Request) -> Response:
        schedule = self.state.schedules.get(request.path_params["scheduleId"])
        if schedule is None:
            raise SimulatorError(404, "schedule not found")
        run = self.state.trigger_schedule(schedule, self.state.now_ms() + 1)
        return JSONResponse(run.to_json(self.state.now_ms()), 202)

    async def arm_fault(self, request: Request) -> Response:
        try:
            self.faults.fault = parse_fault(await _body(request))
        except ValueError as exc:
            raise SimulatorError(400, str(exc)) from exc
        return JSONResponse(self.faults.fault.to_json(), 201)

    async def clear_faults(self, request: Request) -> Response:
        self.faults.fault = None
        return Response(status_code=204)

    def routes(self) -> list[Route]:
        return [
            Route("/health", self.health),
            Route("/skills", self.skills),
            Route("/populations", self.populations),
            Route("/populations", self.create_population, methods=["POST"]),
            Route("/populations/{populationId}", self.population),
            Route("/studies", self.studies),
            Route("/studies", self.create_study, methods=["POST"]),
            Route("/studies/{studyId}/runs", self.create_run, methods=["POST"]),
            Route("/studies/{studyId}/runs/{runId}", self.run),
            Route("/tasks", self.tasks),
            Route("/tasks/{taskId}", self.task),
            Route("/tasks/{taskId}/results", self.results),
            Route("/tasks/{taskId}/turns", self.turns),
            Route("/tasks/{taskId}/scores", self.scores),
            Route("/schedules", self.schedules),
            Route("/schedules", self.create_schedule, methods=["POST"]),
            Route("/schedules/{scheduleId}/trigger-now", self.trigger_schedule, methods=["POST"]),
            Route("/_faults", self.arm_fault, methods=["POST"]),
            Route("/_faults", self.clear_faults, methods=["DELETE"]),
        ]


async def _simulator_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, SimulatorError)
    return JSONResponse({"error": exc.message}, exc.status)


def create_simulator_app(
    *,
    api_key: str,
    seed: int = 7,
    task_seconds: tuple[float, float] = (0.5, 3.0),
    clock: Callable[[], float] | None = None,
    tenant_ids: tuple[str, ...] = (data.DEFAULT_TENANT_ID,),
) -> Starlette:
    """A person.run imitation keyed by ``api_key``, deterministic from ``seed``.

    ``task_seconds`` bounds each task's running time; ``clock`` returns Unix seconds (default:
    a monotonic wall clock). ``tenant_ids[0]`` owns the default 50-persona population.
    """
    if not api_key:
        raise ValueError("api_key must be non-empty")
    low, high = task_seconds
    if not 0 <= low <= high:
        raise ValueError("task_seconds must be (low, high) with 0 <= low <= high")
    clock = clock or monotonic_clock()
    state = SimulatorState(seed=seed, task_seconds=task_seconds, clock=clock, tenant_ids=tenant_ids)
    faults = FaultInjector()
    app = Starlette(
        routes=_Routes(state, faults).routes(),
        middleware=[Middleware(_Gate, api_key=api_key, state=state, faults=faults, clock=clock)],
        exception_handlers={SimulatorError: _simulator_error},
    )
    app.state.simulator = state
    app.state.faults = faults
    return app
