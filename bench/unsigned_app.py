"""The baseline for the signing overhead: ``POST /assess`` storing each record unsigned and unchained.

Everything else is the real app (rules, pricing, canonical bytes, group commit, the same insert, the 201
built from what the writer returned): only the hash, the chain head (read, link, update), the Merkle tree
and the commit's signed checkpoint (one Ed25519 signature per commit since migration 0008), and the
receipt's checkpoint and path are left out. A replay or a GET reads the record back unchecked.
"""

from __future__ import annotations

import itertools
from collections.abc import Sequence

from litestar import Litestar
from sqlalchemy import Connection, func, insert, select

from advisor.app import Strategies
from advisor.app import create_app as create_signed_app
from advisor.audit.checkpoint import Checkpoint
from advisor.audit.formats import utc_now
from advisor.audit.record import Envelope, splice_payload
from advisor.store import writer
from advisor.store.database import Database
from advisor.store.keyring import KeyRing
from advisor.store.repository import Repository
from advisor.store.tables import records
from advisor.workers import writer as writer_process

_seq: list[itertools.count[int]] = []
_NO_CHECKPOINT = Checkpoint(origin="", size=0, root_hash="", key_id="", note="")  # nothing is signed here


def unsigned_batch(conn: Connection, _keyring: KeyRing, log_name: str, drafts: Sequence[writer.Draft],
                   _db: Database) -> list[writer.Appended]:
    if not _seq:  # one writer process: a local counter instead of the chain head
        _seq.append(itertools.count(int(conn.execute(select(func.coalesce(func.max(records.c.seq), 0)))
                                        .scalar_one()) + 1))
    now = utc_now()
    rows, appended = [], []
    for draft in drafts:
        seq = next(_seq[0])
        envelope = Envelope(log=log_name, seq=seq, prev_hash="", id=draft.id, created_at=now,
                            requester=draft.requester, key_id="")
        raw = splice_payload(envelope, draft.recommendation_raw)
        marker = f"unsigned-{draft.id}"  # hash and prev_hash are UNIQUE columns
        columns = draft.columns
        assert columns is not None  # the bench appends assessments only
        rows.append({"seq": seq, "id": draft.id, "prev_hash": f"p-{marker}", "hash": marker, "created_at": now,
                     "requester": draft.requester, "organization": columns.organization,
                     "decision": columns.decision, "strength": columns.strength,
                     "rules_digest": columns.rules_digest, "catalog_id": columns.catalog_id, "key_id": "",
                     "payload": raw.decode("utf-8"), "jws": None})
        appended.append(writer.Appended(envelope=envelope, recommendation_raw=draft.recommendation_raw,
                                        hash=marker, checkpoint=_NO_CHECKPOINT, inclusion_path=[]))
    conn.execute(insert(records), rows)
    for draft, result in zip(drafts, appended, strict=True):
        if draft.also_write is not None:
            draft.also_write(conn, result)
    return appended


class UnsignedRepository(Repository):
    """Reads a stored record back as the real 201 reads it, without the integrity check or the receipt
    (there is no tree, no checkpoint and no signature to put in one)."""

    def get(self, record_id: str, requester: str | None = None) -> bytes | None:
        with self.engine.connect() as conn:
            payload = conn.execute(select(records.c.payload).where(records.c.id == record_id)).scalar_one_or_none()
        return None if payload is None else str(payload).encode()


UNSIGNED = Strategies(append_batch=unsigned_batch, writer_module="bench.unsigned_app", repository=UnsignedRepository)


def create_app() -> Litestar:
    return create_signed_app(strategies=UNSIGNED)


if __name__ == "__main__":  # the writer process of the unsigned app
    writer_process.main(append_batch=unsigned_batch)
