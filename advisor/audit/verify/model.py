"""The verifier's data: a stored record, the problems it reports, and the errors of its inputs."""

from __future__ import annotations

from typing import Annotated, Literal, NamedTuple

import msgspec

Kind = Literal["edited", "deleted", "reordered", "forged", "unknown_key", "retired_key", "truncated", "unsigned"]
# Which part of a record a failed check is about (the verification route reports each).
Check = Literal["signature", "key_known", "canonical", "position", "hash", "columns", "origin", "key_window",
                "predecessor", "checkpoint"]


class Problem(msgspec.Struct, frozen=True, kw_only=True):
    """A problem found in the log."""

    seq: Annotated[int, msgspec.Meta(description="The position where it shows")]
    kind: Annotated[Kind, msgspec.Meta(
        description="What happened: edited, deleted, reordered, forged, unknown_key, retired_key, truncated or "
                    "unsigned (a record without its own JWS that no signed checkpoint covers)")]
    detail: Annotated[str, msgspec.Meta(description="What exactly was found, in words")]


class Failure(NamedTuple):
    check: Check
    kind: Kind
    detail: str


class StoredRecord(NamedTuple):
    """One row of ``records``; an export line carries only the first six fields (the rest are None).

    ``jws`` is None for a record signed by its commit's checkpoint (revision 0008 on), not by itself."""

    seq: int
    id: str
    prev_hash: str
    hash: str
    payload: str
    jws: str | None  # detached ("header..signature") as stored, or attached (compact) as exported
    created_at: str | None = None
    requester: str | None = None
    organization: str | None = None
    decision: str | None = None
    strength: str | None = None
    rules_digest: str | None = None
    catalog_id: str | None = None
    key_id: str | None = None
    kind: str | None = None  # "assessment" or "review" (revision 0007); None on an export line
    subject: str | None = None


class StoredHead(NamedTuple):
    """A signed tree head the log stored (a ``tree_heads`` row, an export's checkpoint line): the C2SP signed
    note of the tree its group commit ended, at ``size``. It comes right after the record at ``size``."""

    size: int
    note: str


class ExportLine(msgspec.Struct, frozen=True, kw_only=True):
    """One line of ``advisor export``: the signed payload exactly as stored, and its attached JWS (none for a
    record signed by its commit's checkpoint)."""

    seq: int
    id: str
    hash: str
    prev_hash: str
    payload: str
    jws: str | None = None


class CheckpointLine(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """A line of ``advisor export`` after the last record of a group commit: the commit's signed checkpoint."""

    size: int
    checkpoint: str  # the C2SP signed note


class VerifyResult(msgspec.Struct, frozen=True, kw_only=True):
    records: int
    last_seq: int
    last_hash: str
    problem: Problem | None

    @property
    def ok(self) -> bool:
        return self.problem is None


class JwksError(ValueError):
    """The JWKS itself is unusable (not Ed25519, a kid that is not its thumbprint, a bad window)."""


class MalformedExport(ValueError):
    def __init__(self, line: int, reason: str) -> None:
        super().__init__(f"line {line} of the export is not a record: {reason}")
        self.line = line
