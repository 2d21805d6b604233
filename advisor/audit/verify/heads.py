"""Signed tree heads in the walk: the per-commit signatures that cover records without a JWS of their own.

From revision 0008 a record is not signed by itself: its group commit signs one checkpoint (a C2SP
signed note over the RFC 9162 root of the tree the commit ends), stored in ``tree_heads`` and
exported after the commit's last record. The verifier checks each stored head where it comes in the
log: its note's signature with a key of the JWKS valid when the commit was made, and (in ``stitch``,
as the walk's Merkle tree grows to its size) its root against the root of the records verified. A
record without a JWS is sound only once a head at or after it verifies: a head's root commits to
every leaf before its size, so the record's bytes are then the signed ones. None does: ``unsigned``.
"""

from __future__ import annotations

from typing import NamedTuple

import msgspec

from advisor.audit.verify.keys import PublicKey, parse_time
from advisor.audit.verify.model import Failure, StoredHead, StoredRecord


class VerifiedHead(NamedTuple):
    """A stored tree head whose signature verified: what ``stitch`` compares against the walk's tree."""

    size: int
    root: str  # hex
    kid: str


class Pending(NamedTuple):
    """The first record without a JWS that no verified head covers yet, and the key its payload names."""

    seq: int
    key_id: str | None


def check_head(head: StoredHead, keys: dict[str, PublicKey], log_name: str | None,
               last: StoredRecord | None) -> VerifiedHead | Failure:
    """A stored head's signature, size and key window (``last``: the record before it, at its size)."""
    from advisor.audit.checkpoint import CheckpointError, UnknownCheckpointKey, verify_note  # imports this package

    where = f"the signed checkpoint stored at size {head.size}"
    try:
        _, size, root, kid = verify_note(head.note, keys, log_name)
    except UnknownCheckpointKey as exc:
        return Failure("checkpoint", "unknown_key", f"{where}: {exc}")
    except CheckpointError as exc:
        return Failure("checkpoint", "edited", f"{where} cannot be trusted: {exc}")
    if size != head.size:
        return Failure("checkpoint", "edited", f"{where} is signed for size {size}")
    if last is not None and last.seq == size and last.created_at is not None:
        key = keys[kid]
        try:
            covered = key.covers(parse_time(last.created_at))
        except ValueError:
            covered = False
        if not covered:
            return Failure("checkpoint", "retired_key", f"{where} is signed by key {kid} outside its validity "
                                                        f"window {key.window()} (its commit is of {last.created_at})")
    return VerifiedHead(size, root.hex(), kid)


def covers(pending: Pending | None, head: VerifiedHead) -> Failure | None:
    """The first head after records without a JWS is their commit's: it must be signed by the key they name."""
    if pending is None or pending.key_id is None or pending.key_id == head.kid:
        return None
    return Failure("key_known", "forged", f"record {pending.seq} names key {pending.key_id}, but the checkpoint of "
                                          f"its commit (size {head.size}) is signed by key {head.kid}")


class _KeyId(msgspec.Struct):
    key_id: str | None = None


_key_id = msgspec.json.Decoder(_KeyId)


def pending_of(record: StoredRecord) -> Pending:
    """The record as the first one a head must cover (its key from the column, or from its bytes in an export)."""
    if record.key_id is not None:
        return Pending(record.seq, record.key_id)
    try:
        return Pending(record.seq, _key_id.decode(record.payload).key_id)
    except (msgspec.DecodeError, msgspec.ValidationError):  # pragma: no cover - check_record failed it already
        return Pending(record.seq, None)
