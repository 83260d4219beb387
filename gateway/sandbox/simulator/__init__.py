"""A faithful, deterministic imitation of person.run's public API (CONTRACT §5), for the demo and
the tests.

Routes (``x-api-key`` on all but ``/health``; errors ``{"error": "..."}``; lists
``{"items", "page", "pageSize", "total"}``):

    GET  /health                           {status, checks}
    GET  /skills, /populations, /studies, /schedules      lists (tenantId optional)
    GET  /populations/{id}                 with its personas
    POST /populations {tenantId, name, size}               201 population
    POST /studies {tenantId, populationId, skillId, name}  201 study
    POST /studies/{studyId}/runs {tenantId, maxConcurrency}  202 run, one task per persona
    GET  /studies/{studyId}/runs/{runId}   progress counts
    GET  /tasks?tenantId=&status=&updatedAfter=&studyId=&runId=&page=&pageSize=
                                           ordered by (updatedAt, id); updatedAfter is strict
    GET  /tasks/{id}, /tasks/{id}/results, /tasks/{id}/turns, /tasks/{id}/scores
    POST /schedules {tenantId, studyId | populationId+skillId, cron | runAt, runNow?, ...}
    POST /schedules/{id}/trigger-now       202 run
    POST /_faults {mode, count, retryAfter, delaySeconds}, DELETE /_faults   test faults

Tasks go queued -> running -> completed on a schedule planned when the run starts (see
``state``); content comes from ``data``, a pure function of the seed.
"""

from gateway.sandbox.simulator.app import create_simulator_app, monotonic_clock
from gateway.sandbox.simulator.data import (
    DEFAULT_POPULATION_ID,
    DEFAULT_SKILL_ID,
    DEFAULT_TENANT_ID,
)
from gateway.sandbox.simulator.server import run_simulator

__all__ = [
    "DEFAULT_POPULATION_ID",
    "DEFAULT_SKILL_ID",
    "DEFAULT_TENANT_ID",
    "create_simulator_app",
    "monotonic_clock",
    "run_simulator",
]
