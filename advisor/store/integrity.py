"""Reads that check a record against the Merkle tree before anything serves it.

One query for the record and its leaf, one for its commit's tree head (the first stored at or after
it: the checkpoint that signs it), one for the leaf's audit path in that tree: a few index seeks,
so every read can afford them. The path and the head are the record's receipt.
"""

from __future__ import annotations

from typing import Any, NamedTuple

from sqlalchemy import Connection, and_, select

from advisor.audit.integrity import integrity_failure
from advisor.audit.merkle import inclusion_ranges, leaf_hash, nodes_for, range_hash
from advisor.store.errors import RecordIntegrityError, TreeIncomplete
from advisor.store.tables import merkle_nodes, records
from advisor.store.tree import commit_head, read_nodes


class Head(NamedTuple):
    size: int
    root: bytes
    note: str


class Proven(NamedTuple):
    """A record that passed: its leaf, and (when a tree head covers it) its path to that head."""

    seq: int
    leaf_hash: bytes
    head: Head | None
    path: list[bytes] | None


def with_leaf(*columns: Any) -> Any:
    """``select(columns..., leaf)``: the record's columns and its stored leaf hash (NULL when missing)."""
    return select(*columns, merkle_nodes.c.hash.label("leaf")).select_from(records.outerjoin(
        merkle_nodes, and_(merkle_nodes.c.level == 0, merkle_nodes.c.idx == records.c.seq - 1)))


def head_of(conn: Connection, seq: int) -> Head | None:
    """The signed tree head of record ``seq``'s group commit (the first stored at or after it)."""
    found = commit_head(conn, seq)
    return None if found is None else Head(found[0], bytes.fromhex(found[1]), found[2])


def check_row(conn: Connection, row: Any) -> Proven:
    """``row`` (``id``, ``seq``, ``payload``, ``hash``, ``leaf``) checked; ``RecordIntegrityError`` if it fails.

    The place in the tree is checked against its commit's signed tree head; an old record no stored head
    covers (a log from before revision 0004, not appended to since) is checked against its leaf alone.
    """
    seq, payload = int(row.seq), row.payload.encode("utf-8")
    head = head_of(conn, seq)
    stored = None if row.leaf is None else bytes(row.leaf)
    path = root = None
    size = 0
    if head is not None and head.size >= seq and stored is not None:
        size, root = head.size, head.root
        ranges = inclusion_ranges(seq - 1, size)
        try:
            nodes = read_nodes(conn, nodes_for(ranges))
        except TreeIncomplete as exc:
            raise RecordIntegrityError(str(row.id), seq, str(exc)) from None
        path = [range_hash(start, end, nodes) for start, end in ranges]
    reason = integrity_failure(payload, str(row.hash), stored, seq=seq, size=size, path=path, root=root)
    if reason is not None:
        raise RecordIntegrityError(str(row.id), seq, reason)
    return Proven(seq, leaf_hash(payload), head if path is not None else None, path)
