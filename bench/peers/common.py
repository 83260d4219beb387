"""What every peer harness shares: the job's body and headers, Redis, and the result line.

Each peer does the same work per job as one gateway delivery of the ``webhook`` connector: sign the
stored body (Standard Webhooks ``v1``, HMAC-SHA256) and POST it with the delivery headers to the
loopback receiver; a job is done when the 2xx is in. Runs inside the peers' scratch virtualenv,
so it imports nothing from the gateway.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import os
import time

REDIS_URL = os.environ.get("PEER_REDIS_URL", "redis://127.0.0.1:6379/15")
RECEIVER_URL = os.environ["PEER_RECEIVER_URL"]
BODY = os.environ["PEER_BODY"].encode()
SECRET = base64.b64decode("MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw")
DONE_KEY = "peer-bench:done"


def headers(job_id: str) -> dict[str, str]:
    ts = str(int(time.time()))
    mac = hmac.new(SECRET, f"{job_id}.{ts}.".encode() + BODY, hashlib.sha256).digest()
    return {
        "content-type": "application/json",
        "user-agent": "peer-bench/1",
        "webhook-id": job_id,
        "webhook-timestamp": ts,
        "webhook-signature": "v1," + base64.b64encode(mac).decode(),
        "x-gateway-delivery-id": job_id,
        "x-gateway-attempt": "1",
    }


def report(name: str, jobs: int, enqueue_seconds: float, drain_seconds: float) -> None:
    """The one line the orchestrator (bench/peers.py) reads."""
    print(
        "RESULT "
        + json.dumps(
            {"peer": name, "jobs": jobs, "enqueue_s": enqueue_seconds, "drain_s": drain_seconds}
        ),
        flush=True,
    )
