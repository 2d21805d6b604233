"""Streaming verification of the signed log, from the database or from an export file.

Each record is checked on its own (canonical bytes, hash, columns against the signed payload,
JWS header, signature, key window) and in the chain (sequence without gaps, each ``prev_hash``
equal to the previous hash, time never running backwards, the hash at each checkpoint's size).
The log is cut into runs of consecutive records (seq ranges of a database, chunks of an export
file), checked by this process and by worker processes, each run entirely except its first
record's place in the chain, which ``stitch`` checks here when it joins the runs in log order.
A database's workers read their ranges themselves, so no record crosses between processes. Only
a few runs are in flight at once, so memory stays flat whatever the log's length. The first
problem in log order is reported, with one kind:

``edited``       stored bytes changed after signing (hash, signature, column or JWS mismatch)
``deleted``      a gap in the sequence (reported at the record after the gap) whose records are nowhere else
``reordered``    a record signed for another position (its signed ``seq`` is not where it is), or an
                 export's lines out of order (the missing records come later in the file)
``forged``       inserted or forged: validly signed but not a record of this chain (another log,
                 another type, an algorithm never accepted, or a fork that does not link)
``unknown_key``  signed by a key the JWKS does not list
``retired_key``  signed by a known key outside its validity window (``nbf``..``exp``)
``truncated``    shorter than a checkpoint says, or different at the checkpoint's size
"""

from __future__ import annotations

import binascii
import hashlib
import json
import os
from collections import deque
from collections.abc import Callable, Iterable, Iterator, Sequence
from concurrent.futures import Executor, Future
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, Literal, NamedTuple, Protocol, TypeVar

import msgspec
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from advisor.audit.canonical import decode_canonical
from advisor.audit.jws import ACCEPTED_ALGS, RECORD_TYPE
from advisor.audit.keys import b64url_decode_strict, public_key_from_jwk, thumbprint
from advisor.audit.merkle import Frontier, leaf_hash
from advisor.audit.rows import INT64_MAX, RowSource, row_source

if TYPE_CHECKING:
    from sqlalchemy import Engine

# ``advisor.audit.record.GENESIS_HASH`` (a test holds them equal): importing that module would pull
# the whole domain model into every verifier worker.
GENESIS_HASH = "0" * 64

Kind = Literal["edited", "deleted", "reordered", "forged", "unknown_key", "retired_key", "truncated"]
# Which part of a record a failed check is about (the verification route reports each).
Check = Literal["signature", "key_known", "canonical", "position", "hash", "columns", "origin", "key_window",
                "predecessor", "checkpoint"]


class Problem(msgspec.Struct, frozen=True, kw_only=True):
    """A problem found in the log."""

    seq: Annotated[int, msgspec.Meta(description="The position where it shows")]
    kind: Annotated[Kind, msgspec.Meta(
        description="What happened: edited, deleted, reordered, forged, unknown_key, retired_key or truncated")]
    detail: Annotated[str, msgspec.Meta(description="What exactly was found, in words")]


class Failure(NamedTuple):
    check: Check
    kind: Kind
    detail: str


class StoredRecord(NamedTuple):
    """One row of ``records``; an export line carries only the first six fields (the rest are None)."""

    seq: int
    id: str
    prev_hash: str
    hash: str
    payload: str
    jws: str  # detached ("header..signature") as stored, or attached (compact) as exported
    created_at: str | None = None
    requester: str | None = None
    organization: str | None = None
    decision: str | None = None
    strength: str | None = None
    rules_digest: str | None = None
    catalog_id: str | None = None
    key_id: str | None = None
    kind: str | None = None  # "assessment" or "review" (revision 0006); None on an export line
    subject: str | None = None


class ExportLine(msgspec.Struct, frozen=True, kw_only=True):
    """One line of ``advisor export``: the signed payload exactly as stored, and its attached JWS."""

    seq: int
    id: str
    hash: str
    prev_hash: str
    payload: str
    jws: str


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


# --- keys -------------------------------------------------------------------------------------

def parse_time(text: str) -> datetime:
    """RFC 3339 with an offset (``Z`` included); a naive time is refused, never guessed."""
    value = datetime.fromisoformat(text)
    if value.tzinfo is None:
        raise ValueError(f"{text!r} has no UTC offset")
    return value


