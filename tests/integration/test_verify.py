"""The verifier on its own: each check, each kind of problem, the order they are reported in, checkpoints.

Chains here are built in memory with the real signing code and a real recommendation; the
database-level attacks are in tests/integration/test_tamper.py.
"""

from __future__ import annotations

import base64
import hashlib
import json
import string
from pathlib import Path
from typing import Any

import msgspec
import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from hypothesis import given
from hypothesis import strategies as st

from advisor.application.evaluate import Advisor
from advisor.audit.canonical import canonical_bytes
from advisor.audit.checkpoint import (
    CheckpointError,
    note_key_hash,
    parse_verifier_key,
    sign_checkpoint,
    verifier_key,
    verify_checkpoint,
)
from advisor.audit.formats import GENESIS_HASH
from advisor.audit.jws import RECORD_TYPE, sign_detached
from advisor.audit.keys import SigningKey, b64url, b64url_decode
from advisor.audit.merkle import leaf_hash, root_of
from advisor.audit.record import SignedPayload, payload_bytes, record_hash
from advisor.audit.verify import (
    Anchor,
    ChainWalk,
    ExportLine,
    JwksError,
    StoredRecord,
    VerifyResult,
    b64url_bytes,
    check_run,
    export_records,
    load_keys,
    stitch,
    verify_one,
    verify_records,
)
from advisor.domain.recommendation import Recommendation
from tests.factories import make_profile

LOG = "test-log"
NBF = "2026-01-01T00:00:00.000000Z"
CREATED = "2026-01-02T00:00:00.000000Z"


@pytest.fixture(scope="module")
def key() -> SigningKey:
    return SigningKey(Ed25519PrivateKey.generate())


@pytest.fixture(scope="module")
def recommendation(advisor: Advisor) -> Recommendation:
    return advisor.assess(make_profile(workload={"daily_tokens": 2_000_000, "peak_to_average": 2.5}))


def jwk_of(key: SigningKey, nbf: str | None = NBF, exp: str | None = None) -> dict[str, Any]:
    entry: dict[str, Any] = {**key.jwk, "kid": key.kid, "alg": "EdDSA", "use": "sig"}
    if nbf is not None:
        entry["nbf"] = nbf
    if exp is not None:
        entry["exp"] = exp
    return entry


def jwks_of(*entries: dict[str, Any]) -> dict[str, Any]:
    return {"keys": list(entries)}


def sign_with_header(key: SigningKey, header: dict[str, Any], raw: bytes) -> str:
    protected = b64url(json.dumps(header, separators=(",", ":"), sort_keys=True).encode())
    return f"{protected}..{b64url(key.sign(f'{protected}.{b64url(raw)}'.encode()))}"


def stored(document: dict[str, Any], jws: str, raw: bytes | None = None) -> StoredRecord:
    """A row whose columns agree with ``document`` (its payload ``raw``, canonical by default)."""
    raw = canonical_bytes(document) if raw is None else raw
    rec = document["recommendation"]
    return StoredRecord(seq=document["seq"], id=document["id"], prev_hash=document["prev_hash"],
                        hash=record_hash(raw), payload=raw.decode(), jws=jws, created_at=document["created_at"],
                        requester=document["requester"], organization=rec["profile"]["organization"]["name"],
                        decision=rec["decision"], strength=rec["strength"],
                        rules_digest=rec["versions"]["rules_digest"], catalog_id=rec["versions"]["catalog_id"],
                        key_id=document["key_id"])


def chain(key: SigningKey, recommendation: Recommendation, count: int, created_at: str = CREATED) -> list[StoredRecord]:
    records, prev = [], GENESIS_HASH
    for seq in range(1, count + 1):
        payload = SignedPayload(log=LOG, seq=seq, prev_hash=prev, id=f"00000000-0000-4000-8000-{seq:012d}",
                                created_at=created_at, requester="cl-00000000000000a1", key_id=key.kid,
                                recommendation=recommendation)
        raw = payload_bytes(payload)
        records.append(stored(json.loads(raw), sign_detached(key, raw), raw))
        prev = records[-1].hash
    return records


