"""RFC 9162 proofs over HTTP: a record's inclusion in a checkpoint, and a checkpoint's consistency with a later one.

Each answer carries the signed checkpoint it is relative to, so a client needs only the published
key and any RFC 9162 verifier: hashes are base64 (as in the checkpoint), leaf indexes 0-based
(leaf ``i`` is record ``seq = i + 1``), paths in RFC 9162 order (from the leaf up).
"""

from __future__ import annotations

import base64
from typing import Annotated, Any

import msgspec
from litestar import Controller, Request, get
from litestar.di import NamedDependency
from litestar.exceptions import NotFoundException
from litestar.params import QueryParameter
from msgspec import Meta

from advisor.api.access import AUDIT, READ_ASSESSMENTS, allow, principal_of
from advisor.api.openapi_docs import INTEGRITY_RESPONSES, READ_RESPONSES
from advisor.api.problems import invalid_field, problem
from advisor.api.strict_json import PathText
from advisor.audit.checkpoint import Checkpoint
from advisor.audit.merkle import ProofError
from advisor.settings import Settings
from advisor.store.database import Database
from advisor.store.errors import SigningUnavailable, TreeIncomplete
from advisor.store.keyring import KeyRing
from advisor.store.repository import Repository
from advisor.store.tree import checkpoint_of, prove_consistency, prove_inclusion, tree_size

MAX_SIZE = 2**53 - 1  # far beyond any log; exact in a JSON number (the document's bounds are read as floats)


def b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


class InclusionProof(msgspec.Struct, frozen=True, kw_only=True):
    """The record's leaf hash, its audit path, and the checkpoint whose root the path leads to."""

    id: Annotated[str, Meta(description="The assessment's id")]
    seq: Annotated[int, Meta(description="Its position in the log (from 1)")]
    leaf_index: Annotated[int, Meta(description="Its RFC 9162 leaf index (seq - 1)")]
    tree_size: Annotated[int, Meta(description="The size of the tree the proof is in")]
    leaf_hash: Annotated[str, Meta(description="base64 SHA-256(0x00 || the record's stored signed bytes)")]
    inclusion_path: Annotated[list[str], Meta(description="RFC 9162 inclusion proof: base64 hashes, leaf up")]
    checkpoint: Annotated[Checkpoint, Meta(description="The signed checkpoint of the tree at tree_size")]


class ConsistencyProof(msgspec.Struct, frozen=True, kw_only=True, rename={"first": "from", "second": "to"}):
    """RFC 9162 PROOF(from, D[to]) and the checkpoint at ``to`` (the one at ``from`` is the auditor's own)."""

    first: Annotated[int, Meta(description="The older tree size")]
    second: Annotated[int, Meta(description="The newer tree size")]
    consistency_path: Annotated[list[str], Meta(description="RFC 9162 consistency proof: base64 hashes")]
    checkpoint: Annotated[Checkpoint, Meta(description="The signed checkpoint of the tree at `to`")]


def _unavailable(exc: Exception) -> Exception:
    if isinstance(exc, SigningUnavailable):
        return problem(503, "signing-unavailable", "Signing unavailable", str(exc), headers={"Retry-After": "5"})
    return problem(503, "tree-unavailable", "Merkle tree unavailable", "The log's Merkle tree is incomplete "
                   "here (not migrated, or damaged); an operator must run `advisor migrate` and `advisor verify`.")


def _within(log_size: int, wanted: int | None) -> int:
    """The tree size asked for (default: the whole log); 404 for a tree the log has not reached."""
    if wanted is None:
        return log_size
    if wanted > log_size:
        raise NotFoundException(f"no tree of size {wanted}: the log has {log_size} records")
    return wanted


class ProofController(Controller):
    tags = ["audit"]

    @get("/assessments/{record_id:str}/proof", summary="Prove a stored assessment is in the log",
         description="An RFC 9162 inclusion proof of the record (its stored bytes as the leaf) in the tree of "
         "`tree_size` records (default: the whole log now), with the signed checkpoint of that tree. The record's "
         "bytes are checked against its leaf first: a record that fails is a `record-integrity` problem.",
         responses=INTEGRITY_RESPONSES, operation_id="proveInclusion", sync_to_thread=True,
         opt=allow(READ_ASSESSMENTS))
    def inclusion(self, record_id: PathText, request: Request[Any, Any, Any], db: NamedDependency[Database],
                  repository: NamedDependency[Repository], keyring: NamedDependency[KeyRing],
                  settings: NamedDependency[Settings],
                  tree_size_: Annotated[int | None, QueryParameter(name="tree_size", ge=1, le=MAX_SIZE)] = None,
                  ) -> InclusionProof:
        principal = principal_of(request)
        try:
            with db.connect() as conn:
                leaf = repository.leaf(conn, record_id, None if principal.reads_all else principal.client_id)
                if leaf is None:
                    raise NotFoundException(f"no assessment {record_id}")
                size = _within(tree_size(conn), tree_size_)
                try:
                    path = prove_inclusion(conn, leaf.seq - 1, size)
                except ProofError as exc:
                    raise invalid_field(f"no inclusion proof: {exc}", "tree_size") from None
                checkpoint = checkpoint_of(conn, size, keyring, settings.log_name)
        except (SigningUnavailable, TreeIncomplete) as exc:
            raise _unavailable(exc) from None
        return InclusionProof(id=record_id, seq=leaf.seq, leaf_index=leaf.seq - 1, tree_size=size,
                              leaf_hash=b64(leaf.leaf_hash), inclusion_path=[b64(h) for h in path],
                              checkpoint=checkpoint)

    @get("/audit/consistency", summary="Prove the log only grew between two sizes",
         description="An RFC 9162 consistency proof from the tree of `from` records to the tree of `to` records "
         "(default: the whole log now), with the signed checkpoint at `to`. With a checkpoint kept from earlier "
         "at `from`, it shows no record up to `from` was changed or removed, without reading any record.",
         responses=READ_RESPONSES, operation_id="proveConsistency", sync_to_thread=True, opt=allow(AUDIT))
    def consistency(self, db: NamedDependency[Database], keyring: NamedDependency[KeyRing],
                    settings: NamedDependency[Settings],
                    first: Annotated[int, QueryParameter(name="from", ge=1, le=MAX_SIZE)],
                    second: Annotated[int | None, QueryParameter(name="to", ge=1, le=MAX_SIZE)] = None,
                    ) -> ConsistencyProof:
        try:
            with db.connect() as conn:
                size = _within(tree_size(conn), second)
                if first > size:
                    if second is None:
                        raise NotFoundException(f"no tree of size {first}: the log has {size} records")
                    raise invalid_field(f"`from` ({first}) is larger than `to` ({size})", "from")
                try:
                    path = prove_consistency(conn, first, size)
                except ProofError as exc:
                    raise invalid_field(f"no consistency proof: {exc}", "to") from None
                checkpoint = checkpoint_of(conn, size, keyring, settings.log_name)
        except (SigningUnavailable, TreeIncomplete) as exc:
            raise _unavailable(exc) from None
        return ConsistencyProof(first=first, second=size, consistency_path=[b64(h) for h in path],
                                checkpoint=checkpoint)