@dataclass(frozen=True)
class PublicKey:
    kid: str
    key: Ed25519PublicKey
    not_before: str | None
    not_after: str | None
    nbf: datetime | None
    exp: datetime | None

    def window(self) -> str:
        return f"{self.not_before or '-inf'} .. {self.not_after or 'now'}"

    def covers(self, when: datetime) -> bool:
        # Inclusive at both ends: rotation uses one instant as the old key's exp and the new key's nbf.
        return (self.nbf is None or when >= self.nbf) and (self.exp is None or when <= self.exp)


def load_keys(jwks: dict[str, Any]) -> dict[str, PublicKey]:
    """Keys by kid from a JWKS; each kid must be the key's RFC 7638 thumbprint, so the set cannot lie."""
    keys: dict[str, PublicKey] = {}
    entries = jwks.get("keys") if isinstance(jwks, dict) else None
    if not isinstance(entries, list):
        raise JwksError("not a JWKS: no 'keys' list")
    for entry in entries:
        try:
            key = public_key_from_jwk(entry)
            kid = str(entry["kid"])
            if kid != thumbprint(entry):
                raise JwksError(f"kid {kid} is not the RFC 7638 thumbprint of its key")
            nbf, exp = entry.get("nbf"), entry.get("exp")
            keys[kid] = PublicKey(kid=kid, key=key, not_before=nbf, not_after=exp,
                                  nbf=parse_time(nbf) if nbf is not None else None,
                                  exp=parse_time(exp) if exp is not None else None)
        except JwksError:
            raise
        except (KeyError, TypeError, ValueError) as exc:
            raise JwksError(f"unusable key in JWKS: {exc}") from exc
    return keys


# --- one record -------------------------------------------------------------------------------

_headers: dict[str, tuple[dict[str, Any] | None]] = {}  # one header per key: parse each once


def _header(header_b64: str) -> dict[str, Any] | None:
    cached = _headers.get(header_b64)  # one lookup: the route's threads share the cache
    if cached is not None:
        return cached[0]
    raw = b64url_decode_strict(header_b64)
    try:
        parsed = json.loads(raw) if raw is not None else None
    except ValueError:
        parsed = None
    header = parsed if isinstance(parsed, dict) else None
    if len(_headers) > 64:
        _headers.clear()
    _headers[header_b64] = (header,)
    return header


def _signed(document: Any, *path: str) -> Any:
    for name in path:
        if not isinstance(document, dict):
            return None
        document = document.get(name)
    return document


# Columns that are queryable copies of signed fields, and where each lives in the payload.
COLUMN_PATHS: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("id", ("id",)), ("prev_hash", ("prev_hash",)), ("created_at", ("created_at",)),
    ("requester", ("requester",)), ("key_id", ("key_id",)),
    ("organization", ("recommendation", "profile", "organization", "name")),
    ("decision", ("recommendation", "decision")), ("strength", ("recommendation", "strength")),
    ("rules_digest", ("recommendation", "versions", "rules_digest")),
    ("catalog_id", ("recommendation", "versions", "catalog_id")),
)
# A review record (``"kind": "review"``) keeps its verdict in ``decision``; its other columns must be empty
# (the paths below name nothing a review signs, so any stored value disagrees).
REVIEW_COLUMN_PATHS: tuple[tuple[str, tuple[str, ...]], ...] = (
    *COLUMN_PATHS[:5], ("decision", ("review", "verdict")), ("organization", ("review", "organization")),
    ("strength", ("review", "strength")), ("rules_digest", ("review", "rules_digest")),
    ("catalog_id", ("review", "catalog_id")),
)


def _kind_and_subject(document: dict[str, Any]) -> tuple[str, Any]:
    """The ``kind`` and ``subject`` columns a signed payload implies: a review names the assessment it judges,
    a reassessment the assessment it supersedes."""
    if document.get("kind") == "review":
        return "review", _signed(document, "review", "assessment_id")
    return "assessment", _signed(document, "recommendation", "supersedes")


