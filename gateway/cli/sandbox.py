"""``gateway demo`` and ``gateway simulate``: the demo bench (``gateway/sandbox/``), lazily."""

from __future__ import annotations

import argparse

from gateway.cli.common import add_command, bind_port, load_settings


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = add_command(
        sub,
        "demo",
        help="run the whole pipeline on embedded defaults, on 127.0.0.1 only",
        example="gateway demo --keep",
    )
    p.add_argument(
        "--keep", action="store_true", help="leave the gateway and dashboard up after the summary"
    )
    p.add_argument("--tasks", type=int, default=24, help="personas in the demo study run")
    p.set_defaults(func=cmd_demo)

    p = add_command(
        sub,
        "simulate",
        help="run the person.run API simulator alone (the one the demo uses)",
        example="PERSON_API_KEY=sim-key gateway simulate --port 8090",
    )
    p.add_argument("--host", default="127.0.0.1", help="address to listen on")
    p.add_argument("--port", type=int, default=8090, help="TCP port to listen on")
    p.set_defaults(func=cmd_simulate)


def cmd_simulate(args: argparse.Namespace) -> int:
    from gateway.sandbox.simulator import run_simulator

    settings = load_settings()
    sock = bind_port(args.host, args.port)
    try:
        run_simulator(args.host, args.port, settings.person_api_key, sock=sock)
    finally:
        sock.close()
    return 0


def cmd_demo(args: argparse.Namespace) -> int:
    from gateway.sandbox.demo import run_demo

    return run_demo(keep=args.keep, tasks=args.tasks)
