"""One record with its neighbours, as the verification route reports it."""

from __future__ import annotations

from typing import Annotated

import msgspec

from advisor.audit.formats import GENESIS_HASH
from advisor.audit.merkle import ProofError, leaf_hash, verify_inclusion
from advisor.audit.verify.heads import check_head, covers, pending_of
from advisor.audit.verify.keys import PublicKey
from advisor.audit.verify.model import Failure, Problem, StoredHead, StoredRecord
from advisor.audit.verify.record import check_record, jws_header


class Neighbour(msgspec.Struct, frozen=True, kw_only=True):
    """The record before or after the one verified."""

    seq: Annotated[int, msgspec.Meta(description="Its position")]
    hash: Annotated[str, msgspec.Meta(description="Its own hash")]
    linked: Annotated[bool, msgspec.Meta(
        description="The chain link holds: the predecessor's hash is this record's prev_hash, or the successor's "
                    "prev_hash is this record's hash")]


class KeyStatus(msgspec.Struct, frozen=True, kw_only=True):
    """The key that signed the record: named in its JWS header, or (a record signed per commit) the key that
    signed its commit's checkpoint."""

    kid: Annotated[str | None, msgspec.Meta(
        description="The key id in the JWS header, or of the commit's checkpoint (null when unreadable)")]
    alg: Annotated[str | None, msgspec.Meta(
        description="The JWS algorithm in the header; Ed25519 for a checkpoint (a C2SP signed note)")]
    known: Annotated[bool, msgspec.Meta(description="The key is in the log's key set")]
    not_before: Annotated[str | None, msgspec.Meta(description="Start of the key's validity window (RFC 3339)")]
    not_after: Annotated[str | None, msgspec.Meta(
        description="End of the key's validity window (RFC 3339); null while it is the active key")]


class Checks(msgspec.Struct, frozen=True, kw_only=True):
    """Each check of one record: true when it passed."""

    signature: Annotated[bool, msgspec.Meta(description=(
        "The Ed25519 signature verifies: the record's JWS over its stored payload, or (a record signed per commit) "
        "its commit's checkpoint, with the record's inclusion proof leading to the checkpoint's root"))]
    key_known: Annotated[bool, msgspec.Meta(description="The signing key is in the log's key set")]
    key_window: Annotated[bool, msgspec.Meta(description="created_at is inside the key's validity window")]
    canonical: Annotated[bool, msgspec.Meta(description="The payload is RFC 8785 canonical JSON")]
    hash: Annotated[bool, msgspec.Meta(description="The payload hashes to the stored hash")]
    columns: Annotated[bool, msgspec.Meta(description="The stored columns say what the signed payload says")]
    position: Annotated[bool, msgspec.Meta(description="The record is signed for the position it is stored at")]
    origin: Annotated[bool, msgspec.Meta(
        description="The record is signed for this log (name, JWS type and algorithm)")]
    predecessor: Annotated[bool, msgspec.Meta(description="The record before exists and links to this one")]
    successor: Annotated[bool, msgspec.Meta(
        description="The record after exists and links to this one (true for the newest record)")]


class RecordVerification(msgspec.Struct, frozen=True, kw_only=True):
    """One stored record checked on its own and against its neighbours."""

    id: Annotated[str, msgspec.Meta(description="The assessment's id")]
    seq: Annotated[int, msgspec.Meta(description="Its position in the log")]
    hash: Annotated[str, msgspec.Meta(description="Its stored hash")]
    prev_hash: Annotated[str, msgspec.Meta(description="Its stored link to the record before")]
    valid: Annotated[bool, msgspec.Meta(description="Every check passed and no problem was found")]
    checks: Annotated[Checks, msgspec.Meta(description="Each check and whether it passed")]
    key: Annotated[KeyStatus, msgspec.Meta(description="The key that signed it")]
    # seq 0 is the genesis hash; null when the record before is missing
    predecessor: Annotated[Neighbour | None, msgspec.Meta(
        description="The record before (seq 0 is the genesis hash); null when it is missing")]
    successor: Annotated[Neighbour | None, msgspec.Meta(
        description="The record after; null for the newest record, or when it is missing")]
    problems: Annotated[list[Problem], msgspec.Meta(description="Every problem found, first the record's own")]