def b64url_bytes(data: bytes) -> bytes:
    """``keys.b64url(data)`` as ASCII bytes, about twice as fast on a 14 KB payload: no ``str`` round
    trip, and ``replace`` (which returns at once when a character is absent) instead of ``translate``."""
    return binascii.b2a_base64(data, newline=False).replace(b"+", b"-").replace(b"/", b"_").rstrip(b"=")


def check_record(record: StoredRecord, keys: dict[str, PublicKey], log_name: str | None = None) -> list[Failure]:
    """Every check one record can fail on its own; empty when it is sound.

    The failures come in order of precedence, so the first one names the kind: a malformed JWS,
    an algorithm never accepted, an unknown key, a payload that is not canonical, a record at
    the wrong position, a bad signature, stored copies that disagree with the signed bytes,
    a validly signed record that is not of this log, and last a key used outside its window.
    """
    if not isinstance(record.payload, str) or not isinstance(record.jws, str):
        return [Failure("canonical", "edited", "the stored payload or JWS is not text")]
    failures: list[Failure] = []
    raw = record.payload.encode("utf-8")
    payload_b64 = b64url_bytes(raw)
    parts = record.jws.split(".")
    header: dict[str, Any] | None = None
    signature: bytes | None = None
    if len(parts) == 3:
        header = _header(parts[0])
        signature = b64url_decode_strict(parts[2])
    if header is None or signature is None or len(signature) != 64:
        failures.append(Failure("signature", "edited", "the JWS is malformed"))
        header = None
    elif parts[1] and parts[1] != payload_b64.decode("ascii"):
        failures.append(Failure("signature", "edited", "the JWS carries a different payload from the stored one"))
    key: PublicKey | None = None
    if header is not None:
        alg, kid = header.get("alg"), header.get("kid")
        if alg not in ACCEPTED_ALGS:
            failures.append(Failure("signature", "forged", f"JWS algorithm {alg!r} is never accepted"))
            header = None
        else:
            key = keys.get(kid) if isinstance(kid, str) else None
            if key is None:
                failures.append(Failure("key_known", "unknown_key", f"signed by key {kid!r}, which the JWKS does "
                                                                    "not list"))
    document: Any = None
    try:
        document, canonical = decode_canonical(raw)
    except (msgspec.DecodeError, ValueError):
        failures.append(Failure("canonical", "edited", "the payload is not JSON"))
    else:
        if not isinstance(document, dict):
            failures.append(Failure("canonical", "edited", "the payload is not a JSON object"))
            document = None
        elif canonical != raw:
            failures.append(Failure("canonical", "edited", "the payload is not canonical JSON (RFC 8785)"))
    signed_seq = _signed(document, "seq")
    if document is not None and signed_seq != record.seq:
        failures.append(Failure("position", "reordered",
                                f"the record at position {record.seq} is signed as record {signed_seq!r}"))
    if key is not None and signature is not None:
        try:
            key.key.verify(signature, parts[0].encode("ascii") + b"." + payload_b64)
        except InvalidSignature:
            failures.append(Failure("signature", "edited", "the signature does not verify: signed bytes changed"))
    if hashlib.sha256(raw).hexdigest() != record.hash:
        failures.append(Failure("hash", "edited", "the payload does not hash to the stored hash"))
    if document is not None:
        for column, path in REVIEW_COLUMN_PATHS if document.get("kind") == "review" else COLUMN_PATHS:
            stored = getattr(record, column)
            if stored is not None and _signed(document, *path) != stored:
                failures.append(Failure("columns", "edited", f"column {column} is {stored!r}, the signed payload "
                                                             f"says {_signed(document, *path)!r}"))
        if record.kind is not None:  # a database row (an export line carries no columns)
            for column, signed in zip(("kind", "subject"), _kind_and_subject(document), strict=True):
                if getattr(record, column) != signed:
                    failures.append(Failure("columns", "edited", f"column {column} is {getattr(record, column)!r}, "
                                                                 f"the signed payload says {signed!r}"))
        if header is not None:
            failures.extend(_origin(header, document, log_name))
        if key is not None:
            failures.extend(_window(key, _signed(document, "created_at")))
    return failures


