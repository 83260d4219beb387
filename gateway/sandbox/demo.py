"""``gateway demo``: the whole pipeline on embedded defaults, on 127.0.0.1 only.

It starts the person.run simulator, a receiver per connector that checks what it gets the way
the real consumer would (Standard Webhooks signatures for webhook/Zapier/Make/n8n, the
Typeform-Signature and answer shapes for Typeform, the survey's response schema for Qualtrics),
and the gateway itself (SQLite in a temporary directory, polling the simulator). It creates one
destination per connector through the operator API, starts a study run, shows live progress and
ends with a summary table. One lane, "webhook flaky", has a receiver that refuses every third
event and a destination with no retries, so ``--keep`` leaves failed deliveries to practise
replay on. The exit code is 0 only when every delivery arrived and verified except exactly those
planned failures. Ctrl-C and SIGTERM stop it and remove its temporary folder.
"""

from __future__ import annotations

import contextlib
import secrets
import signal
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from types import FrameType
from typing import Any

import httpx
from rich.console import Console, Group
from rich.live import Live
from rich.panel import Panel
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from gateway.app import create_app
from gateway.sandbox.demo_report import Lane, lane_ok, summary_table, try_this
from gateway.sandbox.fakes.platforms import (
    PlatformRecorder,
    ScriptedResponse,
    create_platform_receiver,
)
from gateway.sandbox.fakes.qualtrics import DEFAULT_API_TOKEN, FakeQualtrics
from gateway.sandbox.fakes.server import BackgroundServer
from gateway.sandbox.fakes.typeform import TypeformReceiver
from gateway.sandbox.fakes.webhook import WebhookReceiver
from gateway.sandbox.simulator import DEFAULT_SKILL_ID, DEFAULT_TENANT_ID, create_simulator_app
from gateway.settings import Settings

TENANT = DEFAULT_TENANT_ID
QUALTRICS_SURVEY = "SV_9xCtQ4mP7nR2kLs"
TYPEFORM_SECRET = "demo-typeform-secret"  # noqa: S105 - a local demo value
N8N_HEADER = ("X-N8N-Key", "demo-n8n-credential")
MAKE_API_KEY = "demo-make-key"
DEADLINE_SECONDS = 120.0
# The flaky lane's receiver refuses every third event once; its destination has no retries.
FLAKY_EVERY = 3


class DemoStopped(KeyboardInterrupt):
    """SIGTERM, raised in the main thread so every ``with`` unwinds (temp folder included)."""


def _stop_on_sigterm(signum: int, frame: FrameType | None) -> None:
    raise DemoStopped


@dataclass
class Receivers:
    webhook: WebhookReceiver
    zapier: PlatformRecorder
    make: PlatformRecorder
    n8n: PlatformRecorder
    typeform: TypeformReceiver
    qualtrics: FakeQualtrics
    urls: dict[str, str]


@contextlib.contextmanager
def start_receivers() -> Iterator[Receivers]:
    webhook = WebhookReceiver()
    typeform = TypeformReceiver()
    qualtrics = FakeQualtrics()
    zap_app, zapier = create_platform_receiver("zapier")
    make_app, make = create_platform_receiver("make", api_key=MAKE_API_KEY)
    n8n_app, n8n = create_platform_receiver("n8n", header_auth=N8N_HEADER)
    apps = {
        "webhook": webhook.app,
        "zapier": zap_app,
        "make": make_app,
        "n8n": n8n_app,
        "typeform": typeform.app,
        "qualtrics": qualtrics.app,
    }
    with contextlib.ExitStack() as stack:
        urls = {name: stack.enter_context(BackgroundServer(app)).url for name, app in apps.items()}
        yield Receivers(webhook, zapier, make, n8n, typeform, qualtrics, urls)


