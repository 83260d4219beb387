"""The simulator's in-memory world: tenants, populations, studies, runs, tasks and schedules.

Task status is computed lazily from a schedule fixed when the run starts, never by background
jobs: each run plans its tasks on ``maxConcurrency`` slots (a task starts when a slot frees, in
persona order), so a task is ``queued`` before its start, ``running`` until its end and
``completed`` from then on. All times are integer Unix milliseconds, the resolution the API
prints, so a listing made at ``now`` shows exactly the changes with ``updatedAt <= now`` and every
later change has ``updatedAt > now``: a poller paging with ``updatedAfter`` can neither skip nor
repeat. Due schedules are fired by ``tick`` at the start of every request, at their fire time.
"""

from __future__ import annotations

import heapq
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from apscheduler.triggers.cron import CronTrigger

from gateway.sandbox.simulator import data
from gateway.sandbox.simulator.content import TaskContent, generate_task_content
from gateway.sandbox.simulator.data import Persona

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
MAX_POPULATION_SIZE = 1000


class SimulatorError(Exception):
    """A request the simulator refuses; answered as ``{"error": message}`` with ``status``."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


def format_ms(ms: int) -> str:
    """``2025-11-20T14:30:02.123Z``: fixed width, so string order is time order."""
    return (_EPOCH + timedelta(milliseconds=ms)).isoformat(timespec="milliseconds")[:-6] + "Z"


def parse_timestamp_us(value: str) -> int:
    """An ISO-8601 timestamp as Unix microseconds (naive means UTC); ValueError when malformed."""
    text = value.strip()
    if "T" in text:  # an unencoded '+' in a query string arrives as ' ': "…T14:30:00 01:00"
        text = re.sub(r" (\d{2}:\d{2})$", r"+\1", text)
    parsed = datetime.fromisoformat(text)
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=UTC)
    return (parsed - _EPOCH) // timedelta(microseconds=1)


@dataclass
class Population:
    id: str
    tenant_id: str
    name: str
    personas: list[Persona]
    created_ms: int

    def to_json(self, *, with_personas: bool = False) -> dict[str, Any]:
        out: dict[str, Any] = {
            "id": self.id,
            "tenantId": self.tenant_id,
            "name": self.name,
            "size": len(self.personas),
            "createdAt": format_ms(self.created_ms),
        }
        if with_personas:
            out["personas"] = [p.to_json() for p in self.personas]
        return out


@dataclass
class Study:
    id: str
    tenant_id: str
    population_id: str
    skill_id: str
    name: str
    created_ms: int

    def to_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "tenantId": self.tenant_id,
            "populationId": self.population_id,
            "skillId": self.skill_id,
            "name": self.name,
            "status": "active",
            "createdAt": format_ms(self.created_ms),
        }


@dataclass
class Task:
    id: str
    tenant_id: str
    study: Study
    run_id: str
    persona: Persona
    content: TaskContent
    created_ms: int
    start_ms: int
    end_ms: int

    def status(self, now_ms: int) -> str:
        if now_ms >= self.end_ms:
            return "completed"
        return "running" if now_ms >= self.start_ms else "queued"

    def updated_ms(self, now_ms: int) -> int:
        status = self.status(now_ms)
        if status == "completed":
            return self.end_ms
        return self.start_ms if status == "running" else self.created_ms

    def turn_ms(self) -> list[int]:
        span = self.end_ms - self.start_ms
        return [self.start_ms + round(span * f) for f in self.content.turn_offsets]

    def to_json(self, now_ms: int) -> dict[str, Any]:
        status = self.status(now_ms)
        return {
            "id": self.id,
            "tenantId": self.tenant_id,
            "studyId": self.study.id,
            "studyName": self.study.name,
            "runId": self.run_id,
            "skillId": self.study.skill_id,
            "skillName": data.SKILL_NAME,
            "populationId": self.study.population_id,
            "personaId": self.persona.id,
            "persona": self.persona.to_json(),
            "status": status,
            "createdAt": format_ms(self.created_ms),
            "startedAt": format_ms(self.start_ms) if status != "queued" else None,
            "completedAt": format_ms(self.end_ms) if status == "completed" else None,
            "updatedAt": format_ms(self.updated_ms(now_ms)),
        }


@dataclass
class Run:
    id: str
    study: Study
    max_concurrency: int
    created_ms: int
    tasks: list[Task]
    schedule_id: str | None = None

    def to_json(self, now_ms: int) -> dict[str, Any]:
        counts = {"queued": 0, "running": 0, "completed": 0}
        for task in self.tasks:
            counts[task.status(now_ms)] += 1
        done = counts["completed"] == len(self.tasks)
        last_ms = max(t.end_ms for t in self.tasks)
        return {
            "id": self.id,
            "studyId": self.study.id,
            "tenantId": self.study.tenant_id,
            "status": "completed" if done else "running" if counts["running"] else "queued",
            "maxConcurrency": self.max_concurrency,
            "taskCount": len(self.tasks),
            "counts": counts,
            "taskIds": [t.id for t in self.tasks],
            "scheduleId": self.schedule_id,
            "createdAt": format_ms(self.created_ms),
            "completedAt": format_ms(last_ms) if done else None,
        }


@dataclass
class Schedule:
    id: str
    tenant_id: str
    study: Study
    name: str
    cron: str | None
    run_at_ms: int | None
    run_now: bool
    max_concurrency: int
    created_ms: int
    trigger: Any = None  # apscheduler CronTrigger when ``cron`` is set
    next_ms: int | None = None
    last_ms: int | None = None
    run_ids: list[str] = field(default_factory=list)

    def advance(self, after_ms: int) -> None:
        """Set ``next_ms`` to the first cron fire time after ``after_ms`` (None: one-shot done)."""
        if self.trigger is None:
            self.next_ms = None
            return
        after = _EPOCH + timedelta(milliseconds=after_ms)
        fire = self.trigger.get_next_fire_time(None, after + timedelta(milliseconds=1))
        self.next_ms = None if fire is None else (fire - _EPOCH) // timedelta(milliseconds=1)

    def to_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "tenantId": self.tenant_id,
            "studyId": self.study.id,
            "name": self.name,
            "cron": self.cron,
            "timezone": "UTC",
            "runAt": format_ms(self.run_at_ms) if self.run_at_ms is not None else None,
            "runNow": self.run_now,
            "maxConcurrency": self.max_concurrency,
            "status": "active" if self.next_ms is not None else "completed",
            "nextRunAt": format_ms(self.next_ms) if self.next_ms is not None else None,
            "lastRunAt": format_ms(self.last_ms) if self.last_ms is not None else None,
            "runIds": list(self.run_ids),
            "createdAt": format_ms(self.created_ms),
        }


@dataclass(frozen=True)
class ScheduleSpec:
    """A validated ``POST /schedules`` body."""

    tenant_id: str
    study_id: str
    name: str
    cron: str | None
    run_at_ms: int | None
    run_now: bool
    max_concurrency: int


class SimulatorState:
    """Everything the simulator knows; used from one event loop only (no locking)."""

    def __init__(
        self,
        *,
        seed: int,
        task_seconds: tuple[float, float],
        clock: Callable[[], float],
        tenant_ids: tuple[str, ...],
    ) -> None:
        self.seed = seed
        self.task_seconds = task_seconds
        self._clock = clock
        self.tenant_ids = tenant_ids
        self.populations: dict[str, Population] = {}
        self.studies: dict[str, Study] = {}
        self.runs: dict[str, Run] = {}
        self.tasks: dict[str, Task] = {}
        self.schedules: dict[str, Schedule] = {}
        self._counter = 0
        now = self.now_ms()
        default = data.generate_personas(
            seed, data.DEFAULT_POPULATION_ID, data.DEFAULT_POPULATION_SIZE
        )
        self.populations[data.DEFAULT_POPULATION_ID] = Population(
            data.DEFAULT_POPULATION_ID, tenant_ids[0], "Default panel", default, now
        )

    def now_ms(self) -> int:
        return int(self._clock() * 1000)

    def _next_id(self, kind: str) -> str:
        self._counter += 1
        return data.derive_uuid(self.seed, kind, str(self._counter))

    def require_tenant(self, tenant_id: str) -> str:
        if tenant_id not in self.tenant_ids:
            raise SimulatorError(404, f"tenant {tenant_id} not found")
        return tenant_id

    def create_population(self, tenant_id: str, name: str, size: int) -> Population:
        if not 1 <= size <= MAX_POPULATION_SIZE:
            raise SimulatorError(400, f"size must be between 1 and {MAX_POPULATION_SIZE}")
        population_id = self._next_id("population")
        personas = data.generate_personas(self.seed, population_id, size)
        population = Population(population_id, tenant_id, name, personas, self.now_ms())
        self.populations[population_id] = population
        return population

    def create_study(self, tenant_id: str, population_id: str, skill_id: str, name: str) -> Study:
        population = self.populations.get(population_id)
        if population is None or population.tenant_id != tenant_id:
            raise SimulatorError(404, f"population {population_id} not found")
        if skill_id != data.DEFAULT_SKILL_ID:
            raise SimulatorError(404, f"skill {skill_id} not found")
        study = Study(
            self._next_id("study"), tenant_id, population_id, skill_id, name, self.now_ms()
        )
        self.studies[study.id] = study
        return study

    def get_study(self, study_id: str, tenant_id: str | None = None) -> Study:
        study = self.studies.get(study_id)
        if study is None or (tenant_id is not None and study.tenant_id != tenant_id):
            raise SimulatorError(404, f"study {study_id} not found")
        return study

    def start_run(
        self,
        study: Study,
        max_concurrency: int,
        *,
        at_ms: int | None = None,
        schedule_id: str | None = None,
    ) -> Run:
        """One task per persona, planned on ``max_concurrency`` slots from ``at_ms``."""
        if not 1 <= max_concurrency <= 100:
            raise SimulatorError(400, "maxConcurrency must be between 1 and 100")
        # Tasks are created 1 ms after the request, so a listing made in the same millisecond
        # (before this run existed) cannot have advanced a cursor past them.
        start = self.now_ms() + 1 if at_ms is None else at_ms
        run_id = self._next_id("run")
        personas = self.populations[study.population_id].personas
        slots = [start] * min(max_concurrency, len(personas))
        tasks = []
        for persona in personas:
            begin = heapq.heappop(slots)
            end = begin + data.task_duration_ms(self.seed, run_id, persona.id, self.task_seconds)
            heapq.heappush(slots, end)
            content = generate_task_content(self.seed, study.id, study.name, persona)
            task = Task(
                data.derive_uuid(self.seed, "task", run_id, persona.id),
                study.tenant_id,
                study,
                run_id,
                persona,
                content,
                start,
                begin,
                end,
            )
            tasks.append(task)
            self.tasks[task.id] = task
        run = Run(run_id, study, max_concurrency, start, tasks, schedule_id)
        self.runs[run_id] = run
        return run

    def get_task(self, task_id: str) -> Task:
        task = self.tasks.get(task_id)
        if task is None:
            raise SimulatorError(404, f"task {task_id} not found")
        return task

    def list_tasks(
        self,
        tenant_id: str,
        *,
        status: str | None,
        updated_after_us: int | None,
        study_id: str | None = None,
        run_id: str | None = None,
    ) -> list[Task]:
        """Matching tasks ordered by (updatedAt, id); ``updatedAfter`` is strictly greater."""
        now = self.now_ms()
        found = [
            t
            for t in self.tasks.values()
            if t.tenant_id == tenant_id
            and (status is None or t.status(now) == status)
            and (updated_after_us is None or t.updated_ms(now) * 1000 > updated_after_us)
            and (study_id is None or t.study.id == study_id)
            and (run_id is None or t.run_id == run_id)
        ]
        found.sort(key=lambda t: (t.updated_ms(now), t.id))
        return found

    def create_schedule(self, spec: ScheduleSpec) -> Schedule:
        study = self.get_study(spec.study_id, spec.tenant_id)
        trigger = None
        if spec.cron is not None:
            try:
                trigger = CronTrigger.from_crontab(spec.cron, timezone=UTC)
            except ValueError as exc:
                raise SimulatorError(400, f"invalid cron expression: {exc}") from exc
        now = self.now_ms()
        schedule = Schedule(
            self._next_id("schedule"),
            spec.tenant_id,
            study,
            spec.name,
            spec.cron,
            spec.run_at_ms,
            spec.run_now,
            spec.max_concurrency,
            now,
            trigger,
        )
        self.schedules[schedule.id] = schedule
        if trigger is not None:
            schedule.advance(now - 1)  # a cron may fire at ``now`` itself
        elif spec.run_at_ms is not None:
            schedule.next_ms = max(spec.run_at_ms, now + 1)
        if spec.run_now:
            self.trigger_schedule(schedule, now + 1)
        return schedule

    def trigger_schedule(self, schedule: Schedule, at_ms: int) -> Run:
        run = self.start_run(
            schedule.study, schedule.max_concurrency, at_ms=at_ms, schedule_id=schedule.id
        )
        schedule.run_ids.append(run.id)
        schedule.last_ms = at_ms
        return run

    def tick(self) -> None:
        """Fire every due schedule once, at its latest missed fire time (missed ones coalesce).

        Called before each request, so a run fired at ``T`` exists before any listing at or after
        ``T``: its tasks' ``updatedAt`` values are all later than any earlier listing's ``now``.
        """
        now = self.now_ms()
        for schedule in self.schedules.values():
            if schedule.next_ms is None or schedule.next_ms > now:
                continue
            fire = schedule.next_ms
            schedule.advance(fire)
            while schedule.next_ms is not None and schedule.next_ms <= now:
                fire = schedule.next_ms
                schedule.advance(fire)
            self.trigger_schedule(schedule, fire)
