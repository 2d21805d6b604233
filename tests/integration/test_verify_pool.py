"""The verifier's worker processes (``verify_records(workers=N)``) find what one inline run finds.

Moved out of tests/unit (which starts no processes); tests/unit/test_verify.py checks the inline
results themselves, so agreeing with them here checks the pool's."""

from __future__ import annotations

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from advisor.application.evaluate import Advisor
from advisor.audit.keys import SigningKey
from advisor.audit.merkle import leaf_hash, root_of
from advisor.audit.verify import Anchor, StoredRecord, verify_records
from advisor.domain.recommendation import Recommendation
from tests.factories import make_profile
from tests.integration.test_verify import LOG, TAMPERS, chain, check, jwk_of, jwks_of

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def key() -> SigningKey:
    return SigningKey(Ed25519PrivateKey.generate())


@pytest.fixture(scope="module")
def recommendation(advisor: Advisor) -> Recommendation:
    return advisor.assess(make_profile(workload={"daily_tokens": 2_000_000, "peak_to_average": 2.5}))


def test_the_pool_agrees_with_one_inline_run_on_sound_broken_and_anchored_chains(
        key: SigningKey, recommendation: Recommendation) -> None:
    keys = jwks_of(jwk_of(key))
    records = chain(key, recommendation, 12)
    root = root_of([leaf_hash(r.payload.encode()) for r in records[:7]]).hex()
    cases: list[tuple[list[StoredRecord], tuple[Anchor, ...]]] = [
        (records, ()),
        (records[:6] + records[7:], ()),
        (records[1:], ()),
        ([*records[:4], records[5], records[4], *records[6:]], ()),
        ([*records[:5], records[3], *records[5:]], ()),
        (records, (Anchor(size=7, hash=records[6].hash, label="checkpoint"),)),
        (records[:5], (Anchor(size=7, hash=records[6].hash, label="checkpoint"),)),
        (records, (Anchor(size=7, hash="cd" * 32, label="checkpoint"),)),
        (records, (Anchor(size=7, hash=None, label="checkpoint", root=root),)),
        (records[:5], (Anchor(size=7, hash=None, label="checkpoint", root=root),)),
        (records, (Anchor(size=7, hash=None, label="checkpoint", root=leaf_hash(b"other").hex()),)),
    ]
    for i, (listed, anchors) in enumerate(cases):
        assert check(listed, keys, anchors=anchors, workers=2) == check(listed, keys, anchors=anchors), f"case {i}"


def test_runs_checked_in_worker_processes_agree_with_one_run(key: SigningKey, recommendation: Recommendation) -> None:
    keys = jwks_of(jwk_of(key))
    records = chain(key, recommendation, 8)
    for change, _expected, _sound in TAMPERS.values():
        tampered = change(records)
        alone = verify_records(tampered, keys, log_name=LOG, workers=0, chunk_size=len(tampered))
        assert verify_records(tampered, keys, log_name=LOG, workers=2, chunk_size=2) == alone