def lanes_for(rx: Receivers, tasks: int) -> list[Lane]:
    return [
        Lane(
            "webhook",
            "webhook v1",
            lambda: sum(1 for r in rx.webhook.on("/v1") if r.verified),
            lambda: len(rx.webhook.on("/v1")),
        ),
        Lane(
            "webhook",
            "webhook v1a",
            lambda: sum(1 for r in rx.webhook.on("/v1a") if r.verified),
            lambda: len(rx.webhook.on("/v1a")),
        ),
        Lane(
            "webhook",
            "webhook flaky",
            lambda: sum(1 for r in rx.webhook.on("/flaky") if r.verified and r.status < 300),
            lambda: len(rx.webhook.on("/flaky")),
            planned_failures=tasks // FLAKY_EVERY,
        ),
        Lane("zapier", "zapier", lambda: _platform_ok(rx.zapier), lambda: len(rx.zapier.requests)),
        Lane("make", "make", lambda: _platform_ok(rx.make), lambda: len(rx.make.requests)),
        Lane("n8n", "n8n", lambda: _platform_ok(rx.n8n), lambda: len(rx.n8n.requests)),
        Lane(
            "typeform",
            "typeform",
            lambda: sum(1 for v in rx.typeform.on("/forms/demo") if v.ok),
            lambda: len(rx.typeform.on("/forms/demo")),
        ),
        Lane(
            "qualtrics",
            "qualtrics",
            lambda: len(rx.qualtrics.created(QUALTRICS_SURVEY)),
            lambda: sum(1 for q in rx.qualtrics.requests if q.method == "POST"),
        ),
    ]


def _platform_ok(recorder: PlatformRecorder) -> int:
    return sum(1 for r in recorder.requests if r.verified and 200 <= r.status < 300)


def create_destinations(api: httpx.Client, rx: Receivers, lanes: list[Lane]) -> None:
    bodies: list[dict[str, Any]] = [
        {"connector": "webhook", "url": f"{rx.urls['webhook']}/v1"},
        {"connector": "webhook", "url": f"{rx.urls['webhook']}/v1a", "signing": "ed25519"},
        {"connector": "webhook", "url": f"{rx.urls['webhook']}/flaky", "retrySchedule": []},
        {"connector": "zapier", "url": f"{rx.urls['zapier']}/hooks/catch/123/demo/"},
        # Make answers 503 twice first, to show retries with the destination's own schedule.
        {
            "connector": "make",
            "url": f"{rx.urls['make']}/demo-hook",
            "credentials": {"apiKey": MAKE_API_KEY},
            "retrySchedule": [1, 2, 4],
        },
        {
            "connector": "n8n",
            "url": f"{rx.urls['n8n']}/webhook/task-completed",
            "credentials": {"headerName": N8N_HEADER[0], "headerValue": N8N_HEADER[1]},
        },
        {
            "connector": "typeform",
            "url": f"{rx.urls['typeform']}/forms/demo",
            "credentials": {"typeformSecret": TYPEFORM_SECRET},
        },
        {
            "connector": "qualtrics",
            "url": rx.urls["qualtrics"],
            "credentials": {"apiToken": DEFAULT_API_TOKEN},
            "options": {"surveyId": QUALTRICS_SURVEY},
        },
    ]
    for lane, body in zip(lanes, bodies, strict=True):
        r = api.post(
            "/integrations/destinations",
            json={
                "tenantId": TENANT,
                "name": f"demo {lane.label}",
                "eventTypes": ["task.completed"],
                **body,
            },
        )
        r.raise_for_status()
        lane.destination = r.json()
    rx.webhook.expect_secret("/v1", lanes[0].destination["secret"])
    rx.webhook.expect_secret("/v1a", lanes[1].destination["secret"])
    rx.webhook.expect_secret("/flaky", lanes[2].destination["secret"])
    rx.webhook.refuse_first_of_every("/flaky", FLAKY_EVERY)
    for lane, recorder in ((lanes[3], rx.zapier), (lanes[4], rx.make), (lanes[5], rx.n8n)):
        recorder.expect_secret(lane.destination["secret"])
    rx.make.script([ScriptedResponse(503), ScriptedResponse(503)])
    rx.typeform.expect_secret("/forms/demo", TYPEFORM_SECRET)


