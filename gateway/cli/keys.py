"""``gateway keys create|list|revoke`` (CONTRACT §1): API keys, shown once, stored hashed; a
revoked key is refused by every process within a second."""

from __future__ import annotations

import argparse
import sys

from gateway.cli.common import Formatter, add_command, load_settings, open_store_or_fail


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    keys = sub.add_parser(
        "keys",
        help="create, list and revoke API keys",
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
    p = add_command(
        keys_sub,
        "list",
        help="list active keys: id, tenant, name, created, last used (never the key itself)",
        example="gateway keys list --tenant acme",
    )
    p.add_argument("--tenant", default=None, help="only this tenant's keys (default: every key)")
    p.set_defaults(func=cmd_keys_list)
    p = add_command(
        keys_sub,
        "revoke",
        help="revoke a key: every gateway process refuses it within 1 s",
        example="gateway keys revoke key_01J9...",
    )
    p.add_argument("key_id", help="the key's id (key_…), from `gateway keys list` (required)")
    p.set_defaults(func=cmd_keys_revoke)


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


def cmd_keys_list(args: argparse.Namespace) -> int:
    from gateway.models import iso

    store = open_store_or_fail(load_settings())
    rows, _ = store.list_api_keys(args.tenant)
    print(f"{'KEY ID':<32} {'TENANT':<20} {'NAME':<20} {'CREATED':<25} LAST USED")
    for r in rows:
        tenant = r["tenant_id"] or "(admin)"
        last = iso(r["last_used_at"]) if r["last_used_at"] else "never"
        print(f"{r['id']:<32} {tenant:<20} {r['name']:<20} {iso(r['created_at']):<25} {last}")
    return 0


def cmd_keys_revoke(args: argparse.Namespace) -> int:
    store = open_store_or_fail(load_settings())
    if not store.revoke_api_key(args.key_id):
        print(f"no active key {args.key_id} (see `gateway keys list`)", file=sys.stderr)
        return 1
    print(f"revoked {args.key_id}; every gateway process refuses it within a second")
    return 0
