"""The verifier's database source: the records, the keys and the chain head read from the store.

The checks themselves are pure (``advisor.audit.verify``); this module only reads. When other
processes can open the database (``row_source``), the verifier's workers read their seq ranges
themselves; otherwise this process reads the records through the engine and ships them.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Sequence
from typing import Any

from sqlalchemy import Connection, Engine, select

from advisor.audit.merkle import ProofError
from advisor.audit.verify import (
    Anchor,
    Item,
    RecordVerification,
    StoredHead,
    StoredRecord,
    VerifyResult,
    interleave,
    load_keys,
    verify_one,
    verify_ranges,
    verify_records,
)
from advisor.store.database import Database
from advisor.store.errors import TreeIncomplete
from advisor.store.keyring import jwks as database_jwks
from advisor.store.repository import Repository
from advisor.store.rows import row_source
from advisor.store.tables import chain_head, records
from advisor.store.tree import commit_head, iter_heads, prove_inclusion, root_at


def record_from_row(row: Any) -> StoredRecord:
    return StoredRecord(seq=row.seq, id=row.id, prev_hash=row.prev_hash, hash=row.hash, payload=row.payload,
                        jws=row.jws, created_at=row.created_at, requester=row.requester,
                        organization=row.organization, decision=row.decision, strength=row.strength,
                        rules_digest=row.rules_digest, catalog_id=row.catalog_id, key_id=row.key_id,
                        kind=row.kind, subject=row.subject)


def verify_stored_record(db: Database, record_id: str, log_name: str) -> RecordVerification | None:
    """One stored record checked with its neighbours and the chain head (None: no such record).

    Read in one connection, so the record, its neighbours, the head and the keys are one view.
    """
    with db.connect() as conn:
        row = conn.execute(select(records).where(records.c.id == record_id)).first()
        if row is None:
            return None
        neighbours = {r.seq: r for r in conn.execute(
            select(records.c.seq, records.c.hash, records.c.prev_hash)
            .where(records.c.seq.in_([row.seq - 1, row.seq + 1])))}
        head_seq = int(conn.execute(select(chain_head.c.seq).where(chain_head.c.id == 1)).scalar_one())
        keys = load_keys(database_jwks(conn))
        checkpoint = None if row.jws is not None else _commit_checkpoint(conn, int(row.seq))
    before, after = neighbours.get(row.seq - 1), neighbours.get(row.seq + 1)
    return verify_one(record_from_row(row), keys, log_name,
                      predecessor_hash=None if before is None else str(before.hash),
                      successor_prev_hash=None if after is None else str(after.prev_hash),
                      successor_hash=None if after is None else str(after.hash), head_seq=head_seq,
                      checkpoint=checkpoint)


def _commit_checkpoint(conn: Connection, seq: int) -> tuple[StoredHead, list[bytes]] | None:
    """A record's commit checkpoint and its inclusion path there (empty when the tree lacks nodes: it fails)."""
    found = commit_head(conn, seq)
    if found is None:
        return None
    size, _, note = found
    try:
        path = prove_inclusion(conn, seq - 1, size)
    except (TreeIncomplete, ProofError):
        path = []
    return StoredHead(size, note), path


def database_records(engine: Engine, up_to: int | None = None, batch: int = 1000) -> Iterator[StoredRecord]:
    """Every record in seq order (optionally only up to ``up_to``), in bounded memory."""
    for row in Repository(engine).iter_rows(batch):
        if up_to is not None and row.seq > up_to:
            return
        yield record_from_row(row)


def database_log(engine: Engine, up_to: int | None = None, batch: int = 1000) -> Iterator[Item]:
    """Every record in seq order and each stored tree head right after the record at its size: what an export
    holds and what the verifier walks, in bounded memory (two keyset reads side by side). Heads past the last
    record read are left out: they are of records appended since, not read here."""
    heads = (StoredHead(size, note) for size, note in iter_heads(engine, up_to, batch))
    return interleave(database_records(engine, up_to, batch), heads, trailing=False)


def verify_database(engine: Engine, log_name: str, *, jwks: dict[str, Any] | None = None,
                    anchors: Sequence[Anchor] = (), workers: int | None = None, range_size: int = 2048,
                    progress: Callable[[int], None] | None = None,
                    records: Callable[[Engine], Iterable[Item]] = database_log) -> VerifyResult:
    """The whole log in a database, also against its own chain head (a cut the head still counts is caught).

    The log is cut into seq ranges of about ``range_size`` records, checked by this process and
    ``workers - 1`` worker processes (see ``verify_ranges``). When other processes cannot open the
    database, ``records`` reads it here instead.

    ``jwks`` pins the keys to trust; by default they are read from the same database, which an
    attacker with write access could extend: an auditor keeps an exported JWKS and passes it.
    """
    if jwks is None:
        with engine.connect() as conn:
            jwks = database_jwks(conn)
    size, head_hash = Repository(engine).head()
    try:
        with engine.connect() as conn:  # the stored tree must be the tree of the stored records
            root = root_at(conn, size).hex()
    except TreeIncomplete:
        root = "missing (the stored tree lacks nodes)"  # never a root: the log fails at its head
    anchors = [Anchor(size=size, hash=head_hash, label="database's chain head and stored tree", root=root),
               *anchors]
    source = row_source(engine)
    if source is None:  # workers cannot open it: this process reads it and ships the records
        return verify_records(records(engine), jwks, log_name=log_name, anchors=anchors, workers=workers,
                              progress=progress)
    return verify_ranges(source, jwks, log_name, anchors, workers=workers, range_size=range_size,
                         progress=progress)