def start_study(sim: httpx.Client, tasks: int) -> tuple[str, str]:
    population = sim.post(
        "/populations", json={"tenantId": TENANT, "name": "Demo panel", "size": tasks}
    )
    population.raise_for_status()
    study = sim.post(
        "/studies",
        json={
            "tenantId": TENANT,
            "populationId": population.json()["id"],
            "skillId": DEFAULT_SKILL_ID,
            "name": "Demo: oat-milk concept test",
        },
    )
    study.raise_for_status()
    run = sim.post(
        f"/studies/{study.json()['id']}/runs", json={"tenantId": TENANT, "maxConcurrency": 8}
    )
    run.raise_for_status()
    return str(study.json()["id"]), str(run.json()["id"])


def delivery_rows(api: httpx.Client, destination_id: str) -> list[dict[str, Any]]:
    rows: list[dict[str, Any]] = []
    for page in range(1, 1001):
        body = api.get(
            "/integrations/deliveries",
            params={
                "destinationId": destination_id,
                "page": page,
                "pageSize": 100,
                "includeAttempts": "true",
            },
        ).json()
        rows.extend(body["items"])
        if len(rows) >= body["total"] or not body["items"]:
            return rows
    return rows


def run_demo(*, keep: bool = False, tasks: int = 24) -> int:
    """Run the demo; Ctrl-C or SIGTERM stop it cleanly (temp folder removed): during the run that
    is an interruption (``KeyboardInterrupt`` propagates), under ``--keep`` the normal way out."""
    previous = signal.signal(signal.SIGTERM, _stop_on_sigterm)
    try:
        return _run(keep=keep, tasks=tasks)
    finally:
        signal.signal(signal.SIGTERM, previous)


def _run(*, keep: bool, tasks: int) -> int:
    console = Console()
    with tempfile.TemporaryDirectory(prefix="gateway-demo-") as tmp, start_receivers() as rx:
        sim_key = f"sim_{secrets.token_urlsafe(12)}"
        sim_server = BackgroundServer(
            create_simulator_app(api_key=sim_key, seed=7, task_seconds=(0.3, 2.0))
        ).start()
        admin_key = f"demo_{secrets.token_urlsafe(16)}"
        settings = Settings(
            GATEWAY_DATABASE_URL=f"sqlite:///{Path(tmp) / 'gateway.db'}",
            GATEWAY_ADMIN_KEY=admin_key,
            GATEWAY_ALLOW_PRIVATE_NETWORKS="127.0.0.0/8",
            PERSON_API_BASE_URL=sim_server.url,
            PERSON_API_KEY=sim_key,
            PERSON_TENANT_IDS=TENANT,
            GATEWAY_POLL_INTERVAL_SECONDS=1.0,
        )
        gateway_server = BackgroundServer(create_app(settings)).start()
        api = httpx.Client(
            base_url=gateway_server.url, headers={"x-api-key": admin_key}, timeout=30
        )
        sim = httpx.Client(base_url=sim_server.url, headers={"x-api-key": sim_key}, timeout=30)
        try:
            console.print(
                Panel.fit(
                    f"gateway   {gateway_server.url}  (SQLite in {tmp})\n"
                    f"person.run simulator  {sim_server.url}\n"
                    f"receivers  {', '.join(sorted(rx.urls))} on 127.0.0.1",
                    title="person-gateway demo",
                    border_style="cyan",
                )
            )
            lanes = lanes_for(rx, tasks)
            create_destinations(api, rx, lanes)
            study_id, run_id = start_study(sim, tasks)
            finished = _watch(console, api, sim, lanes, tasks, study_id, run_id)
            rows = {
                lane.destination["id"]: delivery_rows(api, lane.destination["id"]) for lane in lanes
            }
            console.print()
            console.print(summary_table(lanes, rows, tasks))
            ok = finished and all(
                lane_ok(lane, rows[lane.destination["id"]], tasks) for lane in lanes
            )
            console.print(_verdict(ok, lanes), soft_wrap=True)
            if keep:
                with contextlib.suppress(KeyboardInterrupt):
                    _keep(api, gateway_server.url, admin_key, lanes, rows)
            return 0 if ok else 1
        finally:
            api.close()
            sim.close()
            gateway_server.stop()
            sim_server.stop()


