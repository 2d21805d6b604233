"""The Merkle tree's rows: extended by the writer in each group commit, read for proofs and checkpoints.

Every statement on ``merkle_nodes`` and ``tree_heads`` is here; the hashing and the proof shapes are
in ``advisor.audit.merkle``. Appends hold the chain-head lock, so the frontier read at the start of
a commit is the tree's, and a commit's nodes, records and checkpoint become visible together.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence

from sqlalchemy import Connection, Engine, bindparam, insert, select

from advisor.audit.checkpoint import Checkpoint, sign_checkpoint
from advisor.audit.keys import SigningKey
from advisor.audit.merkle import (
    EMPTY_ROOT,
    Node,
    ProofError,
    batch_inclusion_proofs,
    consistency_proof,
    consistency_ranges,
    frontier_nodes,
    frontier_root,
    inclusion_proof,
    inclusion_ranges,
    nodes_for,
)
from advisor.store.database import Database
from advisor.store.errors import TreeIncomplete
from advisor.store.keyring import KeyRing
from advisor.store.tables import chain_head, merkle_nodes, tree_heads


def read_nodes(conn: Connection, wanted: Iterable[Node]) -> dict[Node, bytes]:
    """The stored hashes of ``wanted`` perfect subtrees, in one query; ``TreeIncomplete`` if one is missing."""
    keys = sorted(set(wanted))
    if not keys:
        return {}
    # One primary-key seek per node: an OR of equalities (SQLite scans the table for a row-value IN), as
    # driver SQL: building it as SQLAlchemy expressions cost 1 ms a proof, more than the seeks.
    mark = "?" if conn.dialect.paramstyle == "qmark" else "%s"
    where = " OR ".join([f"(level = {mark} AND idx = {mark})"] * len(keys))
    found = {(int(level), int(idx)): bytes(digest) for level, idx, digest in conn.exec_driver_sql(
        f"SELECT level, idx, hash FROM merkle_nodes WHERE {where}",  # noqa: S608 (placeholders only)
        tuple(value for key in keys for value in key))}
    missing = [key for key in keys if key not in found]
    if missing:
        raise TreeIncomplete(f"the Merkle tree lacks node(s) {missing[:3]}")
    return found


def root_at(conn: Connection, size: int) -> bytes:
    """The Merkle root of the first ``size`` records, from at most 64 stored nodes."""
    if size == 0:
        return EMPTY_ROOT
    stored = read_nodes(conn, frontier_nodes(size))
    return frontier_root([stored[node] for node in frontier_nodes(size)])


def extend_tree(conn: Connection, size: int, leaves: Sequence[bytes], key: SigningKey,
                origin: str) -> tuple[Checkpoint, list[list[bytes]]]:
    """Inside an append's transaction: add ``leaves`` to a tree of ``size``, sign and store its new head; the
    head and each new leaf's inclusion path in its tree (computed from the frontier read here, no other read)."""
    stored = read_nodes(conn, frontier_nodes(size))
    created, frontier, paths = batch_inclusion_proofs(size, [stored[node] for node in frontier_nodes(size)], leaves)
    if created:
        conn.execute(insert(merkle_nodes), [{"level": level, "idx": index, "hash": digest}
                                            for level, index, digest in created])
    checkpoint = sign_checkpoint(origin, size + len(leaves), frontier_root(frontier), key)
    conn.execute(insert(tree_heads).values(size=checkpoint.size, root_hash=checkpoint.root_hash,
                                           key_id=checkpoint.key_id, note=checkpoint.note))
    return checkpoint, paths


def iter_heads(engine: Engine, up_to: int | None = None, batch: int = 1000) -> Iterator[tuple[int, str]]:
    """Every stored tree head ``(size, note)`` in size order (optionally up to ``up_to``), in bounded memory."""
    last = 0
    while True:
        query = select(tree_heads.c.size, tree_heads.c.note).where(tree_heads.c.size > last)
        if up_to is not None:
            query = query.where(tree_heads.c.size <= up_to)
        with engine.connect() as conn:
            rows = conn.execute(query.order_by(tree_heads.c.size).limit(batch)).all()
        if not rows:
            return
        for size, note in rows:
            yield int(size), str(note)
        last = int(rows[-1][0])


_COMMIT_HEAD = select(tree_heads.c.size, tree_heads.c.root_hash, tree_heads.c.note).where(
    tree_heads.c.size >= bindparam("seq")).order_by(tree_heads.c.size).limit(1)


def commit_head(conn: Connection, seq: int) -> tuple[int, str, str] | None:
    """``(size, root hex, note)`` of the checkpoint record ``seq``'s group commit signed: the first stored at or
    after it (one index seek on the primary key). None when none is stored (a log from before revision 0004)."""
    row = conn.execute(_COMMIT_HEAD, {"seq": seq}).first()
    return None if row is None else (int(row.size), str(row.root_hash), str(row.note))


def tree_size(conn: Connection) -> int:
    return int(conn.execute(select(chain_head.c.seq).where(chain_head.c.id == 1)).scalar_one())


def stored_checkpoint(conn: Connection, size: int) -> Checkpoint | None:
    """The checkpoint a group commit signed at exactly ``size``, if one did."""
    row = conn.execute(select(tree_heads).where(tree_heads.c.size == size)).first()
    if row is None:
        return None
    origin = str(row.note).split("\n", 1)[0]
    return Checkpoint(origin=origin, size=int(row.size), root_hash=str(row.root_hash), key_id=str(row.key_id),
                      note=str(row.note))


def checkpoint_of(conn: Connection, size: int, keyring: KeyRing, origin: str) -> Checkpoint:
    """A signed checkpoint at ``size``: the one its commit signed, else one signed now with the active key
    (a tree built by the migration, or sizes between commits asked for by an auditor)."""
    found = stored_checkpoint(conn, size)
    if found is not None and found.origin == origin:
        return found
    return sign_checkpoint(origin, size, root_at(conn, size), keyring.active(conn))


def current_checkpoint(db: Database, keyring: KeyRing, origin: str) -> Checkpoint:
    """The checkpoint of the whole log now (size, root and key read in one transaction)."""
    with db.connect() as conn:
        return checkpoint_of(conn, tree_size(conn), keyring, origin)


def prove_inclusion(conn: Connection, index: int, size: int) -> list[bytes]:
    """RFC 9162 inclusion proof of leaf ``index`` in the tree of ``size``: O(log n) rows, one query."""
    if size > tree_size(conn):
        raise ProofError(f"the log has fewer than {size} records")
    ranges = inclusion_ranges(index, size)
    return inclusion_proof(index, size, read_nodes(conn, nodes_for(ranges)))


def prove_consistency(conn: Connection, old: int, new: int) -> list[bytes]:
    """RFC 9162 consistency proof from size ``old`` to ``new``: O(log n) rows, one query."""
    if new > tree_size(conn):
        raise ProofError(f"the log has fewer than {new} records")
    if old == new:
        return []
    return consistency_proof(old, new, read_nodes(conn, nodes_for(consistency_ranges(old, new))))
