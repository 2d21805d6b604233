"""The signed record: what is hashed, signed and stored for every recommendation.

Every field that matters (sequence, predecessor, time, requester, versions, key) is inside
the signed bytes; the table's other columns are queryable copies checked against them.
"""

from __future__ import annotations

import hashlib

import msgspec

from advisor.audit.canonical import canonical_bytes_floats_at
from advisor.audit.jws import attach
from advisor.domain.recommendation import Recommendation

GENESIS_HASH = "0" * 64


class SignedPayload(msgspec.Struct, frozen=True, kw_only=True):
    log: str
    seq: int
    prev_hash: str
    id: str
    created_at: str
    requester: str
    key_id: str
    recommendation: Recommendation


class Receipt(msgspec.Struct, frozen=True, kw_only=True):
    """What a portal keeps to prove later what it was told."""

    seq: int
    hash: str
    prev_hash: str
    key_id: str
    jws: str


class Assessment(Recommendation, frozen=True, kw_only=True):
    """A stored recommendation as served: the advice, its identity, and its receipt."""

    id: str
    created_at: str
    requester: str
    receipt: Receipt


def record_hash(payload: bytes) -> str:
    return hashlib.sha256(payload).hexdigest()


# The only float-typed fields of a SignedPayload live in the profile (see domain/profile.py).
FLOAT_PATHS = (("recommendation", "profile"),)
_sorted = msgspec.json.Encoder(order="sorted")
_payload_decoder = msgspec.json.Decoder(SignedPayload)


class NotCanonical(ValueError):
    """Stored bytes that are not the canonical form of the record they decode to."""


def payload_bytes(payload: SignedPayload) -> bytes:
    return canonical_bytes_floats_at(payload, FLOAT_PATHS)


def recommendation_bytes(recommendation: Recommendation) -> bytes:
    """Canonical bytes of a recommendation, computed once per request, outside the chain lock."""
    return canonical_bytes_floats_at(recommendation, (("profile",),))


def splice_payload(payload: SignedPayload, recommendation_raw: bytes) -> bytes:
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


def assessment_from(payload: SignedPayload, payload_raw: bytes, detached_jws: str, digest: str) -> Assessment:
    rec = payload.recommendation
    fields = {name: getattr(rec, name) for name in rec.__struct_fields__}
    return Assessment(
        **fields,
        id=payload.id,
        created_at=payload.created_at,
        requester=payload.requester,
        receipt=Receipt(seq=payload.seq, hash=digest, prev_hash=payload.prev_hash, key_id=payload.key_id,
                        jws=attach(detached_jws, payload_raw)),
    )
