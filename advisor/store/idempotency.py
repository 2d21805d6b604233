"""Idempotency-Key records (IETF draft-ietf-httpapi-idempotency-key-header, Stripe semantics).

A key is scoped to its client. The first request with it *claims* it: a ``pending`` row inserted
in a short transaction of its own (the primary key (client_id, idempotency_key) makes the claim
exclusive across processes and replicas). The claim is *completed* inside the record's own
transaction (``Draft.also_write``), with the response to replay, so the record and its key are
committed together or not at all. A failed request *releases* its claim (nothing stays stored).

A claim carries a random owner token and a lease. Only the owner completes it; a claim whose
lease ran out (its process died) is taken over by the next request with the same key, and the
late owner's completion then finds another owner and rolls its record back. Completed keys are
kept ``ttl_hours`` (>= 24), then forgotten.
"""

from __future__ import annotations

import json
import secrets
from datetime import UTC, datetime, timedelta

from sqlalchemy import ColumnElement, Connection, and_, delete, insert, select, update
from sqlalchemy.exc import IntegrityError

from advisor.application.ports import Claimed, ClaimResult, InFlight, Mismatch, Replay
from advisor.audit.formats import stored_time
from advisor.store.database import Database
from advisor.store.errors import LeaseLost
from advisor.store.tables import idempotency_keys

LEASE_SECONDS = 60  # default; ADVISOR_IDEMPOTENCY_LEASE_SECONDS
PENDING = "pending"
COMPLETE = "complete"




IN_FLIGHT_RETRY_AFTER = 1  # seconds




def _where(client_id: str, key: str) -> ColumnElement[bool]:
    c = idempotency_keys.c
    return and_(c.client_id == client_id, c.idempotency_key == key)


class IdempotencyStore:
    def __init__(self, db: Database, ttl_hours: int, lease_seconds: int = LEASE_SECONDS) -> None:
        self.db = db
        self.ttl = timedelta(hours=ttl_hours)
        self.lease = timedelta(seconds=lease_seconds)

    def claim(self, client_id: str, key: str, fingerprint: str) -> ClaimResult:
        """Claim ``key`` for this request, or say why not (replay, in flight, different body)."""
        for _ in range(5):
            try:
                return self._claim_once(client_id, key, fingerprint)
            except IntegrityError:  # another replica inserted the same key first: read what it did
                continue
        return InFlight(retry_after=1)  # pragma: no cover - five lost races in a row

    def _claim_once(self, client_id: str, key: str, fingerprint: str) -> ClaimResult:
        c = idempotency_keys.c
        now = datetime.now(UTC)
        stamp = stored_time(now)
        with self.db.writing() as conn:
            # This client's expired keys are forgotten (this key too, if it expired).
            conn.execute(delete(idempotency_keys).where(c.client_id == client_id, c.expires_at < stamp))
            row = conn.execute(self.db.for_update(select(idempotency_keys).where(_where(client_id, key)))).first()
            owner = secrets.token_hex(16)
            lease_until = stored_time(now + self.lease)
            if row is None:
                conn.execute(insert(idempotency_keys).values(
                    client_id=client_id, idempotency_key=key, fingerprint=fingerprint, status=PENDING, owner=owner,
                    lease_until=lease_until, created_at=stamp, expires_at=stored_time(now + self.ttl)))
                return Claimed(owner)
            if row.fingerprint != fingerprint:
                return Mismatch()
            if row.status == COMPLETE:
                return Replay(status=int(row.response_status), headers=json.loads(row.response_headers),
                              record_id=str(row.record_id))
            if row.lease_until > stamp:
                # A request finishes in milliseconds: its retry should come back in a second, not when the
                # lease (kept long for a process that died) runs out.
                return InFlight(retry_after=IN_FLIGHT_RETRY_AFTER)
            # The owner's lease ran out (it died or hangs): take the claim over.
            taken = conn.execute(update(idempotency_keys).where(
                _where(client_id, key), c.owner == row.owner, c.status == PENDING,
            ).values(owner=owner, lease_until=lease_until))
            if taken.rowcount != 1:  # pragma: no cover - the row lock (or SQLite's write lock) prevents this
                return InFlight(retry_after=1)
            return Claimed(owner)

    @staticmethod
    def complete(conn: Connection, client_id: str, key: str, owner: str, record_id: str, status: int,
                 headers: dict[str, str]) -> None:
        """Inside the record's transaction: mark the key done with its record (a replay rebuilds the body from
        the record, so no copy of the response is kept); fails (rolling the record back) if not the owner."""
        c = idempotency_keys.c
        done = conn.execute(update(idempotency_keys).where(
            _where(client_id, key), c.owner == owner, c.status == PENDING,
        ).values(status=COMPLETE, record_id=record_id, response_status=status,
                 response_headers=json.dumps(headers, sort_keys=True)))
        if done.rowcount != 1:
            raise LeaseLost(f"idempotency key claim for client {client_id} was lost before the record committed")

    def release(self, client_id: str, key: str, owner: str) -> None:
        """Forget a claim whose request failed (never a completed key)."""
        c = idempotency_keys.c
        with self.db.begin() as conn:
            conn.execute(delete(idempotency_keys).where(_where(client_id, key), c.owner == owner,
                                                        c.status == PENDING))

    def purge_expired(self) -> int:
        """Forget every expired key (``advisor serve`` runs it at start; claims purge their client's)."""
        with self.db.begin() as conn:
            result = conn.execute(delete(idempotency_keys).where(idempotency_keys.c.expires_at < stored_time(
                datetime.now(UTC))))
        return int(result.rowcount)