def resigned(record: StoredRecord, key: SigningKey, edit: Any = None, header: dict[str, Any] | None = None,
             raw: bytes | None = None) -> StoredRecord:
    """``record`` changed by ``edit`` and validly signed again by ``key`` (as its key's owner could)."""
    document = json.loads(record.payload)
    if edit is not None:
        edit(document)
    raw = canonical_bytes(document) if raw is None else raw
    return stored(document, sign_with_header(key, header or {"alg": "EdDSA", "kid": key.kid, "typ": RECORD_TYPE},
                                             raw), raw)


def check(records: list[StoredRecord], jwks: dict[str, Any], *, workers: int = 0,
          anchors: tuple[Anchor, ...] = ()) -> VerifyResult:
    """Inline here; tests/integration/test_verify_pool.py checks the worker processes agree."""
    return verify_records(records, jwks, log_name=LOG, anchors=anchors, workers=workers, chunk_size=3)


def found(result: VerifyResult) -> tuple[int, str]:
    assert result.problem is not None, "not detected"
    return result.problem.seq, result.problem.kind


# --- one chain, every kind ----------------------------------------------------------------------

def test_sound_chain_verifies(key: SigningKey, recommendation: Recommendation) -> None:
    records = chain(key, recommendation, 10)
    result = check(records, jwks_of(jwk_of(key)))
    assert result.problem is None
    assert (result.records, result.last_seq, result.last_hash) == (10, 10, records[-1].hash)


def test_validly_signed_but_not_canonical_payload_is_edited(key: SigningKey, recommendation: Recommendation) -> None:
    records = chain(key, recommendation, 3)
    loose = json.dumps(json.loads(records[1].payload), indent=1).encode()
    records[1] = resigned(records[1], key, raw=loose)  # the key's owner signed bytes our writer never makes
    records[2] = records[2]._replace(prev_hash=records[1].hash)
    result = check(records, jwks_of(jwk_of(key)))
    assert found(result) == (2, "edited")
    assert result.problem is not None
    assert "canonical" in result.problem.detail


def test_another_spelling_of_the_same_signature_is_refused(key: SigningKey, recommendation: Recommendation) -> None:
    """base64url has spare bits in its last character: a lenient decoder accepts 16 spellings of one signature."""
    records = chain(key, recommendation, 2)
    assert records[0].jws is not None
    header, _, signature = records[0].jws.split(".")
    alphabet = string.ascii_uppercase + string.ascii_lowercase + string.digits + "-_"
    twin = next(signature[:-1] + c for c in alphabet
                if c != signature[-1] and b64url_decode(signature[:-1] + c) == b64url_decode(signature))
    records[0] = records[0]._replace(jws=f"{header}..{twin}")
    assert found(check(records, jwks_of(jwk_of(key)))) == (1, "edited")


@pytest.mark.parametrize(("header", "edit", "expected"), [
    ({"alg": "none"}, None, "forged"),
    ({"alg": "HS256"}, None, "forged"),
    ({"typ": "JWT"}, None, "forged"),
    (None, lambda d: d.update(log="another-log"), "forged"),
    ({"kid": "someone-else"}, None, "unknown_key"),
], ids=["alg-none", "alg-hs256", "typ", "other-log", "unknown-kid"])
def test_signed_records_that_are_not_ours(key: SigningKey, recommendation: Recommendation,
                                          header: dict[str, Any] | None, edit: Any, expected: str) -> None:
    records = chain(key, recommendation, 4)
    full = {"alg": "EdDSA", "kid": key.kid, "typ": RECORD_TYPE, **(header or {})}
    records[2] = resigned(records[2], key, edit, header=full)
    records[3] = records[3]._replace(prev_hash=records[2].hash)
    assert found(check(records, jwks_of(jwk_of(key)))) == (3, expected)


def test_payload_naming_another_known_key_is_forged(key: SigningKey, recommendation: Recommendation) -> None:
    other = SigningKey(Ed25519PrivateKey.generate())
    records = chain(key, recommendation, 3)
    records[1] = resigned(records[1], other, lambda d: None)  # payload still says key_id = key.kid
    records[1] = records[1]._replace(key_id=key.kid)
    records[2] = records[2]._replace(prev_hash=records[1].hash)
    assert found(check(records, jwks_of(jwk_of(key), jwk_of(other)))) == (2, "forged")


