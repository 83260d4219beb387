"""Celery + Redis: ``python celery_peer.py N CONCURRENCY`` enqueues N jobs, then runs a worker
(threads pool, CONCURRENCY threads, one keep-alive ``requests.Session`` each) until all are done.

The threads pool is Celery's best here: its default prefork pool sends one request at a time per
child process, and on 2 cores it has 2 children.
"""

from __future__ import annotations

import subprocess
import sys
import threading
import time

import redis
import requests
from celery import Celery
from common import BODY, DONE_KEY, RECEIVER_URL, REDIS_URL, headers, report

app = Celery("peer", broker=REDIS_URL)
app.conf.update(
    task_ignore_result=True,
    worker_prefetch_multiplier=64,
    task_acks_late=True,  # like the gateway: a job is done only once its POST succeeded
    broker_connection_retry_on_startup=True,
)
_local = threading.local()


@app.task(name="deliver")
def deliver(job_id: str) -> None:
    session = getattr(_local, "session", None)
    if session is None:
        session = _local.session = requests.Session()
    response = session.post(RECEIVER_URL, data=BODY, headers=headers(job_id), timeout=15)
    response.raise_for_status()
    _local.redis = getattr(_local, "redis", None) or redis.Redis.from_url(REDIS_URL)
    _local.redis.incr(DONE_KEY)


def main() -> None:
    jobs, concurrency = int(sys.argv[1]), int(sys.argv[2])
    r = redis.Redis.from_url(REDIS_URL)
    r.flushdb()
    t0 = time.perf_counter()
    with app.producer_or_acquire() as producer:
        for i in range(jobs):
            deliver.apply_async((f"job_{i}",), producer=producer)
    enqueue = time.perf_counter() - t0
    worker = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "celery",
            "-A",
            "celery_peer",
            "worker",
            "--pool",
            "threads",
            "--concurrency",
            str(concurrency),
            "--loglevel",
            "WARNING",
            "--without-heartbeat",
            "--without-gossip",
            "--without-mingle",
        ]
    )
    t1 = time.perf_counter()
    deadline = t1 + 600
    try:
        while int(r.get(DONE_KEY) or 0) < jobs and time.perf_counter() < deadline:
            time.sleep(0.01)
        drain = time.perf_counter() - t1
    finally:
        worker.terminate()
        worker.wait(timeout=30)
    report("celery", int(r.get(DONE_KEY) or 0), enqueue, drain)


if __name__ == "__main__":
    main()