def commit_signature(record: StoredRecord, keys: dict[str, PublicKey], log_name: str | None,
                     checkpoint: tuple[StoredHead, list[bytes]] | None) -> tuple[list[Failure], str | None]:
    """A record signed per commit: its commit's checkpoint (the first stored at or after it) and the record's
    inclusion path in that tree. The failures, and the kid that signed the checkpoint."""
    if checkpoint is None:
        return [Failure("signature", "unsigned", f"record {record.seq} has no JWS and no signed checkpoint at or "
                                                 "after it is stored")], None
    stored, path = checkpoint
    head = check_head(stored, keys, log_name, record if record.seq == stored.size else None)
    if isinstance(head, Failure):
        return [head._replace(check="signature")], None
    try:
        verify_inclusion(record.seq - 1, head.size, leaf_hash(record.payload.encode("utf-8")), path,
                         bytes.fromhex(head.root))
    except ProofError as exc:
        return [Failure("signature", "edited", f"not in the tree its commit's checkpoint signs: {exc}")], head.kid
    wrong_key = covers(pending_of(record), head)
    return ([] if wrong_key is None else [wrong_key]), head.kid


def verify_one(record: StoredRecord, keys: dict[str, PublicKey], log_name: str | None, *,
               predecessor_hash: str | None, successor_prev_hash: str | None, successor_hash: str | None,
               head_seq: int, checkpoint: tuple[StoredHead, list[bytes]] | None = None) -> RecordVerification:
    """One record's own checks and its two links (``None`` for a neighbour that is not stored).

    ``checkpoint``: for a record without a JWS, its commit's stored head and its inclusion path in that tree."""
    failures = check_record(record, keys, log_name)
    signer: str | None = None
    if record.jws is None:
        signed, signer = commit_signature(record, keys, log_name, checkpoint)
        failures.extend(signed)
    problems = [Problem(seq=record.seq, kind=f.kind, detail=f.detail) for f in failures]
    if record.seq == 1:
        predecessor_hash = GENESIS_HASH
    predecessor = None if predecessor_hash is None else Neighbour(
        seq=record.seq - 1, hash=predecessor_hash, linked=record.prev_hash == predecessor_hash)
    if predecessor is None:
        problems.append(Problem(seq=record.seq, kind="deleted", detail=f"record {record.seq - 1} is missing"))
    elif not predecessor.linked:
        problems.append(Problem(seq=record.seq, kind="forged", detail=f"prev_hash is not record "
                                                                      f"{record.seq - 1}'s hash"))
    successor = None if successor_prev_hash is None or successor_hash is None else Neighbour(
        seq=record.seq + 1, hash=successor_hash, linked=successor_prev_hash == record.hash)
    if successor is None and record.seq < head_seq:
        problems.append(Problem(seq=record.seq + 1, kind="deleted", detail=f"record {record.seq + 1} is missing"))
    elif successor is not None and not successor.linked:
        problems.append(Problem(seq=record.seq + 1, kind="forged", detail=f"record {record.seq + 1} does not "
                                                                          "link to this record's hash"))
    failed = {f.check for f in failures}
    kid: object
    alg: object
    if record.jws is None:
        kid, alg = signer, "Ed25519"
    else:
        parts = record.jws.split(".")
        header = jws_header(parts[0]) if len(parts) == 3 else None
        kid, alg = (header.get("kid"), header.get("alg")) if header is not None else (None, None)
    key = keys.get(kid) if isinstance(kid, str) else None
    return RecordVerification(
        id=record.id, seq=record.seq, hash=record.hash, prev_hash=record.prev_hash, valid=not problems,
        checks=Checks(signature="signature" not in failed and key is not None, key_known=key is not None,
                      key_window="key_window" not in failed and key is not None,
                      canonical="canonical" not in failed, hash="hash" not in failed,
                      columns="columns" not in failed, position="position" not in failed,
                      origin="origin" not in failed, predecessor=predecessor is not None and predecessor.linked,
                      successor=(successor.linked if successor is not None else record.seq >= head_seq)),
        key=KeyStatus(kid=kid if isinstance(kid, str) else None, alg=alg if isinstance(alg, str) else None,
                      known=key is not None, not_before=key.not_before if key else None,
                      not_after=key.not_after if key else None),
        predecessor=predecessor, successor=successor, problems=problems)
