"""API clients: one key per client, stored only as its SHA-256, with one role each.

A key reads ``adv_<client id>_<secret>``: the client id lets a lookup go straight to one row by
primary key, and the secret (32 random bytes, ``secrets.token_urlsafe``) is what the stored hash
protects. The comparison is ``hmac.compare_digest``. Every request reads the row, so a revocation
takes effect at once in every process and replica; nothing is cached.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
from collections.abc import Callable
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from advisor.audit.formats import utc_now
from advisor.jsonlog import KEY_PATTERN  # noqa: F401 - keys are shaped here; the logs scrub that shape
from advisor.store.clients import active_holders, client_row, client_rows, insert_client, insert_first_client, revoke
from advisor.store.database import Database

KEY_PREFIX = "adv_"
_CLIENT_ID = re.compile(r"^cl-[0-9a-f]{16}$")
ANONYMOUS = "anonymous"


class Role(StrEnum):
    ASSESSOR = "assessor"  # a portal: creates assessments, reads its own
    REVIEWER = "reviewer"  # reads every assessment
    AUDITOR = "auditor"  # reads every assessment; verifies, exports, checkpoints
    ADMIN = "admin"  # manages clients
    MONITOR = "monitor"  # reads /metrics, nothing else


@dataclass(frozen=True, slots=True)
class Principal:
    """The authenticated caller, as the handlers and guards see it (never the key itself)."""

    client_id: str
    name: str
    roles: frozenset[Role]

    @property
    def reads_all(self) -> bool:
        """Reviewers and auditors read every record; an assessor only the ones it created."""
        return bool(self.roles & {Role.REVIEWER, Role.AUDITOR})


# With ``ADVISOR_AUTH_REQUIRED=false`` only: a caller without a key (never an admin).
ANONYMOUS_PRINCIPAL = Principal(client_id=ANONYMOUS, name=ANONYMOUS,
                                roles=frozenset({Role.ASSESSOR, Role.REVIEWER, Role.AUDITOR}))


@dataclass(frozen=True, slots=True)
class Client:
    id: str
    name: str
    role: Role
    created_at: str
    revoked_at: str | None


def hash_key(key: str) -> str:
    return hashlib.sha256(key.encode("utf-8")).hexdigest()


def new_key(client_id: str) -> str:
    return f"{KEY_PREFIX}{client_id}_{secrets.token_urlsafe(32)}"


def client_id_of(key: str) -> str | None:
    """The client id a key names, or None when the key is not shaped like one of ours."""
    if not key.startswith(KEY_PREFIX) or len(key) > 200:
        return None
    client_id, sep, secret = key.removeprefix(KEY_PREFIX).partition("_")
    if not sep or not secret or _CLIENT_ID.match(client_id) is None:
        return None
    return client_id


def _client(row: Any) -> Client:
    return Client(id=row.id, name=row.name, role=Role(row.role), created_at=row.created_at, revoked_at=row.revoked_at)


class ClientStore:
    def __init__(self, db: Database) -> None:
        self.db = db

    def authenticate(self, key: str) -> Principal | None:
        """The principal a key belongs to, or None (unknown, malformed or revoked)."""
        client_id = client_id_of(key)
        if client_id is None:
            return None
        row = client_row(self.db, client_id)
        presented = hash_key(key)
        if row is None:
            hmac.compare_digest(presented, presented)  # same work either way
            return None
        if not hmac.compare_digest(presented, str(row.key_hash)) or row.revoked_at is not None:
            return None
        return Principal(client_id=row.id, name=row.name, roles=frozenset({Role(row.role)}))

    def create(self, name: str, role: Role) -> tuple[Client, str]:
        """A new client and its key: the key is returned here once and never stored."""
        client, key, values = _new_client(name, role)
        insert_client(self.db, values)
        return client, key

    def create_first(self, name: str, role: Role, keep_key: Callable[[str], None]) -> Client | None:
        """A new client only while there is no client at all (None otherwise), its key handed to ``keep_key``
        before the commit: if keeping it fails, no client exists whose key nobody has."""
        client, key, values = _new_client(name, role)
        return client if insert_first_client(self.db, values, lambda: keep_key(key)) else None

    def active_admins(self) -> int:
        return active_holders(self.db, Role.ADMIN.value)

    def all(self) -> list[Client]:
        return [_client(row) for row in client_rows(self.db)]

    def get(self, client_id: str) -> Client | None:
        row = client_row(self.db, client_id)
        return None if row is None else _client(row)

    def find(self, id_or_name: str) -> list[Client]:
        """Clients whose id is ``id_or_name``, or else the active ones with that name."""
        by_id = self.get(id_or_name)
        if by_id is not None:
            return [by_id]
        return [c for c in self.all() if c.name == id_or_name and c.revoked_at is None]

    def revoke(self, client_id: str) -> Client | None:
        """Revoke at once (idempotent); refuses to revoke the last active admin.

        Under a lock, so two admins revoking each other at once cannot leave none (``store.clients.revoke``).
        """
        if not revoke(self.db, client_id, Role.ADMIN.value):
            return None
        found = self.get(client_id)
        assert found is not None
        return found


def _new_client(name: str, role: Role) -> tuple[Client, str, dict[str, Any]]:
    client = Client(id=f"cl-{secrets.token_hex(8)}", name=name, role=Role(role), created_at=utc_now(),
                    revoked_at=None)
    key = new_key(client.id)
    values = {"id": client.id, "name": client.name, "role": client.role.value, "key_hash": hash_key(key),
              "created_at": client.created_at, "revoked_at": None}
    return client, key, values
