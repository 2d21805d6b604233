"""Our fast canonical JSON is byte-for-byte RFC 8785, checked against the reference package."""

from __future__ import annotations

import string
from typing import Any

import rfc8785
from hypothesis import given, settings
from hypothesis import strategies as st

from advisor.audit.canonical import canonical_bytes
from advisor.service import Advisor
from tests.factories import make_profile

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
    import msgspec

    recommendation = advisor.assess(make_profile(workload={"daily_tokens": 3_000_000, "peak_to_average": 2.0,
                                                           "simple_task_share": 0.35}))
    builtins = msgspec.to_builtins(recommendation)
    assert canonical_bytes(recommendation) == rfc8785.dumps(builtins)
