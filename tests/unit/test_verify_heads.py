"""Records signed per commit, verified from their commits' signed tree heads (advisor/audit/verify/heads.py).

Pure: the log is built here as the writer builds it (canonical bytes, hash chain, RFC 9162 tree, one C2SP
checkpoint per commit, no JWS), then walked by ``verify_records`` in runs of every length, so a head is
checked whether its records are in its run or in earlier ones.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from advisor.application.evaluate import Advisor
from advisor.audit.canonical import canonical_bytes
from advisor.audit.checkpoint import sign_checkpoint
from advisor.audit.formats import GENESIS_HASH
from advisor.audit.jws import sign_detached
from advisor.audit.keys import SigningKey
from advisor.audit.merkle import Frontier, leaf_hash
from advisor.audit.record import SignedPayload, payload_bytes, record_hash
from advisor.audit.verify import Item, StoredHead, StoredRecord, VerifyResult, verify_records
from advisor.domain.recommendation import Recommendation
from tests.factories import make_profile

LOG = "test-log"
CREATED = "2026-01-02T00:00:00.000000Z"
COMMIT = 3  # records per group commit
RUNS = pytest.mark.parametrize("chunk", [1, 2, 4, 7, 100])


@pytest.fixture(scope="module")
def key() -> SigningKey:
    return SigningKey(Ed25519PrivateKey.generate())


@pytest.fixture(scope="module")
def recommendation(advisor: Advisor) -> Recommendation:
    return advisor.assess(make_profile(workload={"daily_tokens": 300_000}))


def jwks_of(*keys: SigningKey, nbf: str = "2026-01-01T00:00:00.000000Z", exp: str | None = None) -> dict[str, Any]:
    entries = []
    for k in keys:
        entry: dict[str, Any] = {**k.jwk, "kid": k.kid, "alg": "EdDSA", "use": "sig", "nbf": nbf}
        if exp is not None:
            entry["exp"] = exp
        entries.append(entry)
    return {"keys": entries}


def record_of(raw: bytes, jws: str | None) -> StoredRecord:
    document = json.loads(raw)
    rec = document["recommendation"]
    return StoredRecord(seq=document["seq"], id=document["id"], prev_hash=document["prev_hash"], hash=record_hash(raw),
                        payload=raw.decode(), jws=jws, created_at=document["created_at"],
                        requester=document["requester"], organization=rec["profile"]["organization"]["name"],
                        decision=rec["decision"], strength=rec["strength"],
                        rules_digest=rec["versions"]["rules_digest"], catalog_id=rec["versions"]["catalog_id"],
                        key_id=document["key_id"])


def build(key: SigningKey, recommendation: Recommendation, count: int, *, legacy: int = 0,
          signer: SigningKey | None = None) -> list[Item]:
    """``count`` records in commits of ``COMMIT``, each commit's head after its last record; the first ``legacy``
    records carry their own JWS as before revision 0008 (their commits signed heads too, as since 0004)."""
    items: list[Item] = []
    tree, prev = Frontier(), GENESIS_HASH
    for seq in range(1, count + 1):
        raw = payload_bytes(SignedPayload(log=LOG, seq=seq, prev_hash=prev, id=f"00000000-0000-4000-8000-{seq:012d}",
                                          created_at=CREATED, requester="cl-00000000000000a1", key_id=key.kid,
                                          recommendation=recommendation))
        items.append(record_of(raw, sign_detached(key, raw) if seq <= legacy else None))
        tree.append(leaf_hash(raw))
        prev = record_hash(raw)
        if seq % COMMIT == 0 or seq == count:
            items.append(StoredHead(seq, sign_checkpoint(LOG, seq, tree.root(), signer or key).note))
    return items


def check(items: Sequence[Item], jwks: dict[str, Any], chunk: int) -> VerifyResult:
    return verify_records(items, jwks, log_name=LOG, workers=0, chunk_size=chunk)


def found(result: VerifyResult) -> tuple[int, str]:
    assert result.problem is not None, "not detected"
    return result.problem.seq, result.problem.kind


def edit_record(items: list[Item], seq: int, edit: Callable[[dict[str, Any]], None]) -> list[Item]:
    """Record ``seq``'s payload edited, re-hashed, and every later record re-linked and re-hashed (the chain is
    whole again: only the signed heads can tell)."""
    out: list[Item] = []
    prev: str | None = None
    for item in items:
        if isinstance(item, StoredRecord) and item.seq >= seq:
            document = json.loads(item.payload)
            if item.seq == seq:
                edit(document)
            if prev is not None:
                document["prev_hash"] = prev
            raw = canonical_bytes(document)
            item = record_of(raw, None)
            prev = item.hash
        out.append(item)
    return out


def bump(document: dict[str, Any]) -> None:
    document["recommendation"]["profile"]["workload"]["daily_tokens"] += 1


@RUNS
def test_a_log_signed_per_commit_verifies(key: SigningKey, recommendation: Recommendation, chunk: int) -> None:
    result = check(build(key, recommendation, 11), jwks_of(key), chunk)
    assert result.problem is None
    assert (result.records, result.last_seq) == (11, 11)


@RUNS
def test_legacy_records_then_per_commit_records_verify_in_one_log(key: SigningKey, recommendation: Recommendation,
                                                                  chunk: int) -> None:
    items = build(key, recommendation, 11, legacy=5)
    assert [i.jws is not None for i in items if isinstance(i, StoredRecord)] == [True] * 5 + [False] * 6
    assert check(items, jwks_of(key), chunk).problem is None
    without_heads = [i for i in items if isinstance(i, StoredRecord)]
    assert found(check(without_heads, jwks_of(key), chunk)) == (6, "unsigned")  # the JWS records need none


@RUNS
def test_an_edited_payload_is_caught(key: SigningKey, recommendation: Recommendation, chunk: int) -> None:
    items = build(key, recommendation, 11)
    at = next(i for i, item in enumerate(items) if isinstance(item, StoredRecord) and item.seq == 5)
    record = items[at]
    assert isinstance(record, StoredRecord)
    items[at] = record._replace(payload=record.payload.replace('"strength":"', '"strength":"x', 1))
    assert found(check(items, jwks_of(key), chunk)) == (5, "edited")


@RUNS
def test_a_rewritten_and_relinked_record_fails_its_commits_checkpoint(key: SigningKey, recommendation: Recommendation,
                                                                      chunk: int) -> None:
    items = edit_record(build(key, recommendation, 11), 5, bump)
    result = check(items, jwks_of(key), chunk)
    assert found(result) == (6, "edited")  # record 5's commit is 4..6: its head's root differs
    assert result.problem is not None
    assert "signed checkpoint stored at size 6" in result.problem.detail


@RUNS
def test_an_edited_or_foreign_checkpoint_is_caught(key: SigningKey, recommendation: Recommendation,
                                                   chunk: int) -> None:
    items = build(key, recommendation, 11)
    at = next(i for i, item in enumerate(items) if isinstance(item, StoredHead) and item.size == 9)
    head = items[at]
    assert isinstance(head, StoredHead)
    text, _, signature = head.note.partition("\n\n")
    origin, size, root = text.split("\n")
    root = ("A" if root[0] != "A" else "B") + root[1:]  # the signed root's first character changed
    edited = [*items[:at], StoredHead(9, f"{origin}\n{size}\n{root}\n\n{signature}"), *items[at + 1:]]
    assert found(check(edited, jwks_of(key), chunk)) == (9, "edited")
    stranger = SigningKey(Ed25519PrivateKey.generate())
    foreign = build(key, recommendation, 11, signer=stranger)
    assert found(check(foreign, jwks_of(key), chunk)) == (3, "unknown_key")
    # Signed by another key the JWKS lists, not the one the records name: not their commit's checkpoint.
    assert found(check(foreign, jwks_of(key, stranger), chunk)) == (3, "forged")


@RUNS
def test_records_whose_checkpoints_are_removed_are_unsigned(key: SigningKey, recommendation: Recommendation,
                                                            chunk: int) -> None:
    items = build(key, recommendation, 11)
    middle = [i for i in items if not (isinstance(i, StoredHead) and i.size == 6)]
    assert check(middle, jwks_of(key), chunk).problem is None  # the head at 9 commits to 4..6 as well
    tail = [i for i in items if not (isinstance(i, StoredHead) and i.size >= 9)]
    assert found(check(tail, jwks_of(key), chunk)) == (7, "unsigned")


@RUNS
def test_a_checkpoint_outside_its_keys_window_is_a_retired_key(key: SigningKey, recommendation: Recommendation,
                                                               chunk: int) -> None:
    items = build(key, recommendation, 4)
    result = check(items, jwks_of(key, exp="2026-01-01T12:00:00.000000Z"), chunk)
    assert found(result) == (1, "retired_key")  # the records' own window check comes first