def _origin(header: dict[str, Any], document: dict[str, Any], log_name: str | None) -> list[Failure]:
    found: list[Failure] = []
    if header.get("typ") != RECORD_TYPE:
        found.append(Failure("origin", "forged", f"JWS type {header.get('typ')!r} is not {RECORD_TYPE}"))
    if header.get("kid") != document.get("key_id"):
        found.append(Failure("origin", "forged", f"signed by {header.get('kid')}, but the payload names key "
                                                 f"{document.get('key_id')!r}"))
    if log_name is not None and document.get("log") != log_name:
        found.append(Failure("origin", "forged", f"a record of log {document.get('log')!r}, not {log_name!r}"))
    return found


def _window(key: PublicKey, created_at: Any) -> list[Failure]:
    try:
        when = parse_time(created_at) if isinstance(created_at, str) else None
    except ValueError:
        when = None
    if when is None:
        return [Failure("key_window", "forged", f"created_at {created_at!r} is not an RFC 3339 time")]
    if not key.covers(when):
        return [Failure("key_window", "retired_key", f"created {created_at}, outside key {key.kid}'s validity "
                                                     f"window {key.window()}")]
    return []


# --- the chain --------------------------------------------------------------------------------

class Anchor(NamedTuple):
    """What the log must match at ``size``: the chain's head hash there, the Merkle root of its first
    ``size`` records (RFC 9162), or both (None: not checked). A verified checkpoint has a root; the
    database's own head has both."""

    size: int
    hash: str | None
    label: str
    root: str | None = None  # hex


class ChainFields(Protocol):
    """What the chain walk reads of a record: a ``StoredRecord``, or the ``Link`` a worker sends back."""

    @property
    def seq(self) -> int: ...
    @property
    def prev_hash(self) -> str: ...
    @property
    def hash(self) -> str: ...
    @property
    def created_at(self) -> str | None: ...


class Link(NamedTuple):
    """A record's place in the chain, without its bytes."""

    seq: int
    prev_hash: str
    hash: str
    created_at: str | None

    @classmethod
    def of(cls, record: ChainFields) -> Link:
        return cls(record.seq, record.prev_hash, record.hash, record.created_at)


class ChainWalk:
    """The sequential half: sequence, links and anchors, over columns already tied to the signed bytes."""

    def __init__(self, anchors: Sequence[Anchor] = ()) -> None:
        self.seq = 0
        self.hash = GENESIS_HASH
        self.created_at: str | None = None
        self.count = 0
        self.anchors: dict[int, list[Anchor]] = {}
        self.tree = Frontier()  # the Merkle tree over the sound records
        for anchor in anchors:
            if anchor.size > 0:
                self.anchors.setdefault(anchor.size, []).append(anchor)

    def before(self, record: ChainFields) -> Failure | None:
        """Checks that outrank the record's own: what is missing or out of order comes first."""
        if record.seq > self.seq + 1:
            missing = f"{self.seq + 1}" if record.seq == self.seq + 2 else f"{self.seq + 1}..{record.seq - 1}"
            return Failure("predecessor", "deleted", f"record(s) {missing} are missing before record {record.seq}")
        if record.seq <= self.seq:
            return Failure("predecessor", "reordered", f"record {record.seq} comes after record {self.seq}")
        return None

    def after(self, record: ChainFields) -> Failure | None:
        """Checks that assume the record itself is sound: its link, and any anchor at its position."""
        if record.prev_hash != self.hash:
            return Failure("predecessor", "forged", f"validly signed but its prev_hash {record.prev_hash} is not "
                                                    f"record {self.seq}'s hash {self.hash}: a fork")
        if record.created_at is not None and self.created_at is not None and record.created_at < self.created_at:
            return Failure("predecessor", "reordered", f"created {record.created_at}, before record {self.seq} "
                                                       f"({self.created_at}): time runs backwards in the log")
        for anchor in self.anchors.get(record.seq, ()):
            if anchor.hash is not None and anchor.hash != record.hash:
                return Failure("checkpoint", "truncated", f"at size {anchor.size} the {anchor.label} has head "
                                                          f"{anchor.hash}, the log {record.hash}: rewritten after it")
        return None

    def grow(self, leaves: Sequence[bytes]) -> Problem | None:
        """Add sound records' leaf hashes to the Merkle tree; a problem at the first root an anchor disputes."""
        for digest in leaves:
            self.tree.append(digest)
            for anchor in self.anchors.get(self.tree.size, ()):
                root = self.tree.root().hex()
                if anchor.root is not None and anchor.root != root:
                    return Problem(seq=self.tree.size, kind="truncated",
                                   detail=f"at size {anchor.size} the {anchor.label} has Merkle root {anchor.root}, "
                                          f"the log {root}: rewritten after it")
        return None

    def advance(self, record: ChainFields, count: int = 1) -> None:
        """Move past ``record``, the last of ``count`` sound records."""
        self.seq, self.hash, self.count = record.seq, record.hash, self.count + count
        self.created_at = record.created_at

    def at_end(self) -> Problem | None:
        for size in sorted(self.anchors):
            if size > self.seq:
                anchor = self.anchors[size][0]
                return Problem(seq=self.seq + 1, kind="truncated",
                               detail=f"the {anchor.label} says the log had {size} records; it has {self.seq}")
        return None


