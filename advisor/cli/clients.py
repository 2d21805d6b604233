"""``advisor clients create NAME --role ROLE | list | revoke CLIENT``: client management without HTTP.

The database is the authority, so these work without a running server (and before any admin
key exists). A new key is printed once, on stdout, and never stored.
"""

from __future__ import annotations

import argparse
import json
import sys
from typing import TYPE_CHECKING, Any

from advisor.settings import Settings

if TYPE_CHECKING:
    from advisor.auth.clients import ClientStore


def _store(settings: Settings) -> ClientStore:
    from advisor.auth.clients import ClientStore
    from advisor.store.database import Database

    return ClientStore(Database.open(settings, pool_size=1))


def cmd_create(args: argparse.Namespace, settings: Settings) -> int:
    from advisor.api.clients import NewClient
    from advisor.api.strict_json import schema_errors, unstorable
    from advisor.auth.clients import Role

    # The API's own rules for a client: its JSON Schema (whole-string patterns) and storable characters.
    errors = [f"{e.detail}" for e in schema_errors(NewClient, {"name": args.name, "role": args.role})]
    if (bad := unstorable(args.name)) is not None:
        errors.append(f"contains {bad}, a character that cannot be stored")
    if errors:
        print(f"invalid client name {args.name!r}: {'; '.join(errors)}", file=sys.stderr)
        return 2
    store = _store(settings)
    try:
        client, key = store.create(args.name, Role(args.role))
    finally:
        store.db.dispose()
    print(f"created {client.role} client {client.id} ({client.name}); its API key, shown only now:",
          file=sys.stderr)
    print(key)
    return 0


def cmd_list(args: argparse.Namespace, settings: Settings) -> int:
    store = _store(settings)
    try:
        found = store.all()
    finally:
        store.db.dispose()
    if args.json:
        print(json.dumps([{"id": c.id, "name": c.name, "role": c.role.value, "created_at": c.created_at,
                           "revoked_at": c.revoked_at} for c in found], indent=2))
        return 0
    print(f"{'id':<20} {'role':<9} {'created_at':<28} {'revoked_at':<28} name")
    for c in found:
        print(f"{c.id:<20} {c.role.value:<9} {c.created_at:<28} {c.revoked_at or '-':<28} {c.name}")
    return 0


def cmd_revoke(args: argparse.Namespace, settings: Settings) -> int:
    from advisor.store.errors import LastAdmin

    store = _store(settings)
    try:
        matches = store.find(args.client)
        if not matches:
            print(f"no client {args.client} (give its id, or the name of one active client)", file=sys.stderr)
            return 1
        if len(matches) > 1:
            print(f"{len(matches)} active clients are named {args.client}: give the id "
                  f"({', '.join(c.id for c in matches)})", file=sys.stderr)
            return 1
        try:
            client = store.revoke(matches[0].id)
        except LastAdmin as exc:
            print(f"refused: {exc}", file=sys.stderr)
            return 1
        if client is None:  # pragma: no cover - found just above; clients are never deleted
            return 1
    finally:
        store.db.dispose()
    print(f"revoked {client.id} ({client.name}) at {client.revoked_at}; its key no longer works anywhere",
          file=sys.stderr)
    return 0


def add_client_commands(sub: Any) -> None:
    from advisor.auth.clients import Role

    clients = sub.add_parser("clients", help="manage API clients (keys and roles)")
    actions = clients.add_subparsers(dest="clients_command", required=True)
    create = actions.add_parser("create", help="create a client; prints its API key once")
    create.add_argument("name", help="a label, e.g. the portal's name")
    create.add_argument("--role", required=True, choices=[r.value for r in Role])
    create.set_defaults(func=cmd_create)
    listing = actions.add_parser("list", help="every client (never a key)")
    listing.add_argument("--json", action="store_true")
    listing.set_defaults(func=cmd_list)
    revoke = actions.add_parser("revoke", help="revoke a client's key, at once and for good")
    revoke.add_argument("client", help="the client id (or the name of exactly one active client)")
    revoke.set_defaults(func=cmd_revoke)
