"""What ``gateway demo`` prints at the end: the summary table, its verdict, and the "try this"
list that ``--keep`` offers (plain lines, never wrapped, so each command pastes as one line)."""

from __future__ import annotations

import statistics
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from rich.table import Table


@dataclass
class Lane:
    """One connector in the demo: its destination, and how its receiver counts verified bodies.

    ``planned_failures`` deliveries of a lane are meant to fail for good (the flaky lane's
    receiver refuses them and its destination has no retries): they give ``--keep`` something
    to replay.
    """

    connector: str
    label: str
    verified: Callable[[], int]
    received: Callable[[], int]
    destination: dict[str, Any] = field(default_factory=dict)
    planned_failures: int = 0


def lane_ok(lane: Lane, rows: list[dict[str, Any]], tasks: int) -> bool:
    """Every delivery succeeded and verified, except exactly the planned failures."""
    planned = lane.planned_failures
    failed = sum(1 for r in rows if r["status"] == "failed")
    succeeded = sum(1 for r in rows if r["status"] == "succeeded")
    return failed == planned and succeeded == tasks - planned and lane.verified() >= succeeded


def summary_table(lanes: list[Lane], rows: dict[str, list[dict[str, Any]]], tasks: int) -> Table:
    table = Table(
        title="Delivery summary",
        title_style="bold",
        caption=(
            "latency: event stored -> 2xx received, per delivery. make's receiver answered 503 "
            "twice (retries); qualtrics is paced at its conservative default of 2 req/s; "
            "webhook flaky's receiver refuses every third event once and its destination has no "
            "retries: those fail for good, as planned, to practise replay on."
        ),
    )
    columns = ("connector", "delivered", "failed", "retries", "p50", "p95", "verified")
    for column in columns:
        table.add_column(column, justify="left" if column == "connector" else "right", no_wrap=True)
    for lane in lanes:
        items = rows[lane.destination["id"]]
        done = [r for r in items if r["status"] == "succeeded"]
        failed = sum(1 for r in items if r["status"] == "failed")
        attempts = sum(r["attemptCount"] for r in items)
        latencies = sorted(x for x in (delivery_latency(r) for r in done) if x is not None)
        verified = lane.verified()
        good = lane_ok(lane, items, tasks)
        table.add_row(
            lane.label,
            f"{len(done)}/{tasks}",
            str(failed),
            str(attempts - len(items)),
            _ms(_percentile(latencies, 50)),
            _ms(_percentile(latencies, 95)),
            f"[green]{verified}[/]" if good else f"[red]{verified}[/]",
        )
    return table


def delivery_latency(row: dict[str, Any]) -> float | None:
    """Seconds from the event being stored (the delivery's creation, same transaction) to the end
    of its successful attempt: each delivery's own time, not its worker batch's."""
    attempts = [a for a in row.get("attempts") or [] if a.get("statusCode") and a.get("startedAt")]
    ok = [a for a in attempts if 200 <= int(a["statusCode"]) < 300]
    if not ok:
        return None
    last = ok[-1]
    done = _seconds(last["startedAt"]) + float(last.get("durationMs") or 0) / 1000
    return done - _seconds(row["createdAt"])


def try_this(url: str, key: str, failed: dict[str, Any] | None, flaky_id: str) -> list[str]:
    """Copy-paste-safe commands for the gateway ``--keep`` leaves up: one command per line."""
    auth = f"-H 'x-api-key: {key}'"
    json_type = "-H 'content-type: application/json'"
    lines = [
        "# every failed delivery (the flaky lane's planned failures)",
        f"curl -s {auth} '{url}/integrations/deliveries?status=failed'",
    ]
    if failed is not None:
        dlv = failed["id"]
        lines += [
            "# open one: its attempt, the request sent and the 500 it got back",
            f"curl -s {auth} '{url}/integrations/deliveries/{dlv}?includeAttempts=true'",
            "# replay it: a new delivery of the same event; the receiver accepts it this time",
            f"curl -s -X POST {auth} '{url}/integrations/deliveries/{dlv}/replay'",
        ]
    lines += [
        "# edit the destination: give it retries, so a refusal is retried instead of final",
        f"curl -s -X PATCH {auth} {json_type} -d '{{\"retrySchedule\": [1, 5, 30]}}' "
        f"'{url}/integrations/destinations/{flaky_id}'",
        "# replay every failed delivery of it at once (a bulk replay)",
        f'curl -s -X POST {auth} {json_type} -d \'{{"destinationId": "{flaky_id}", '
        f'"status": "failed", "since": "2000-01-01T00:00:00Z"}}\' \'{url}/integrations/replays\'',
        "# or all of it in the browser (sign in with the tenant key)",
        f"{url}/dashboard",
    ]
    return lines


def _seconds(value: str) -> float:
    return datetime.fromisoformat(value.replace("Z", "+00:00")).timestamp()


def _percentile(values: list[float], pct: int) -> float | None:
    if not values:
        return None
    if len(values) == 1:
        return values[0]
    return statistics.quantiles(values, n=100, method="inclusive")[pct - 1]


def _ms(value: float | None) -> str:
    if value is None:
        return "-"
    return f"{value:.1f} s" if value >= 10 else f"{value * 1000:.0f} ms"
