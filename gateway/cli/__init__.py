"""``gateway``: the command line (CONTRACT §1), one module per command group.

Each module has ``register(sub)``, adding its subcommands (help with defaults and an example)
and pointing each at its ``cmd_*`` function; ``main`` turns a :class:`StartupError` into one line
on stderr and exit 1.
"""

from __future__ import annotations

import argparse
import logging
import sys
from collections.abc import Sequence

from gateway import __version__
from gateway.cli import events, keys, listen, migrate, sandbox, serve, verify
from gateway.cli.common import STARTUP_FAILURE_EXIT, Formatter, StartupError
from gateway.redaction import install_log_masking

COMMAND_MODULES = (serve, migrate, keys, verify, listen, events, sandbox)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="gateway",
        description="person-gateway: signed, retried, replayable deliveries of person.run events.",
        epilog="example:\n  gateway demo\n\n'gateway COMMAND --help' shows each command's options.",
        formatter_class=Formatter,
    )
    parser.add_argument(
        "--version",
        action="version",
        version=f"person-gateway {__version__}",
        help="print the version and exit",
    )
    parser.add_argument("-v", "--verbose", action="store_true", help="debug logging")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for module in COMMAND_MODULES:
        module.register(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    logging.basicConfig(
        level=logging.DEBUG if args.verbose else logging.INFO,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    install_log_masking()  # URL passwords in any log line, before any setting is read
    for noisy in ("alembic", "httpx", "apscheduler"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
    if args.command in ("demo", "listen", "events") and not args.verbose:
        logging.getLogger().setLevel(logging.WARNING)  # these show their own output
    try:
        code: int = args.func(args)
    except StartupError as exc:
        print(f"gateway {args.command}: {exc}", file=sys.stderr)
        return STARTUP_FAILURE_EXIT
    except KeyboardInterrupt:
        return 130
    return code


if __name__ == "__main__":
    sys.exit(main())
