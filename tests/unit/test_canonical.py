"""Our fast canonical JSON is byte-for-byte RFC 8785, checked against the reference package."""

from __future__ import annotations

import string
from typing import Any

import msgspec
import rfc8785
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from advisor.audit.canonical import canonical_bytes
from advisor.domain.profile import Profile
from advisor.service import Advisor
from tests.factories import make_profile
from tests.strategies import profile_bodies

keys = st.text(alphabet=string.ascii_letters + string.digits + "_$.-", min_size=1, max_size=12)
scalars = st.none() | st.booleans() | st.integers(-(2**53) + 1, 2**53 - 1) | st.text(max_size=30) | st.floats(
    allow_nan=False, allow_infinity=False)
documents = st.recursive(scalars, lambda inner: st.lists(inner, max_size=5) | st.dictionaries(keys, inner, max_size=5),
                         max_leaves=30)


@given(documents)
@settings(max_examples=500, deadline=None)
def test_canonical_bytes_equal_rfc8785(document: Any) -> None:
    assert canonical_bytes(document) == rfc8785.dumps(document)


def test_a_whole_recommendation_canonicalises_like_rfc8785(advisor: Advisor) -> None:
    recommendation = advisor.assess(make_profile(workload={"daily_tokens": 3_000_000, "peak_to_average": 2.0,
                                                           "simple_task_share": 0.35}))
    builtins = msgspec.to_builtins(recommendation)
    assert canonical_bytes(recommendation) == rfc8785.dumps(builtins)


@given(profile_bodies())
@settings(max_examples=60, deadline=None)
def test_recommendation_bytes_equal_rfc8785_for_any_profile(advisor: Advisor, body: dict[str, Any]) -> None:
    """The append path's struct-direct encoding (record.recommendation_bytes) is still RFC 8785."""
    from advisor.audit.record import recommendation_bytes
    from advisor.service import ProfileError

    try:
        recommendation = advisor.assess(msgspec.convert(body, Profile))
    except ProfileError:
        assume(False)  # nothing allowed and priceable: a 400, no recommendation to encode
    assert recommendation_bytes(recommendation) == rfc8785.dumps(msgspec.to_builtins(recommendation))


def test_spliced_payload_equals_the_canonical_payload(advisor: Advisor) -> None:
    from advisor.audit.record import (
        SignedPayload,
        parse_signed,
        payload_bytes,
        recommendation_bytes,
        splice_payload,
    )

    recommendation = advisor.assess(make_profile(workload={"daily_tokens": 12_345, "peak_to_average": 4.0,
                                                           "output_share": 1e-7}))
    fields: dict[str, Any] = {"log": "l", "seq": 7, "prev_hash": "ab" * 32, "id": "i-1",
                              "created_at": "2026-11-28T00:00:00.000001Z", "requester": "portal-1", "key_id": "k"}
    payload = SignedPayload(**fields, recommendation=recommendation)
    spliced = splice_payload(payload, recommendation_bytes(recommendation))
    assert spliced == payload_bytes(payload) == rfc8785.dumps(msgspec.to_builtins(payload))
    assert parse_signed(spliced) == payload


def test_non_canonical_bytes_are_refused(advisor: Advisor) -> None:
    import pytest

    from advisor.audit.record import NotCanonical, SignedPayload, parse_signed, payload_bytes

    payload = SignedPayload(log="l", seq=1, prev_hash="0" * 64, id="i", created_at="t", requester="r", key_id="k",
                            recommendation=advisor.assess(make_profile()))
    pretty = msgspec.json.format(payload_bytes(payload), indent=1)
    with pytest.raises(NotCanonical):
        parse_signed(pretty)


@given(documents)
@settings(max_examples=300, deadline=None)
def test_decode_canonical_agrees_with_canonical_bytes(document: Any) -> None:
    """The verifier's one-pass re-canonicalisation, from loose and from canonical JSON."""
    import json

    from advisor.audit.canonical import decode_canonical

    canonical = canonical_bytes(document)
    assert decode_canonical(json.dumps(document, indent=1).encode())[1] == canonical
    assert decode_canonical(canonical)[1] == canonical


def test_supersedes_is_signed_when_set_and_absent_when_not(advisor: Advisor) -> None:
    """Records from before ``supersedes`` existed keep their bytes: the member is left out when null."""
    from advisor.audit.record import SignedPayload, parse_signed, payload_bytes

    first = advisor.assess(make_profile())
    fields: dict[str, Any] = {"log": "l", "seq": 1, "prev_hash": "0" * 64, "id": "i-1", "created_at": "t",
                              "requester": "r", "key_id": "k"}
    plain = payload_bytes(SignedPayload(**fields, recommendation=first))
    assert b"supersedes" not in plain
    assert parse_signed(plain).recommendation.supersedes is None
    linked = msgspec.structs.replace(first, supersedes="i-0")
    raw = payload_bytes(SignedPayload(**fields, recommendation=linked))
    assert raw == rfc8785.dumps(msgspec.to_builtins(SignedPayload(**fields, recommendation=linked)))
    assert parse_signed(raw).recommendation.supersedes == "i-0"