@pytest.mark.parametrize(("nbf", "exp", "expected"), [
    ("2026-01-03T00:00:00Z", None, "retired_key"),  # not yet valid
    (NBF, "2026-01-01T12:00:00+00:00", "retired_key"),  # retired before
    (NBF, CREATED, None),  # the rotation instant belongs to both windows
    (None, None, None),  # a JWKS without windows
], ids=["before-nbf", "after-exp", "at-exp", "no-window"])
def test_key_windows(key: SigningKey, recommendation: Recommendation, nbf: str | None, exp: str | None,
                     expected: str | None) -> None:
    result = check(chain(key, recommendation, 2), jwks_of(jwk_of(key, nbf, exp)))
    assert (result.problem.kind if result.problem else None) == expected
    if expected:
        assert found(result)[0] == 1


def test_chain_breaks(key: SigningKey, recommendation: Recommendation) -> None:
    keys = jwks_of(jwk_of(key))
    records = chain(key, recommendation, 12)
    assert found(check(records[:6] + records[7:], keys)) == (8, "deleted")
    assert found(check(records[1:], keys)) == (2, "deleted")
    swapped = [*records[:4], records[5], records[4], *records[6:]]  # an export file in the wrong order
    assert found(check(swapped, keys)) == (6, "reordered")
    assert found(check([*records[:5], records[3], *records[5:]], keys)) == (4, "reordered")


def test_validly_signed_record_that_does_not_link_is_a_fork(key: SigningKey, recommendation: Recommendation) -> None:
    records = chain(key, recommendation, 5)
    records[3] = resigned(records[3], key, lambda d: d.update(prev_hash="ab" * 32))
    result = check(records, jwks_of(jwk_of(key)))
    assert found(result) == (4, "forged")
    assert result.problem is not None
    assert "fork" in result.problem.detail


def test_checkpoints(key: SigningKey, recommendation: Recommendation) -> None:
    keys = jwks_of(jwk_of(key))
    records = chain(key, recommendation, 9)
    at_seven = Anchor(size=7, hash=records[6].hash, label="checkpoint")
    assert check(records, keys, anchors=(at_seven,)).problem is None
    assert found(check(records[:5], keys, anchors=(at_seven,))) == (6, "truncated")
    rewritten = Anchor(size=7, hash="cd" * 32, label="checkpoint")
    assert found(check(records, keys, anchors=(rewritten,))) == (7, "truncated")
    # A C2SP checkpoint names the Merkle root of the first records (RFC 9162), computed from their bytes.
    root = root_of([leaf_hash(r.payload.encode()) for r in records[:7]]).hex()
    merkle = Anchor(size=7, hash=None, label="checkpoint", root=root)
    assert check(records, keys, anchors=(merkle,)).problem is None
    assert found(check(records[:5], keys, anchors=(merkle,))) == (6, "truncated")
    other = Anchor(size=7, hash=None, label="checkpoint", root=leaf_hash(b"other").hex())
    assert found(check(records, keys, anchors=(other,))) == (7, "truncated")


def with_columns(record: StoredRecord, **columns: Any) -> StoredRecord:
    """``record`` with stored columns changed behind the signature's back (no re-signing)."""
    return record._replace(**columns)


TAMPERS: dict[str, tuple[Any, tuple[int, str], int]] = {
    # name: (change to the list of 8 records, expected first problem, how many records of the list come
    # before it, all sound)
    "gap-outranks-the-record-at-it": (lambda r: [*r[:4], with_columns(r[5], hash="ee" * 32), *r[6:]],
                                      (6, "deleted"), 4),
    "own-failure-outranks-a-broken-link": (lambda r: [*r[:4], with_columns(r[4], prev_hash="ab" * 32), *r[5:]],
                                           (5, "edited"), 4),
    "earliest-wins": (lambda r: [*r[:2], with_columns(r[2], hash="ee" * 32), *r[3:5], *r[6:]], (3, "edited"), 2),
    "reordered": (lambda r: [*r[:3], r[4], r[3], *r[5:]], (5, "reordered"), 3),
    "duplicate": (lambda r: [*r[:5], r[4], *r[5:]], (5, "reordered"), 5),
    "first-missing": (lambda r: r[1:], (2, "deleted"), 0),
    "last-edited": (lambda r: [*r[:7], with_columns(r[7], decision="x")], (8, "edited"), 7),
}


