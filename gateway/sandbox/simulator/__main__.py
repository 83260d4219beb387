"""``python -m gateway.sandbox.simulator [--host H] [--port P] [--seed N]``: the simulator alone."""

from __future__ import annotations

import argparse

from gateway.sandbox.simulator.server import run_simulator


def main() -> None:
    parser = argparse.ArgumentParser(
        prog="python -m gateway.sandbox.simulator", description="person.run API simulator"
    )
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8090)
    parser.add_argument("--api-key", default=None, help="default: $PERSON_API_KEY or a new key")
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args()
    run_simulator(args.host, args.port, args.api_key, seed=args.seed)


if __name__ == "__main__":
    main()