# --- one record with its neighbours (the verification route) ----------------------------------

class Neighbour(msgspec.Struct, frozen=True, kw_only=True):
    """The record before or after the one verified."""

    seq: Annotated[int, msgspec.Meta(description="Its position")]
    hash: Annotated[str, msgspec.Meta(description="Its own hash")]
    linked: Annotated[bool, msgspec.Meta(
        description="The chain link holds: the predecessor's hash is this record's prev_hash, or the successor's "
                    "prev_hash is this record's hash")]


class KeyStatus(msgspec.Struct, frozen=True, kw_only=True):
    """The key the record names in its JWS header."""

    kid: Annotated[str | None, msgspec.Meta(
        description="The key id in the JWS header (null when the header is unreadable)")]
    alg: Annotated[str | None, msgspec.Meta(description="The JWS algorithm in the header")]
    known: Annotated[bool, msgspec.Meta(description="The key is in the log's key set")]
    not_before: Annotated[str | None, msgspec.Meta(description="Start of the key's validity window (RFC 3339)")]
    not_after: Annotated[str | None, msgspec.Meta(
        description="End of the key's validity window (RFC 3339); null while it is the active key")]


class Checks(msgspec.Struct, frozen=True, kw_only=True):
    """Each check of one record: true when it passed."""

    signature: Annotated[bool, msgspec.Meta(description="The Ed25519 signature verifies over the stored payload")]
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


def verify_one(record: StoredRecord, keys: dict[str, PublicKey], log_name: str | None, *,
               predecessor_hash: str | None, successor_prev_hash: str | None, successor_hash: str | None,
               head_seq: int) -> RecordVerification:
    """One record's own checks and its two links (``None`` for a neighbour that is not stored)."""
    failures = check_record(record, keys, log_name)
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
    parts = record.jws.split(".")
    header = _header(parts[0]) if len(parts) == 3 else None
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


# --- runs of records: checked apart, stitched in log order ---------------------------------------

class RunResult(NamedTuple):
    """What checking a run of consecutive records found: a few hundred bytes, however long the run.

    The first record's place in the chain (a gap or disorder before it, its link, its time, an
    anchor at it) depends on the record before the run, so only its own checks are done with the
    run (``first_failures``) and ``stitch`` does the rest. Every later record is checked entirely,
    in log order, up to the first problem.
    """

    first: Link | None  # None: the run is empty
    first_failures: list[Failure]
    sound: int  # sound records of the run (its first included), up to ``problem``
    last: Link | None  # the last of them
    problem: Problem | None  # the first problem after the first record
    leaves: list[bytes]  # the RFC 9162 leaf hashes of the sound records (32 bytes each, not the records)


def describe(failures: Sequence[Failure]) -> str:
    return "; ".join(dict.fromkeys(f.detail for f in failures))


def _problem(seq: int, failures: Sequence[Failure]) -> Problem:
    return Problem(seq=seq, kind=failures[0].kind, detail=describe(failures))


