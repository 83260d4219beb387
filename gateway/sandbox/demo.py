"""``gateway demo``: the whole pipeline on embedded defaults, on 127.0.0.1 only.

It starts the person.run simulator, a receiver per connector that checks what it gets the way
the real consumer would (Standard Webhooks signatures for webhook/Zapier/Make/n8n, the
Typeform-Signature and answer shapes for Typeform, the survey's response schema for Qualtrics),
and the gateway itself (SQLite in a temporary directory, polling the simulator). It creates one
destination per connector through the operator API, starts a study run, shows live progress and
ends with a summary table. The exit code is 0 only when every delivery arrived and verified.
"""

from __future__ import annotations

import contextlib
import secrets
import statistics
import tempfile
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

import httpx
from rich.console import Console, Group
from rich.live import Live
from rich.panel import Panel
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from gateway.app import create_app
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


@dataclass
class Lane:
    """One connector in the demo: its destination, and how its receiver counts verified bodies."""

    connector: str
    label: str
    verified: Callable[[], int]
    received: Callable[[], int]
    destination: dict[str, Any] = field(default_factory=dict)


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


def lanes_for(rx: Receivers) -> list[Lane]:
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
    for lane, recorder in ((lanes[2], rx.zapier), (lanes[3], rx.make), (lanes[4], rx.n8n)):
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
            params={"destinationId": destination_id, "page": page, "pageSize": 100},
        ).json()
        rows.extend(body["items"])
        if len(rows) >= body["total"] or not body["items"]:
            return rows
    return rows


def summary_table(lanes: list[Lane], rows: dict[str, list[dict[str, Any]]], tasks: int) -> Table:
    table = Table(
        title="Delivery summary",
        title_style="bold",
        caption=(
            "latency: event stored -> 2xx received. make's receiver answered 503 twice (retries); "
            "qualtrics is paced at its conservative default of 2 req/s."
        ),
    )
    for column in ("connector", "delivered", "attempts", "retries", "p50", "p95", "verified"):
        table.add_column(column, justify="left" if column == "connector" else "right")
    for lane in lanes:
        items = rows[lane.destination["id"]]
        done = [r for r in items if r["status"] == "succeeded"]
        attempts = sum(r["attemptCount"] for r in items)
        latencies = sorted(_seconds(r["completedAt"]) - _seconds(r["createdAt"]) for r in done)
        verified = lane.verified()
        table.add_row(
            lane.label,
            f"{len(done)}/{tasks}",
            str(attempts),
            str(attempts - len(items)),
            _ms(_percentile(latencies, 50)),
            _ms(_percentile(latencies, 95)),
            f"[green]{verified}[/]" if verified >= tasks else f"[red]{verified}[/]",
        )
    return table


def run_demo(*, keep: bool = False, tasks: int = 24) -> int:
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
            lanes = lanes_for(rx)
            create_destinations(api, rx, lanes)
            study_id, run_id = start_study(sim, tasks)
            ok = _watch(console, api, sim, lanes, tasks, study_id, run_id)
            rows = {
                lane.destination["id"]: delivery_rows(api, lane.destination["id"]) for lane in lanes
            }
            console.print()
            console.print(summary_table(lanes, rows, tasks))
            verified = all(lane.verified() >= tasks for lane in lanes)
            console.print(
                "[bold green]every delivery arrived and verified[/]"
                if ok and verified
                else "[bold red]some deliveries did not arrive or verify[/]"
            )
            if keep:
                _keep(console, api, gateway_server.url, admin_key)
            return 0 if ok and verified else 1
        finally:
            api.close()
            sim.close()
            gateway_server.stop()
            sim_server.stop()


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
                note = f"[yellow]{retrying} in flight/retrying[/]" if retrying else ""
                progress.update(bars[lane.label], completed=counts.get("succeeded", 0), note=note)
                finished = finished and counts.get("succeeded", 0) >= tasks
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


def _keep(console: Console, api: httpx.Client, url: str, admin_key: str) -> None:
    tenant_key = api.post("/integrations/keys", json={"tenantId": TENANT, "name": "demo"}).json()
    console.print(
        Panel.fit(
            f"dashboard  {url}/dashboard\nadmin key  {admin_key}\n"
            f"tenant key {tenant_key['key']}\n\n"
            f"try:  curl -H 'x-api-key: {tenant_key['key']}' {url}/integrations/deliveries\n"
            "Ctrl-C stops everything.",
            title="the gateway stays up",
            border_style="green",
        )
    )
    with contextlib.suppress(KeyboardInterrupt):
        while True:
            time.sleep(1)


def _seconds(value: str) -> float:
    return datetime.fromisoformat(value.replace("Z", "+00:00")).timestamp()


def _percentile(values: list[float], pct: int) -> float | None:
    if not values:
        return None
    if len(values) == 1:
        return values[0]
    return statistics.quantiles(values, n=100, method="inclusive")[pct - 1]


def _ms(value: float | None) -> str:
    return "-" if value is None else f"{value * 1000:.0f} ms"
