"""``gateway events send``: post the catalog's example of an event type to a running gateway.

With it and ``gateway listen`` the README's walk-through runs on one machine. ``--wait`` follows
the event's deliveries until each is final (succeeded, failed or cancelled; retries included),
and the exit code says how they went: 0 accepted (and, with ``--wait``, every delivery
succeeded), 1 otherwise.
"""

from __future__ import annotations

import argparse
import os
import time
from typing import Any

from gateway.cli.common import Formatter, StartupError, add_command

POLL_SECONDS = 0.2
FINAL = ("succeeded", "failed", "cancelled")


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    from gateway.catalog import catalog

    events = sub.add_parser(
        "events",
        help="send events to a running gateway",
        description="Send events to a running gateway through its operator API.",
        epilog="example:\n  gateway events send --example task.completed --tenant acme",
        formatter_class=Formatter,
    )
    events_sub = events.add_subparsers(dest="events_command", required=True, metavar="COMMAND")
    p = add_command(
        events_sub,
        "send",
        help="post the catalog's example of an event type as a new event",
        example="gateway events send --example task.completed --tenant acme --wait 10",
    )
    p.add_argument(
        "--example",
        required=True,
        choices=sorted(catalog()),
        help="the event type whose catalog example is sent as the event's data (required)",
    )
    p.add_argument("--tenant", required=True, help="the tenant the event belongs to (required)")
    p.add_argument("--url", default="http://127.0.0.1:8080", help="the gateway's base URL")
    p.add_argument(
        "--key",
        default=None,
        help="an API key for the tenant, or an admin key (default: $GATEWAY_ADMIN_KEY)",
    )
    p.add_argument("--id", default=None, help="the event id (default: the gateway assigns one)")
    p.add_argument(
        "--wait",
        type=float,
        default=0,
        metavar="SECONDS",
        help="follow the deliveries up to this long, until each succeeded or failed for good "
        "(0: do not wait)",
    )
    p.set_defaults(func=cmd_events_send)


def cmd_events_send(args: argparse.Namespace) -> int:
    import httpx

    from gateway.catalog import catalog

    key = args.key or os.environ.get("GATEWAY_ADMIN_KEY")
    if not key:
        raise StartupError("no API key; pass --key or export GATEWAY_ADMIN_KEY")
    body: dict[str, Any] = {
        "tenantId": args.tenant,
        "type": args.example,
        "data": catalog()[args.example].example,
    }
    if args.id:
        body["id"] = args.id
    base = args.url.rstrip("/")
    with httpx.Client(base_url=base, headers={"x-api-key": key}, timeout=30) as api:
        try:
            r = api.post("/integrations/events", json=body)
        except httpx.HTTPError as exc:
            raise StartupError(
                f"cannot reach the gateway at {base}: {exc}; is 'gateway serve' running? (--url)"
            ) from exc
        if r.status_code >= 400:
            raise StartupError(f"the gateway answered {r.status_code}: {_error_text(r)}")
        answer = r.json()
        deliveries = answer.get("deliveryIds") or []
        print(
            f"event {answer['eventId']} {answer.get('status', 'created')} ({r.status_code}) "
            f"for tenant {args.tenant}: {len(deliveries)} "
            f"{'delivery' if len(deliveries) == 1 else 'deliveries'} "
            f"{' '.join(deliveries)}".rstrip(),
            flush=True,
        )
        for warning in answer.get("warnings") or []:
            print(f"warning: {warning}", flush=True)
        if args.wait <= 0:
            return 0
        return _follow(api, deliveries, time.monotonic() + args.wait)


def _follow(api: Any, delivery_ids: list[str], deadline: float) -> int:
    """Print each delivery's outcome once it is final; 0 when every one succeeded."""
    rows: dict[str, dict[str, Any]] = {}
    done: set[str] = set()
    while len(done) < len(delivery_ids) and time.monotonic() < deadline:
        for delivery_id in delivery_ids:
            if delivery_id in done:
                continue
            rows[delivery_id] = row = api.get(f"/integrations/deliveries/{delivery_id}").json()
            if row.get("status") in FINAL:
                done.add(delivery_id)
                print(f"delivery {delivery_id}: {_outcome(row)}", flush=True)
        if len(done) < len(delivery_ids):
            time.sleep(POLL_SECONDS)
    for delivery_id in delivery_ids:
        if delivery_id not in done:
            row = rows.get(delivery_id, {"status": "pending", "attemptCount": 0})
            print(f"delivery {delivery_id}: still {_outcome(row)}", flush=True)
    ok = all(rows[d]["status"] == "succeeded" for d in delivery_ids if d in rows)
    return 0 if ok and delivery_ids and len(done) == len(delivery_ids) else 1


def _outcome(row: dict[str, Any]) -> str:
    code, error = row.get("lastStatusCode"), row.get("lastError")
    last = f"HTTP {code}" if code else (error or "not tried yet")
    return f"{row.get('status')} after {row.get('attemptCount', 0)} attempt(s) (last: {last})"


def _error_text(response: Any) -> str:
    try:
        error = response.json()["error"]
    except (ValueError, KeyError, TypeError):
        return str(response.text)[:200]
    details = "; ".join(f"{d.get('path')}: {d.get('message')}" for d in error.get("details", []))
    return f"{error.get('code')}: {error.get('message')}" + (f" ({details})" if details else "")