def check_run(records: Iterable[StoredRecord], keys: dict[str, PublicKey], log_name: str | None,
              anchors: Sequence[Anchor] = ()) -> RunResult:
    """Check consecutive records (in the order given), every record's checks and every link after the first.

    For each record, in this precedence: a gap or disorder before it, its own checks, then its link,
    its time and any anchor at its seq; it stops at the first problem.
    """
    walk = ChainWalk(anchors)
    first: Link | None = None
    last: StoredRecord | None = None
    leaves: list[bytes] = []
    for record in records:
        if first is None:
            first = Link.of(record)
            failures = check_record(record, keys, log_name)
            if failures:
                return RunResult(first, failures, 0, None, None, [])
        else:
            failure = walk.before(record)
            if failure is None:
                failures = check_record(record, keys, log_name)
                if failures:
                    return RunResult(first, [], walk.count, Link.of(last or record), _problem(record.seq, failures),
                                     leaves)
                failure = walk.after(record)
            if failure is not None:
                return RunResult(first, [], walk.count, Link.of(last or record),
                                 Problem(seq=record.seq, kind=failure.kind, detail=failure.detail), leaves)
        walk.advance(record)
        leaves.append(leaf_hash(record.payload.encode("utf-8")))
        last = record
    return RunResult(first, [], walk.count, None if last is None else Link.of(last), None, leaves)


def stitch(walk: ChainWalk, run: RunResult) -> Problem | None:
    """Join a run to the chain walked so far (its first record's gap, link, time and anchor); the run's
    first problem, if any. ``walk`` is left after the run's sound records."""
    if run.first is None:
        return None
    failure = walk.before(run.first)
    if failure is None:
        if run.first_failures:
            return _problem(run.first.seq, run.first_failures)
        failure = walk.after(run.first)
    if failure is not None:
        return Problem(seq=run.first.seq, kind=failure.kind, detail=failure.detail)
    assert run.last is not None
    problem = walk.grow(run.leaves[:run.sound])
    if problem is not None:
        return problem
    walk.advance(run.last, run.sound)
    return run.problem


class RunChecker:
    """What a worker needs to check runs: the keys, the log's name, the anchors, and where to read ranges."""

    def __init__(self, jwks: dict[str, Any], log_name: str | None, anchors: Sequence[Anchor] = (),
                 source: RowSource | None = None, batch: int = 32) -> None:
        self.keys = load_keys(jwks)
        self.log_name, self.anchors, self.source, self.batch = log_name, tuple(anchors), source, batch

    def records(self, records: list[StoredRecord]) -> RunResult:
        return check_run(records, self.keys, self.log_name, self.anchors)

    def range(self, bounds: tuple[int | None, int | None]) -> RunResult:
        """The records with ``low < seq <= high``, read here from the database."""
        assert self.source is not None
        with self.source.connect() as conn:
            rows = self.source.read(conn, *bounds, batch=self.batch)
            return check_run(map(StoredRecord._make, rows), self.keys, self.log_name, self.anchors)


_worker: list[RunChecker] = []  # a worker process's own


def _init_worker(jwks: dict[str, Any], log_name: str | None, anchors: Sequence[Anchor],
                 source: RowSource | None) -> None:
    _worker[:] = [RunChecker(jwks, log_name, anchors, source)]


def _check_records_in_worker(records: list[StoredRecord]) -> RunResult:
    return _worker[0].records(records)


def _check_range_in_worker(bounds: tuple[int | None, int | None]) -> RunResult:
    return _worker[0].range(bounds)


@contextmanager
def _worker_processes(count: int, initargs: tuple[Any, ...]) -> Iterator[Executor | None]:
    """``count`` worker processes (None for none), each set up once with ``initargs`` for ``_init_worker``."""
    if count < 1:
        yield None
        return
    import multiprocessing
    from concurrent.futures import ProcessPoolExecutor

    # spawn, not fork: the caller may be a server or a test process with threads running.
    executor = ProcessPoolExecutor(count, mp_context=multiprocessing.get_context("spawn"),
                                   initializer=_init_worker, initargs=initargs)
    try:
        yield executor
    finally:
        executor.shutdown(wait=True, cancel_futures=True)


Job = TypeVar("Job")