@pytest.mark.parametrize("tamper", list(TAMPERS))
def test_the_first_problem_and_its_kind_do_not_depend_on_where_runs_are_cut(
        key: SigningKey, recommendation: Recommendation, tamper: str) -> None:
    """Each record is the first of a run for some run length: its gap, link and own checks are then split
    between the run and the stitching, and the precedence must hold all the same."""
    keys = jwks_of(jwk_of(key))
    change, expected, sound = TAMPERS[tamper]
    records = change(chain(key, recommendation, 8))
    for size in range(1, 10):
        result = verify_records(records, keys, log_name=LOG, workers=0, chunk_size=size)
        assert found(result) == expected, f"runs of {size}"
        assert (result.records, result.last_seq) == (sound, records[sound - 1].seq if sound else 0), \
            f"runs of {size}"


def test_stitch_joins_runs_by_their_edges(key: SigningKey, recommendation: Recommendation) -> None:
    keys = load_keys(jwks_of(jwk_of(key)))
    records = chain(key, recommendation, 6)
    walk = ChainWalk()
    assert stitch(walk, check_run(records[:3], keys, LOG)) is None
    assert (walk.seq, walk.hash, walk.count) == (3, records[2].hash, 3)
    assert stitch(walk, check_run([], keys, LOG)) is None  # an empty range changes nothing
    later = check_run(records[4:], keys, LOG)
    assert later.first is not None
    assert later.first.seq == 5
    problem = stitch(walk, later)
    assert problem is not None
    assert (problem.seq, problem.kind) == (5, "deleted")
    assert walk.seq == 3


def test_the_genesis_is_64_hex_zeros() -> None:
    assert GENESIS_HASH == "0" * 64  # the first record's prev_hash: a changed constant would orphan every log


@given(st.binary(max_size=300))
def test_b64url_bytes_is_b64url(data: bytes) -> None:
    assert b64url_bytes(data) == b64url(data).encode("ascii")


# --- export files -------------------------------------------------------------------------------

def export(records: list[StoredRecord], path: Path) -> None:
    with path.open("wb") as handle:
        for r in records:
            assert r.jws is not None
            header, _, signature = r.jws.split(".")
            handle.write(msgspec.json.encode(ExportLine(seq=r.seq, id=r.id, hash=r.hash, prev_hash=r.prev_hash,
                                                        payload=r.payload,
                                                        jws=f"{header}.{b64url(r.payload.encode())}.{signature}"))
                         + b"\n")


def test_export_file_verifies_and_reports_a_bad_line_in_place(key: SigningKey, recommendation: Recommendation,
                                                              tmp_path: Path) -> None:
    keys = jwks_of(jwk_of(key))
    records = chain(key, recommendation, 8)
    path = tmp_path / "audit.jsonl"
    export(records, path)
    assert verify_records(export_records(path), keys, log_name=LOG, chunk_size=3, workers=0).problem is None
    lines = path.read_bytes().splitlines(keepends=True)
    path.write_bytes(b"".join(lines[:5]) + b"{not json\n" + b"".join(lines[6:]))
    result = verify_records(export_records(path), keys, log_name=LOG, chunk_size=3, workers=0)
    assert found(result) == (6, "edited")
    assert result.problem is not None
    assert "line 6" in result.problem.detail


def test_attached_payload_must_be_the_stored_payload(key: SigningKey, recommendation: Recommendation,
                                                     tmp_path: Path) -> None:
    records = chain(key, recommendation, 3)
    other = chain(key, recommendation, 3, created_at="2026-01-05T00:00:00.000000Z")
    assert records[1].jws is not None
    header, _, signature = records[1].jws.split(".")
    records[1] = records[1]._replace(jws=f"{header}.{b64url(other[1].payload.encode())}.{signature}")
    assert found(check(records, jwks_of(jwk_of(key)))) == (2, "edited")


def test_a_jwks_whose_kid_is_not_the_thumbprint_is_refused(key: SigningKey) -> None:
    with pytest.raises(JwksError, match="thumbprint"):
        load_keys(jwks_of({**jwk_of(key), "kid": "my-own-name"}))
    with pytest.raises(JwksError):
        load_keys(jwks_of({"kty": "RSA", "kid": "x", "n": "AQAB", "e": "AQAB"}))
    with pytest.raises(JwksError):
        load_keys({"not": "a jwks"})


