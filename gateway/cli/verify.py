"""``gateway verify``: the consumer-side Standard Webhooks check (CONTRACT §1).

Exit 0: a signature matches. Exit 1: the delivery is not valid (no match, stale timestamp,
missing header). Exit 2: the command was used wrongly (a malformed ``--secret`` or ``--header``);
one line on stderr says which.
"""

from __future__ import annotations

import argparse
import sys
import time

from gateway.cli.common import add_command

USAGE_ERROR_EXIT = 2


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = add_command(
        sub,
        "verify",
        help="check a delivery's Standard Webhooks signature (body on stdin)",
        example=(
            "gateway verify --secret whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw "
            "--header 'webhook-id: evt_1' --header 'webhook-timestamp: 1700000000' "
            "--header 'webhook-signature: v1,K5oZ...' < body.json"
        ),
    )
    p.add_argument(
        "--secret",
        required=True,
        action="append",
        help="whsec_… (v1) or whpk_… (v1a) the destination was given; repeat for several "
        "(required)",
    )
    p.add_argument(
        "--header",
        action="append",
        default=[],
        help="a received header as 'name: value'; repeat for webhook-id, webhook-timestamp "
        "and webhook-signature",
    )
    p.add_argument(
        "--tolerance", type=int, default=300, help="accepted webhook-timestamp age, seconds"
    )
    p.add_argument("--now", type=int, default=None, help=argparse.SUPPRESS)
    p.set_defaults(func=cmd_verify)


def cmd_verify(args: argparse.Namespace) -> int:
    from gateway import signing
    from gateway.errors import SignatureError

    headers: dict[str, str] = {}
    for raw in args.header:
        name, sep, value = raw.partition(":")
        if not sep:
            print(f"bad --header {raw!r}: expected 'name: value'", file=sys.stderr)
            return USAGE_ERROR_EXIT
        headers[name.strip().lower()] = value.strip()
    try:
        for secret in args.secret:
            signing.check_secret(secret)
    except ValueError as exc:  # a malformed secret is the caller's mistake, not an invalid body
        print(
            f"bad --secret: {exc}; pass the whsec_… or whpk_… value the destination was given",
            file=sys.stderr,
        )
        return USAGE_ERROR_EXIT
    body = sys.stdin.buffer.read()
    now = args.now if args.now is not None else int(time.time())
    try:
        signing.verify(body, headers, args.secret, now=now, tolerance_seconds=args.tolerance)
    except SignatureError as exc:
        print(f"invalid: {exc}", file=sys.stderr)
        return 1
    print("valid")
    return 0