def _drive(jobs: Iterator[Job], check_here: Callable[[Job], RunResult], executor: Executor | None,
           check_there: Callable[[Job], RunResult], processes: int, walk: ChainWalk,
           progress: Callable[[int], None] | None) -> Problem | None:
    """Check each job's run and stitch the runs in order; the first problem in log order.

    A job goes to the ``processes`` worker processes of ``executor`` while fewer than two per process
    are waiting there, else it is checked here: this process, idle otherwise, is one more worker.
    At most ``4 * (processes + 1)`` runs are checked ahead of the stitching. A ``MalformedExport``
    from ``jobs`` comes after every record before it.
    """
    inflight: deque[Future[RunResult]] = deque()
    ahead = 4 * (processes + 1)

    def settle() -> Problem | None:
        run = inflight.popleft().result()
        problem = stitch(walk, run)
        if problem is None and progress is not None and run.sound:
            progress(run.sound)
        return problem

    malformed: MalformedExport | None = None
    try:
        for job in jobs:
            future: Future[RunResult]
            if executor is not None and sum(not f.done() for f in inflight) < 2 * processes:
                future = executor.submit(check_there, job)
            else:
                future = Future()
                future.set_result(check_here(job))
            inflight.append(future)
            while inflight and (inflight[0].done() or len(inflight) > ahead):
                problem = settle()
                if problem is not None:
                    return problem
    except MalformedExport as exc:
        malformed = exc
    while inflight:  # an earlier problem wins over a later one
        problem = settle()
        if problem is not None:
            return problem
    if malformed is not None:
        return Problem(seq=walk.seq + 1, kind="edited", detail=str(malformed))
    return walk.at_end()


def _chunks(records: Iterable[StoredRecord], size: int) -> Iterator[list[StoredRecord]]:
    chunk: list[StoredRecord] = []
    try:
        for record in records:
            chunk.append(record)
            if len(chunk) == size:
                yield chunk
                chunk = []
    except MalformedExport:
        if chunk:  # the records before the bad line are still checked, and may fail first
            yield chunk
        raise
    if chunk:
        yield chunk


def worker_processes(workers: int | None) -> int:
    """Processes to start besides this one, which checks too: ``workers`` in all (default: one per CPU)."""
    return max((len(os.sched_getaffinity(0)) if workers is None else workers) - 1, 0)


def _result(walk: ChainWalk, problem: Problem | None) -> VerifyResult:
    """``records``, ``last_seq`` and ``last_hash`` describe the sound records before ``problem``."""
    return VerifyResult(records=walk.count, last_seq=walk.seq, last_hash=walk.hash, problem=problem)


def out_of_place(result: VerifyResult, records: Iterable[StoredRecord]) -> VerifyResult:
    """A gap whose records turn up later in the same file was not a deletion: the lines were reordered.

    The walk stops at the first gap (it reads once, in order); only then is the file read again,
    for the missing seqs.
    """
    problem = result.problem
    if problem is None or problem.kind != "deleted":
        return result
    missing = range(result.last_seq + 1, problem.seq)
    for record in records:
        if record.seq in missing:
            return msgspec.structs.replace(result, problem=Problem(
                seq=problem.seq, kind="reordered", detail=f"record {record.seq} is out of place: it should come "
                f"before record {problem.seq}, and comes after it"))
    return result


def verify_records(records: Iterable[StoredRecord], jwks: dict[str, Any], *, log_name: str | None = None,
                   anchors: Sequence[Anchor] = (), workers: int | None = None, chunk_size: int = 256,
                   progress: Callable[[int], None] | None = None,
                   reread: Callable[[], Iterable[StoredRecord]] | None = None) -> VerifyResult:
    """Verify a log given in seq order (an export file, a list); stop at the first problem.

    This process reads the records, checks chunks of ``chunk_size`` itself and sends others to
    ``workers - 1`` worker processes (``workers`` defaults to one per CPU; 0 or 1: none).
    A database is faster to verify with ``verify_database``, whose workers read their own records.
    ``reread`` gives the records again (a sequence is its own): a gap is then told from lines out of order.
    """
    checker = RunChecker(jwks, log_name, anchors)  # a bad JWKS fails here, before any process starts
    processes = worker_processes(workers)
    walk = ChainWalk(anchors)
    with _worker_processes(processes, (jwks, log_name, tuple(anchors), None)) as executor:
        problem = _drive(_chunks(records, chunk_size), checker.records, executor, _check_records_in_worker,
                         processes, walk, progress)
    if reread is None and isinstance(records, Sequence):
        reread = lambda: records  # noqa: E731 - a sequence reads again as it is
    return _result(walk, problem) if reread is None else out_of_place(_result(walk, problem), reread())


