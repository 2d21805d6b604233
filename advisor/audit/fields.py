"""The signed fields that the log's columns copy, read without building the rest of the record.

msgspec skips every other member of a ~19 KB payload without materialising it, so checking a record's
columns against its signed bytes costs a fraction of a full decode. The verifier and the reads that list
records (and ``advisor impact``) compare the same fields, through this one reader.
"""

from __future__ import annotations

from typing import Any

import msgspec


class _Organization(msgspec.Struct):
    name: Any = None


class _Profile(msgspec.Struct):
    organization: _Organization | None = None


class _Versions(msgspec.Struct):
    rules_digest: Any = None
    catalog_id: Any = None


class _Recommendation(msgspec.Struct):
    decision: Any = None
    strength: Any = None
    supersedes: Any = None
    versions: _Versions | None = None
    profile: _Profile | None = None


class _Review(msgspec.Struct):
    verdict: Any = None
    assessment_id: Any = None
    organization: Any = None
    strength: Any = None
    rules_digest: Any = None
    catalog_id: Any = None


class SignedFields(msgspec.Struct):
    """The signed fields the columns copy (``COLUMN_PATHS``, ``REVIEW_COLUMN_PATHS``), and nothing else."""

    seq: Any = None
    id: Any = None
    prev_hash: Any = None
    created_at: Any = None
    requester: Any = None
    key_id: Any = None
    log: Any = None
    kind: Any = None
    recommendation: _Recommendation | None = None
    review: _Review | None = None

    def columns(self) -> tuple[tuple[str, Any], ...]:
        envelope = (("id", self.id), ("prev_hash", self.prev_hash), ("created_at", self.created_at),
                    ("requester", self.requester), ("key_id", self.key_id))
        if self.kind == "review":
            v = self.review or _Review()
            return (*envelope, ("decision", v.verdict), ("organization", v.organization), ("strength", v.strength),
                    ("rules_digest", v.rules_digest), ("catalog_id", v.catalog_id))
        r = self.recommendation or _Recommendation()
        versions, profile = r.versions or _Versions(), r.profile or _Profile()
        organization = (profile.organization or _Organization()).name
        return (*envelope, ("organization", organization), ("decision", r.decision), ("strength", r.strength),
                ("rules_digest", versions.rules_digest), ("catalog_id", versions.catalog_id))

    def record_kind(self) -> str:
        return "review" if self.kind == "review" else "assessment"

    def subject(self) -> Any:
        if self.kind == "review":
            return (self.review or _Review()).assessment_id
        return (self.recommendation or _Recommendation()).supersedes


_decoder = msgspec.json.Decoder(SignedFields)


def decode_fields(raw: bytes) -> SignedFields:
    """The copied fields of a signed record (``msgspec.DecodeError``/``ValidationError`` if it is not one)."""
    return _decoder.decode(raw)