def _verdict(ok: bool, lanes: list[Lane]) -> str:
    if not ok:
        return "[bold red]some deliveries did not arrive or verify[/]"
    planned = sum(lane.planned_failures for lane in lanes)
    failures = "failure is" if planned == 1 else "failures are"
    note = f" (the {planned} {failures} webhook flaky's planned ones)" if planned else ""
    return f"[bold green]every delivery arrived and verified[/]{note}"


def _watch(
    console: Console,
    api: httpx.Client,
    sim: httpx.Client,
    lanes: list[Lane],
    tasks: int,
    study_id: str,
    run_id: str,
) -> bool:
    progress = Progress(
        TextColumn("{task.description:<24}"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn("{task.fields[note]}"),
        TimeElapsedColumn(),
        console=console,
    )
    run_bar = progress.add_task("person.run tasks", total=tasks, note="")
    bars = {lane.label: progress.add_task(lane.label, total=tasks, note="") for lane in lanes}
    deadline = time.monotonic() + DEADLINE_SECONDS
    with Live(Group(progress), console=console, refresh_per_second=8):
        while time.monotonic() < deadline:
            state = sim.get(f"/studies/{study_id}/runs/{run_id}").json()
            progress.update(run_bar, completed=_completed(state))
            finished = True
            for lane in lanes:
                counts = _status_counts(api, lane.destination["id"])
                retrying = counts.get("pending", 0) + counts.get("sending", 0)
                failed = counts.get("failed", 0)
                note = f"[yellow]{retrying} in flight/retrying[/] " if retrying else ""
                note += f"[magenta]{failed} failed (planned)[/]" if failed else ""
                progress.update(bars[lane.label], completed=counts.get("succeeded", 0), note=note)
                finished = (
                    finished
                    and counts.get("succeeded", 0) >= tasks - lane.planned_failures
                    and failed >= lane.planned_failures
                )
            if finished and _completed(state) >= tasks:
                return True
            time.sleep(0.25)
    return False


def _status_counts(api: httpx.Client, destination_id: str) -> dict[str, int]:
    counts = {}
    for status in ("succeeded", "pending", "sending", "failed"):
        body = api.get(
            "/integrations/deliveries",
            params={"destinationId": destination_id, "status": status, "pageSize": 1},
        ).json()
        counts[status] = int(body["total"])
    return counts


def _completed(run_state: dict[str, Any]) -> int:
    counts = run_state.get("counts") or run_state.get("progress") or {}
    return int(counts.get("completed", run_state.get("completed", 0)))


def _keep(
    api: httpx.Client,
    url: str,
    admin_key: str,
    lanes: list[Lane],
    rows: dict[str, list[dict[str, Any]]],
) -> None:
    """Print the keys and the "try this" list with plain ``print``: rich would wrap long lines at
    the terminal's width, and a wrapped command breaks when pasted."""
    tenant_key = api.post("/integrations/keys", json={"tenantId": TENANT, "name": "demo"}).json()
    flaky = next(lane for lane in lanes if lane.planned_failures)
    failed = [r for r in rows[flaky.destination["id"]] if r["status"] == "failed"]
    print(f"\nthe gateway stays up: {url}")
    print(f"  admin key   {admin_key}")
    print(f"  tenant key  {tenant_key['key']}  (tenant {TENANT})")
    print("\ntry this (each command is one line; paste it as is):")
    first_failed = failed[0] if failed else None
    for line in try_this(url, tenant_key["key"], first_failed, flaky.destination["id"]):
        print(f"  {line}")
    print("\nCtrl-C or SIGTERM stops everything and removes the temporary folder.", flush=True)
    while True:
        time.sleep(1)
