"""The signed record: what is hashed, signed and stored for every recommendation.

Every field that matters (sequence, predecessor, time, requester, versions, key) is inside
the signed bytes; the table's other columns are queryable copies checked against them.
"""

from __future__ import annotations

import hashlib
from typing import Annotated, Literal

import msgspec

from advisor.audit.canonical import canonical_bytes
from advisor.domain.recommendation import Recommendation
from advisor.domain.review import ReviewBody, Status


class Envelope(msgspec.Struct, frozen=True, kw_only=True):
    """Everything a signed record holds besides the recommendation."""

    log: str
    seq: int
    prev_hash: str
    id: str
    created_at: str
    requester: str
    key_id: str


class SignedPayload(Envelope, frozen=True, kw_only=True):
    recommendation: Recommendation


class StoredPayload(Envelope, frozen=True, kw_only=True):
    """A signed payload read back with its recommendation left as bytes (to serve it, not to inspect it)."""

    recommendation: msgspec.Raw


class Columns(msgspec.Struct, frozen=True, kw_only=True):
    """The queryable copies of signed fields that the log's table keeps beside the payload."""

    organization: str
    decision: str
    strength: str
    rules_digest: str
    catalog_id: str
    subject: str | None = None  # the assessment a reassessment supersedes

    @classmethod
    def of(cls, recommendation: Recommendation) -> Columns:
        return cls(organization=recommendation.profile.organization.name, decision=recommendation.decision,
                   strength=recommendation.strength, rules_digest=recommendation.versions.rules_digest,
                   catalog_id=recommendation.versions.catalog_id, subject=recommendation.supersedes)


REVIEW = "review"
ASSESSMENT = "assessment"


class SignedReview(Envelope, frozen=True, kw_only=True):
    """A review record: the log envelope (``requester`` is the reviewer), its kind, and the verdict."""

    kind: Literal["review"]
    review: ReviewBody


_review_decoder = msgspec.json.Decoder(SignedReview)


def review_bytes(body: ReviewBody) -> bytes:
    """Canonical bytes of a review body (strings only: sorted-key msgspec output is RFC 8785)."""
    return _sorted.encode(body)


def splice_review(payload: Envelope, review_raw: bytes) -> bytes:
    """The signed bytes of a review record: like an assessment's, with ``kind`` and ``review`` instead of
    ``recommendation`` (an assessment record has no ``kind``: every record before reviews stays as it was)."""
    return _sorted.encode({"created_at": payload.created_at, "id": payload.id, "key_id": payload.key_id,
                           "kind": REVIEW, "log": payload.log, "prev_hash": payload.prev_hash,
                           "requester": payload.requester, "review": msgspec.Raw(review_raw),
                           "seq": payload.seq})


def is_review(raw: bytes) -> bool:
    """Whether stored bytes are a review record (cheap: only ``kind`` is decoded)."""
    try:
        return _kind.decode(raw).kind == REVIEW
    except (msgspec.DecodeError, msgspec.ValidationError):
        return False


class _Kind(msgspec.Struct):
    kind: str = ASSESSMENT


_kind = msgspec.json.Decoder(_Kind)


def parse_review(raw: bytes) -> SignedReview:
    """Decode stored bytes as a signed review and insist they are in canonical form."""
    payload = _review_decoder.decode(raw)
    if splice_review(payload, review_bytes(payload.review)) != raw:
        raise NotCanonical("payload bytes are not in canonical form")
    return payload


class Receipt(msgspec.Struct, frozen=True, kw_only=True, omit_defaults=True):
    """What a portal keeps to prove later what it was told, without a second copy of the assessment.

    The signed bytes are the assessment's own (``signed_payload`` rebuilds them from the body and
    this receipt), and they are the record's RFC 9162 leaf: ``inclusion_path`` leads from it to the
    root of ``checkpoint``, the C2SP signed note its group commit signed (``tree_size`` = the size of
    the log when that commit ended). The checkpoint's Ed25519 signature is the record's signature.
    A record written before revision 0008 also carries ``jws``, the detached JWS it was signed with.
    """

    seq: Annotated[int, msgspec.Meta(description="The record's position in the log (from 1)")]
    hash: Annotated[str, msgspec.Meta(description="SHA-256 (hex) of the signed bytes: the chain link")]
    prev_hash: Annotated[str, msgspec.Meta(description="The previous record's hash (64 zeros for the first)")]
    key_id: Annotated[str, msgspec.Meta(description="The signing key's RFC 7638 thumbprint")]
    log: Annotated[str, msgspec.Meta(description="The log's name, inside the signed bytes")]
    jws: Annotated[str | None, msgspec.Meta(description=(
        "Only for a record written before per-commit signing (migration 0008): its detached JWS (header..signature, "
        "RFC 7515 appendix F) over the signed bytes. Absent otherwise: the checkpoint's signature covers the record"
    ))] = None
    leaf_index: Annotated[int, msgspec.Meta(description="The record's RFC 9162 leaf index (seq - 1)")]
    tree_size: Annotated[int | None, msgspec.Meta(
        description="The size of the tree its group commit signed (the inclusion path is in that tree); absent only "
        "for an old record no stored checkpoint covers")] = None
    inclusion_path: Annotated[list[str] | None, msgspec.Meta(
        description="RFC 9162 inclusion proof, base64 hashes from the leaf up")] = None
    checkpoint: Annotated[str | None, msgspec.Meta(
        description="The C2SP signed note its group commit signed (origin, tree_size, base64 root, Ed25519 signature): "
        "verify it with the published key, then the inclusion path against its root")] = None


