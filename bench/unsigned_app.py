"""The baseline for the signing overhead: ``POST /assess`` storing each record unsigned and unchained.

Everything else is the real app (rules, pricing, canonical bytes, group commit, the same insert, the
record read back for the 201): only the hash, the Ed25519 signature, the chain head (read, link,
update), the Merkle tree and its signed checkpoint, and the read's integrity check and receipt are left out.
"""

from __future__ import annotations

import itertools
from collections.abc import Sequence

import anyio.to_thread
from litestar import Litestar
from sqlalchemy import Connection, func, insert, select

from advisor import app as advisor_app
from advisor.api import assess
from advisor.api.deps import Services
from advisor.audit.keyring import KeyRing, utc_now
from advisor.audit.record import Envelope, splice_payload
from advisor.store import writer, writer_process
from advisor.store.tables import records

_seq: list[itertools.count[int]] = []


def unsigned_batch(conn: Connection, _keyring: KeyRing, log_name: str, drafts: Sequence[writer.Draft],
                   _sqlite: bool) -> list[writer.Appended]:
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
                     "payload": raw.decode("utf-8"), "jws": ".."})
        appended.append(writer.Appended(envelope=envelope, recommendation_raw=draft.recommendation_raw,
                                        hash=marker, jws="..", compact_jws=".."))
    conn.execute(insert(records), rows)
    for draft, result in zip(drafts, appended, strict=True):
        if draft.also_write is not None:
            draft.also_write(conn, result)
    return appended


async def unsigned_served(services: Services, record_id: str, _minimal: bool) -> tuple[bytes, dict[str, str]]:
    """The stored record read back as the real 201 reads it, without the integrity check or the receipt
    (there is no tree, no checkpoint and no signature to put in one)."""

    def read() -> bytes:
        with services.engine.connect() as conn:
            return str(conn.execute(select(records.c.payload).where(records.c.id == record_id)).scalar_one()).encode()

    return await anyio.to_thread.run_sync(read), {}


def create_app() -> Litestar:
    writer.append_batch = unsigned_batch  # type: ignore[assignment]  # ChainWriter looks it up per batch
    assess.served = unsigned_served  # type: ignore[assignment]  # the handler looks it up per request
    writer_process.WriterProcess.child_module = "bench.unsigned_app"  # a writer process appends unsigned too
    return advisor_app.create_app()


if __name__ == "__main__":  # the writer process of the unsigned app
    writer.append_batch = unsigned_batch  # type: ignore[assignment]
    writer_process.main()
