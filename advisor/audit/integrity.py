"""Is a stored record what the log committed to? The checks every read makes before serving one.

Pure: the store reads the record, its leaf and the path to a tree head; this says whether they agree.
A record that fails is never served as genuine (a ``record-integrity`` problem instead).
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping, Sequence
from typing import Any

import msgspec

from advisor.audit.fields import decode_fields
from advisor.audit.merkle import ProofError, leaf_hash, verify_inclusion


def integrity_failure(payload: bytes, chain_hash: str, stored_leaf: bytes | None, *, seq: int, size: int,
                      path: Sequence[bytes] | None, root: bytes | None) -> str | None:
    """Why record ``seq`` cannot be served (None when it can).

    Its bytes must hash to its leaf in the stored tree and to its chain hash; given a tree head
    (``size``, ``root``) and the leaf's audit path, the leaf must also be in that tree at its place.
    """
    if stored_leaf is None:
        return f"record {seq} has no leaf in the Merkle tree"
    leaf = leaf_hash(payload)
    if leaf != stored_leaf:
        return f"record {seq}'s stored bytes do not hash to its leaf in the Merkle tree"
    if hashlib.sha256(payload).hexdigest() != chain_hash:
        return f"record {seq}'s stored bytes do not hash to its chain hash"
    if path is not None and root is not None:
        try:
            verify_inclusion(seq - 1, size, leaf, path, root)
        except ProofError:
            return f"record {seq}'s leaf is not at its place in the tree of the latest checkpoint (size {size})"
    return None


def listed_failure(payload: bytes, chain_hash: str, stored_leaf: bytes | None, seq: int,
                   columns: Mapping[str, Any]) -> str | None:
    """Why a listed record must be shown as failed: its bytes against its leaf and chain hash, and the
    listed columns (queryable copies) against the signed payload. None when it can be listed."""
    reason = integrity_failure(payload, chain_hash, stored_leaf, seq=seq, size=0, path=None, root=None)
    if reason is not None:
        return reason
    try:
        signed = decode_fields(payload)
    except (msgspec.DecodeError, msgspec.ValidationError):
        return f"record {seq}'s stored bytes are not a signed record"
    if signed.seq != seq:
        return f"record {seq} is signed as record {signed.seq!r}"
    for column, value in signed.columns():
        if column in columns and columns[column] != value:
            return f"record {seq}'s column {column} disagrees with its signed payload"
    return None