class Assessment(Recommendation, frozen=True, kw_only=True):
    """A stored recommendation as served: the advice, its identity, and its receipt."""

    id: Annotated[str, msgspec.Meta(description="The assessment's id (a UUID); its URL is /assessments/{id}")]
    created_at: Annotated[str, msgspec.Meta(description="When it was appended to the log (RFC 3339, UTC); never "
                                                        "earlier than the record before it")]
    requester: Annotated[str, msgspec.Meta(description="The client id that created it (inside the signed record)")]
    receipt: Annotated[Receipt, msgspec.Meta(description="Proof of what was stored: position, hashes, key, "
                                                         "signature, and its inclusion in a signed tree head")]
    status: Annotated[Status | None, msgspec.Meta(description=(
        "Outside the signed bytes since it changes (absent from a `return=minimal` body): `proposed`, `accepted` or "
        "`rejected` from its reviews (see `GET /assessments/{id}/reviews`), `superseded` once a reassessment "
        "supersedes it"))] = None


def record_hash(payload: bytes) -> str:
    return hashlib.sha256(payload).hexdigest()


_sorted = msgspec.json.Encoder(order="sorted")
_payload_decoder = msgspec.json.Decoder(SignedPayload)


class NotCanonical(ValueError):
    """Stored bytes that are not the canonical form of the record they decode to."""


def payload_bytes(payload: SignedPayload) -> bytes:
    return splice_payload(payload, recommendation_bytes(payload.recommendation))


def recommendation_bytes(recommendation: Recommendation) -> bytes:
    """Canonical bytes of a recommendation, computed once per request, outside the chain lock.

    Only the profile can hold floats (see domain/profile.py), so only it is canonicalised as a
    document; the rest (strings, integers, decimals as strings) is encoded straight from the
    structs with sorted keys, which is already RFC 8785 and twice as fast as a generic pass.
    """
    profile = msgspec.Raw(canonical_bytes(recommendation.profile))
    return _sorted.encode(msgspec.structs.replace(recommendation, profile=profile))


def splice_payload(payload: Envelope, recommendation_raw: bytes) -> bytes:
    """``payload_bytes(payload)``, around the recommendation's bytes already canonicalised by the caller.

    Every other field is a string or an integer, so sorted-key msgspec output is already RFC 8785.
    """
    return _sorted.encode({"created_at": payload.created_at, "id": payload.id, "key_id": payload.key_id,
                           "log": payload.log, "prev_hash": payload.prev_hash,
                           "recommendation": msgspec.Raw(recommendation_raw), "requester": payload.requester,
                           "seq": payload.seq})


def parse_signed(raw: bytes) -> SignedPayload:
    """Decode stored bytes as a signed payload and insist they are in canonical form."""
    payload = _payload_decoder.decode(raw)
    if payload_bytes(payload) != raw:
        raise NotCanonical("payload bytes are not in canonical form")
    return payload


def assessment_json(envelope: Envelope, recommendation_raw: bytes, receipt: Receipt) -> bytes:
    """An ``Assessment`` as served, assembled around the recommendation's canonical bytes.

    The recommendation is never decoded and encoded again: its signed bytes, an object, get the
    record's identity and receipt appended as further members. The body carries it once.
    """
    tail = _sorted.encode({"created_at": envelope.created_at, "id": envelope.id, "receipt": receipt,
                           "requester": envelope.requester})
    return b"%s,%s" % (recommendation_raw[:-1], tail[1:])


class _Served(msgspec.Struct):
    id: str
    created_at: str
    requester: str
    receipt: Receipt


_served = msgspec.json.Decoder(_Served)
_ASSESSMENT_ONLY = frozenset({"id", "created_at", "requester", "receipt", "status"})


def signed_payload(body: bytes) -> bytes:
    """The signed bytes of a served assessment (its Merkle leaf, its JWS payload), rebuilt from the body.

    The recommendation is the body without ``id``, ``created_at``, ``requester`` and ``receipt``, in
    RFC 8785 form; the envelope comes from those fields and the receipt. A portal can do the same
    with any JCS library.
    """
    served = _served.decode(body)
    document = msgspec.json.decode(body)
    recommendation = {k: v for k, v in document.items() if k not in _ASSESSMENT_ONLY}
    r = served.receipt
    envelope = Envelope(log=r.log, seq=r.seq, prev_hash=r.prev_hash, id=served.id, created_at=served.created_at,
                        requester=served.requester, key_id=r.key_id)
    return splice_payload(envelope, canonical_bytes(recommendation))