# --- checkpoints ------------------------------------------------------------------------------

def test_checkpoint_round_trip_and_signed_note(key: SigningKey) -> None:
    root = hashlib.sha256(b"x").digest()
    checkpoint = sign_checkpoint(LOG, 42, root, key)
    keys = load_keys(jwks_of(jwk_of(key)))
    assert verify_checkpoint(checkpoint, keys, LOG) == Anchor(size=42, hash=None, label="checkpoint", root=root.hex())
    text, signatures = checkpoint.note.split("\n\n")
    # C2SP tlog-checkpoint: exactly origin, size and base64 root; then one signed-note signature line.
    assert text.split("\n") == [LOG, "42", base64.b64encode(root).decode()]
    assert signatures.startswith(f"\u2014 {LOG} ")
    assert signatures.endswith("\n")
    blob = base64.b64decode(signatures.rsplit(" ", 1)[1])
    assert blob[:4] == note_key_hash(LOG, key.private_key.public_key())
    key.private_key.public_key().verify(blob[4:], (text + "\n").encode())
    name, public = parse_verifier_key(verifier_key(LOG, key.private_key.public_key()))
    assert name == LOG
    assert public == key.private_key.public_key()


@pytest.mark.parametrize("change", ["size", "root", "text", "signature", "origin", "no-signature"])
def test_a_tampered_checkpoint_is_refused(key: SigningKey, change: str) -> None:
    checkpoint = sign_checkpoint(LOG, 42, b"\xab" * 32, key)
    blob = checkpoint.note.rsplit(" ", 1)[1]
    zeroed = base64.b64encode(base64.b64decode(blob)[:4] + b"\0" * 64).decode()
    tampered = {
        "size": msgspec.structs.replace(checkpoint, size=43),
        "root": msgspec.structs.replace(checkpoint, root_hash="cd" * 32),
        "text": msgspec.structs.replace(checkpoint, note=checkpoint.note.replace("\n42\n", "\n4200\n")),
        "signature": msgspec.structs.replace(checkpoint, note=checkpoint.note.replace(blob, zeroed)),
        "origin": checkpoint,
        "no-signature": msgspec.structs.replace(checkpoint, note=checkpoint.note.split("\n\n")[0] + "\n\n"),
    }[change]
    with pytest.raises(CheckpointError):
        verify_checkpoint(tampered, load_keys(jwks_of(jwk_of(key))), "other-log" if change == "origin" else LOG)
    stranger = SigningKey(Ed25519PrivateKey.generate())
    with pytest.raises(CheckpointError, match="no key"):
        verify_checkpoint(checkpoint, load_keys(jwks_of(jwk_of(stranger))), LOG)


# --- one record and its neighbours -----------------------------------------------------------------

def test_verify_one_reports_links_both_ways(key: SigningKey, recommendation: Recommendation) -> None:
    records = chain(key, recommendation, 4)
    keys = load_keys(jwks_of(jwk_of(key)))
    sound = verify_one(records[1], keys, LOG, predecessor_hash=records[0].hash,
                       successor_prev_hash=records[2].prev_hash,
                       successor_hash=records[2].hash, head_seq=4)
    assert sound.valid
    assert sound.checks.signature
    assert sound.checks.successor
    assert sound.successor is not None
    assert sound.successor.hash == records[2].hash  # the successor's own hash
    gaps = verify_one(records[1], keys, LOG, predecessor_hash=None, successor_prev_hash=None, successor_hash=None,
                      head_seq=4)
    assert not gaps.valid
    assert [(p.seq, p.kind) for p in gaps.problems] == [(2, "deleted"), (3, "deleted")]
    newest = verify_one(records[3], keys, LOG, predecessor_hash=records[2].hash, successor_prev_hash=None,
                        successor_hash=None, head_seq=4)
    assert newest.valid
    assert newest.successor is None
    forked = verify_one(records[1], keys, LOG, predecessor_hash=records[0].hash, successor_prev_hash="00" * 32,
                        successor_hash="11" * 32, head_seq=4)
    assert [(p.seq, p.kind) for p in forked.problems] == [(3, "forged")]
    assert not forked.checks.successor
