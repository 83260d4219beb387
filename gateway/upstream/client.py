"""An async client for the person.run routes the poller reads (CONTRACT §5).

It rides on an ``httpx.AsyncClient`` the caller owns (one per process, with an injectable
transport for tests) and translates every failure once, here: 429 becomes ``UpstreamThrottled``
with its ``Retry-After``; network errors, other non-2xx answers, bad JSON and bodies that do not
fit the models become ``UpstreamError`` with the original exception as ``__cause__``. The models
keep unknown fields (``model_extra``) so a person.run release that adds fields breaks nothing.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any, TypeVar
from urllib.parse import quote

import httpx
from pydantic import BaseModel, ConfigDict
from pydantic import ValidationError as PydanticValidationError
from pydantic.alias_generators import to_camel

from gateway import retry
from gateway.errors import UpstreamError, UpstreamThrottled

DEFAULT_PAGE_SIZE = 100
DEFAULT_RETRY_AFTER_SECONDS = 5.0  # a 429 without a usable Retry-After


class UpstreamModel(BaseModel):
    """camelCase on the wire, snake_case in Python; unknown fields kept in ``model_extra``."""

    model_config = ConfigDict(extra="allow", alias_generator=to_camel, populate_by_name=True)


class Persona(UpstreamModel):
    id: str
    name: str | None = None
    first_name: str | None = None
    last_name: str | None = None
    age: int | None = None
    location: str | None = None
    base_occupation: str | None = None
    occupation: str | None = None
    segment: str | None = None

    @property
    def display_name(self) -> str:
        """``name``, else first + last name, else the id."""
        joined = " ".join(p for p in (self.first_name, self.last_name) if p)
        return self.name or joined or self.id


class Task(UpstreamModel):
    """One task execution: a persona working through a study's skill."""

    id: str
    status: str
    study_id: str
    updated_at: datetime
    tenant_id: str | None = None
    study_name: str | None = None
    run_id: str | None = None
    skill_id: str | None = None
    skill_name: str | None = None
    persona_id: str | None = None
    persona: Persona | None = None
    created_at: datetime | None = None
    started_at: datetime | None = None
    completed_at: datetime | None = None


class TaskPage(UpstreamModel):
    items: list[Task]
    page: int
    page_size: int
    total: int


class Option(UpstreamModel):
    key: str
    label: str


class Scale(UpstreamModel):
    min: int | float
    max: int | float


class Question(UpstreamModel):
    id: str
    key: str | None = None
    type: str | None = None
    prompt: str | None = None
    options: list[Option] = []
    scale: Scale | None = None


class Answer(UpstreamModel):
    question_id: str
    value: Any = None
    question_key: str | None = None
    type: str | None = None


class SkillRef(UpstreamModel):
    id: str
    name: str | None = None


class TaskResults(UpstreamModel):
    """``GET /tasks/{id}/results``: the skill's questions and this persona's answers."""

    answers: list[Answer]
    task_id: str | None = None
    summary: str | None = None
    skill: SkillRef | None = None
    questions: list[Question] = []


class Turn(UpstreamModel):
    role: str
    content: str
    index: int | None = None
    created_at: datetime | None = None


class Criterion(UpstreamModel):
    key: str
    score: float
    name: str | None = None


class TaskScores(UpstreamModel):
    task_id: str | None = None
    overall: float | None = None
    criteria: list[Criterion] = []


_M = TypeVar("_M", bound=BaseModel)


def parse_retry_after(value: str | None, *, now: datetime) -> float:
    """Seconds to wait from a 429's ``Retry-After`` (read by ``gateway.retry``); missing or
    unreadable: ``DEFAULT_RETRY_AFTER_SECONDS``."""
    seconds = retry.parse_retry_after(value, now)
    return DEFAULT_RETRY_AFTER_SECONDS if seconds is None else seconds


def format_cursor(value: datetime) -> str:
    """A timestamp for ``updatedAfter``: UTC, microseconds kept, ``Z`` suffix."""
    aware = value if value.tzinfo is not None else value.replace(tzinfo=UTC)
    return aware.astimezone(UTC).isoformat(timespec="microseconds").replace("+00:00", "Z")


class PersonRunClient:
    """person.run's public API, as the poller needs it. ``base_url`` is e.g.
    ``https://api.person.run``; ``clock`` (aware UTC now) dates HTTP-date ``Retry-After``s."""

    def __init__(
        self,
        http: httpx.AsyncClient,
        *,
        base_url: str,
        api_key: str,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self._http = http
        self.base_url = base_url.rstrip("/")
        self._headers = {"x-api-key": api_key, "accept": "application/json"}
        self._clock = clock

    async def list_completed_tasks(
        self,
        tenant_id: str,
        updated_after: datetime | str | None = None,
        page: int = 1,
        page_size: int = DEFAULT_PAGE_SIZE,
    ) -> TaskPage:
        """One page of completed tasks with ``updatedAt`` strictly after ``updated_after``,
        ordered by (updatedAt, id)."""
        params: dict[str, str | int] = {
            "tenantId": tenant_id,
            "status": "completed",
            "page": page,
            "pageSize": page_size,
        }
        if updated_after is not None:
            params["updatedAfter"] = (
                updated_after if isinstance(updated_after, str) else format_cursor(updated_after)
            )
        return _parse(TaskPage, await self._get("/tasks", params), "GET /tasks")

    async def get_task(self, task_id: str) -> Task:
        path = f"/tasks/{quote(task_id, safe='')}"
        return _parse(Task, await self._get(path), f"GET {path}")

    async def get_results(self, task_id: str) -> TaskResults:
        path = f"/tasks/{quote(task_id, safe='')}/results"
        return _parse(TaskResults, await self._get(path), f"GET {path}")

    async def get_turns(self, task_id: str) -> list[Turn]:
        """The transcript in the order person.run gives it (``{"turns": [...]}``, ``items``, or a
        bare list)."""
        path = f"/tasks/{quote(task_id, safe='')}/turns"
        body = await self._get(path)
        if isinstance(body, dict):
            body = body.get("turns", body.get("items"))
        if not isinstance(body, list):
            raise UpstreamError(f"GET {path}: no turns in the answer")
        return [_parse(Turn, item, f"GET {path}") for item in body]

    async def get_scores(self, task_id: str) -> TaskScores:
        path = f"/tasks/{quote(task_id, safe='')}/scores"
        return _parse(TaskScores, await self._get(path), f"GET {path}")

    async def _get(self, path: str, params: dict[str, str | int] | None = None) -> Any:
        what = f"GET {path}"
        try:
            response = await self._http.get(
                self.base_url + path, params=params, headers=self._headers
            )
        except httpx.HTTPError as exc:
            raise UpstreamError(f"{what}: {type(exc).__name__}: {exc}") from exc
        if response.status_code == 429:
            retry_after = parse_retry_after(response.headers.get("retry-after"), now=self._clock())
            raise UpstreamThrottled(f"{what}: throttled (429)", retry_after=retry_after)
        try:
            response.raise_for_status()  # any non-2xx, 3xx too: redirects are not followed
        except httpx.HTTPStatusError as exc:
            raise UpstreamError(
                f"{what}: HTTP {response.status_code}", details=[{"status": response.status_code}]
            ) from exc
        try:
            return response.json()
        except ValueError as exc:
            raise UpstreamError(f"{what}: the body is not JSON") from exc


def _parse(model: type[_M], body: Any, what: str) -> _M:
    try:
        return model.model_validate(body)
    except PydanticValidationError as exc:
        raise UpstreamError(f"{what}: unexpected body ({exc.error_count()} errors)") from exc
