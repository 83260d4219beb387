"""Serving the simulator: ``run_simulator`` for ``gateway simulate``, ``serve_in_thread`` for tests
and the demo (a real uvicorn server on 127.0.0.1 and a free port, in a background thread)."""

from __future__ import annotations

import os
import secrets
import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager

import uvicorn
from starlette.types import ASGIApp

from gateway.simulator import data
from gateway.simulator.app import create_simulator_app

START_TIMEOUT_SECONDS = 10.0


def run_simulator(
    host: str = "127.0.0.1",
    port: int = 8090,
    api_key: str | None = None,
    *,
    seed: int = 7,
    task_seconds: tuple[float, float] = (0.5, 3.0),
) -> None:
    """Serve the simulator until interrupted, after printing how to point the gateway at it.

    The key is ``api_key``, else ``$PERSON_API_KEY``, else a fresh random one.
    """
    key = api_key or os.environ.get("PERSON_API_KEY") or f"sim_{secrets.token_urlsafe(18)}"
    app = create_simulator_app(api_key=key, seed=seed, task_seconds=task_seconds)
    shown_host = "127.0.0.1" if host in ("0.0.0.0", "::") else host
    print(f"person.run simulator on http://{shown_host}:{port}", flush=True)
    print(f"  PERSON_API_BASE_URL=http://{shown_host}:{port}")
    print(f"  PERSON_API_KEY={key}")
    print(f"  tenant      {data.DEFAULT_TENANT_ID}")
    print(f"  population  {data.DEFAULT_POPULATION_ID}  ({data.DEFAULT_POPULATION_SIZE} personas)")
    print(f"  skill       {data.DEFAULT_SKILL_ID}  ({data.SKILL_NAME})", flush=True)
    uvicorn.run(app, host=host, port=port, log_level="warning")


@contextmanager
def serve_in_thread(app: ASGIApp, host: str = "127.0.0.1") -> Iterator[str]:
    """Run ``app`` under uvicorn on a free port in a daemon thread; yields its base URL."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind((host, 0))
    port = sock.getsockname()[1]
    server = uvicorn.Server(uvicorn.Config(app, log_level="warning", lifespan="off"))
    thread = threading.Thread(
        target=server.run, kwargs={"sockets": [sock]}, daemon=True, name=f"uvicorn-{port}"
    )
    thread.start()
    deadline = time.monotonic() + START_TIMEOUT_SECONDS
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            sock.close()
            raise RuntimeError(f"uvicorn did not start on {host}:{port}")
        time.sleep(0.01)
    try:
        yield f"http://{host}:{port}"
    finally:
        server.should_exit = True
        thread.join(START_TIMEOUT_SECONDS)
        sock.close()