def seq_ranges(source: RowSource, conn: Any, size: int) -> Iterator[tuple[int | None, int | None]]:
    """``(low, high]`` bounds that tile every seq stored (None: unbounded), each with about ``size`` records.

    Each range starts and ends at a seq stored when it is planned (two index seeks), so a gap however
    long (or a seq far out) costs no empty range, and a record appended while the log is verified
    falls in a later range: appends commit in seq order, so every seq up to ``high`` is already there
    for whoever reads the range, however late. (A range ending past the stored head could be read
    before appends fill it, and the next range would then start past records nobody read.)
    """
    high: int | None = None
    while True:
        start = source.next_seq(conn, high)
        if start is None:
            return
        end = source.last_seq(conn, min(start + size - 1, INT64_MAX))
        low, high = high, max(start, end if end is not None else start)
        yield low, high


# --- sources ----------------------------------------------------------------------------------

def record_from_row(row: Any) -> StoredRecord:
    return StoredRecord(seq=row.seq, id=row.id, prev_hash=row.prev_hash, hash=row.hash, payload=row.payload,
                        jws=row.jws, created_at=row.created_at, requester=row.requester,
                        organization=row.organization, decision=row.decision, strength=row.strength,
                        rules_digest=row.rules_digest, catalog_id=row.catalog_id, key_id=row.key_id,
                        kind=row.kind, subject=row.subject)


def database_records(engine: Engine, up_to: int | None = None, batch: int = 1000) -> Iterator[StoredRecord]:
    """Every record in seq order (optionally only up to ``up_to``), in bounded memory."""
    from advisor.store.repository import Repository

    for row in Repository(engine).iter_rows(batch):
        if up_to is not None and row.seq > up_to:
            return
        yield record_from_row(row)


def verify_database(engine: Engine, log_name: str, *, jwks: dict[str, Any] | None = None,
                    anchors: Sequence[Anchor] = (), workers: int | None = None, range_size: int = 2048,
                    progress: Callable[[int], None] | None = None) -> VerifyResult:
    """The whole log in a database, also against its own chain head (a cut the head still counts is caught).

    The log is cut into seq ranges of about ``range_size`` records. This process and ``workers - 1``
    worker processes (``workers`` defaults to one per CPU; 0 or 1: this process alone) each read a
    range straight from the database, check every record and every link inside it, and keep only
    what ``stitch`` needs to join the ranges in order here: no record crosses between processes.

    ``jwks`` pins the keys to trust; by default they are read from the same database, which an
    attacker with write access could extend: an auditor keeps an exported JWKS and passes it.
    """
    from advisor.audit.keyring import jwks as database_jwks
    from advisor.store.repository import Repository

    if jwks is None:
        with engine.connect() as conn:
            jwks = database_jwks(conn)
    from advisor.store.tree import TreeIncomplete, root_at

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
        return verify_records(database_records(engine), jwks, log_name=log_name, anchors=anchors, workers=workers,
                              progress=progress)
    checker = RunChecker(jwks, log_name, anchors, source)
    processes = worker_processes(workers)
    walk = ChainWalk(anchors)
    with source.connect() as conn, _worker_processes(processes, (jwks, log_name, tuple(anchors), source)) as pool:
        problem = _drive(seq_ranges(source, conn, range_size), checker.range, pool, _check_range_in_worker,
                         processes, walk, progress)
    return _result(walk, problem)


_line_decoder = msgspec.json.Decoder(ExportLine)


def export_records(path: Path) -> Iterator[StoredRecord]:
    """The records of an ``advisor export`` file, one JSON line each; a bad line raises ``MalformedExport``."""
    with path.open("rb") as handle:
        for number, line in enumerate(handle, start=1):
            if not line.strip():
                continue
            try:
                entry = _line_decoder.decode(line)
            except (msgspec.DecodeError, msgspec.ValidationError) as exc:
                raise MalformedExport(number, str(exc)) from None
            yield StoredRecord(seq=entry.seq, id=entry.id, prev_hash=entry.prev_hash, hash=entry.hash,
                               payload=entry.payload, jws=entry.jws)
