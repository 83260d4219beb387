"""``gateway keys create`` (CONTRACT §1): API keys, shown once, stored hashed."""

from __future__ import annotations

import argparse

from gateway.cli.common import Formatter, add_command, load_settings, open_store_or_fail


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    keys = sub.add_parser(
        "keys",
        help="create API keys",
        description="API keys for the operator API and the platforms' /hooks.",
        epilog="example:\n  gateway keys create --tenant acme",
        formatter_class=Formatter,
    )
    keys_sub = keys.add_subparsers(dest="keys_command", required=True, metavar="COMMAND")
    p = add_command(
        keys_sub,
        "create",
        help="print a new API key (shown once; stored hashed)",
        example="gateway keys create --tenant acme --name zapier",
    )
    p.add_argument("--tenant", required=True, help="the tenant the key belongs to (required)")
    p.add_argument("--name", default="", help="a label shown in key lists")
    p.add_argument(
        "--admin", action="store_true", help="an admin key: sees every tenant, may create keys"
    )
    p.set_defaults(func=cmd_keys_create)


def cmd_keys_create(args: argparse.Namespace) -> int:
    store = open_store_or_fail(load_settings())
    key_id, key = store.create_api_key(
        tenant_id=args.tenant, name=args.name or "", is_admin=args.admin
    )
    print(
        f"keyId:  {key_id}\ntenant: {args.tenant}\nadmin:  {str(args.admin).lower()}\n"
        f"key:    {key}\n(the key is shown once; it is stored hashed)"
    )
    return 0
