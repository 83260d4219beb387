"""``run_simulator``: the simulator on its own, for ``gateway simulate``. (Tests and the demo serve
``create_simulator_app`` with ``gateway.sandbox.fakes.server.BackgroundServer``.)"""

from __future__ import annotations

import os
import secrets
import socket

import uvicorn

from gateway.sandbox.simulator import data
from gateway.sandbox.simulator.app import create_simulator_app


def run_simulator(
    host: str = "127.0.0.1",
    port: int = 8090,
    api_key: str | None = None,
    *,
    seed: int = 7,
    task_seconds: tuple[float, float] = (0.5, 3.0),
    sock: socket.socket | None = None,
) -> None:
    """Serve the simulator until interrupted, after printing how to point the gateway at it.

    The key is ``api_key``, else ``$PERSON_API_KEY``, else a fresh random one. ``sock``, when
    given, is an already bound socket to serve on (the CLI binds first, so a taken port fails
    before anything is printed); it listens before the address is printed.
    """
    key = api_key or os.environ.get("PERSON_API_KEY") or f"sim_{secrets.token_urlsafe(18)}"
    app = create_simulator_app(api_key=key, seed=seed, task_seconds=task_seconds)
    if sock is not None:
        sock.listen()  # connections queue from here on, so the address printed below answers
    shown_host = "127.0.0.1" if host in ("0.0.0.0", "::") else host
    print(f"person.run simulator on http://{shown_host}:{port}", flush=True)
    print(f"  PERSON_API_BASE_URL=http://{shown_host}:{port}")
    print(f"  PERSON_API_KEY={key}")
    print(f"  tenant      {data.DEFAULT_TENANT_ID}")
    print(f"  population  {data.DEFAULT_POPULATION_ID}  ({data.DEFAULT_POPULATION_SIZE} personas)")
    print(f"  skill       {data.DEFAULT_SKILL_ID}  ({data.SKILL_NAME})", flush=True)
    if sock is None:
        uvicorn.run(app, host=host, port=port, log_level="warning")
        return
    uvicorn.Server(uvicorn.Config(app, log_level="warning")).run(sockets=[sock])
