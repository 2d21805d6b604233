"""Attacks on the stored log, straight in the SQLite file: each found at the right record, with the right kind.

Every attack runs twice: checked in this process, and by the worker pool with small seq ranges that
each worker reads itself (so the first problem has to be picked across ranges checked out of order).
"""

from __future__ import annotations

import json
import sqlite3
import tempfile
import uuid
from collections.abc import Iterator
from contextlib import closing
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st
from litestar import Litestar
from sqlalchemy import Engine, create_engine, text

from advisor.app import build_services, ensure_signing_key
from advisor.audit import verify as verify_module
from advisor.audit.checkpoint import sign_checkpoint, verify_checkpoint
from advisor.audit.formats import utc_now
from advisor.audit.keys import SigningKey
from advisor.audit.verify import Anchor, Problem, StoredRecord, VerifyResult, load_keys
from advisor.services import Services
from advisor.settings import Settings
from advisor.store.database import make_engine, migrate
from advisor.store.keyring import KeyRing, jwks
from advisor.store.rows import row_source
from advisor.store.tree import current_checkpoint
from advisor.store.verification import database_records, verify_database
from advisor.store.writer import Draft, append_batch
from tests.factories import make_profile
from tests.signed_log import (
    append_legacy_records,
    append_records,
    bump,
    forge_record,
    relink_from,
    rewrite_payload,
    row,
    sign_legacy_jws,
    sqlite_path,
    tampering,
)

COUNT = 40
SQLITE = pytest.mark.parametrize("settings", ["sqlite"], indirect=True)
MODES = pytest.mark.parametrize("workers", [0, 2], ids=["inline", "pool"])


@pytest.fixture
def services(app: Litestar) -> Services:
    services: Services = app.state.services
    append_records(services, COUNT)
    return services


def verify(settings: Settings, services: Services, workers: int = 0, anchors: tuple[Anchor, ...] = (),
           keys: dict[str, Any] | None = None) -> VerifyResult:
    return verify_database(services.engine, settings.log_name, jwks=keys, anchors=anchors, workers=workers,
                           range_size=4)


def problem_of(result: VerifyResult) -> Problem:
    assert result.problem is not None, "the tampering went unnoticed"
    return result.problem


def found(result: VerifyResult) -> tuple[int, str]:
    """Where and what the first problem is."""
    return problem_of(result).seq, problem_of(result).kind


@SQLITE
@MODES
def test_untouched_log_verifies_clean(settings: Settings, services: Services, workers: int) -> None:
    result = verify(settings, services, workers)
    assert result.problem is None
    assert (result.records, result.last_seq) == (COUNT, COUNT)
    assert result.last_hash == services.repository.head()[1]


@SQLITE
@MODES
def test_edited_profile_field_is_caught_at_that_record(settings: Settings, services: Services, workers: int) -> None:
    def bump(document: dict[str, Any]) -> None:
        document["recommendation"]["profile"]["workload"]["daily_tokens"] += 1

    with tampering(settings) as conn:
        rewrite_payload(conn, 17, bump)
    result = verify(settings, services, workers)
    assert found(result) == (17, "edited")
    assert "hash" in problem_of(result).detail


@SQLITE
@MODES
@pytest.mark.parametrize("signed", ["per-commit", "legacy-jws"])
def test_edited_decision_with_recomputed_hash_is_caught(settings: Settings, services: Services, workers: int,
                                                        signed: str) -> None:
    """A record with its own JWS fails its signature; a record signed by its commit's checkpoint breaks the
    link the next record signed (its commit's root would differ too, checked when the walk gets there)."""
    if signed == "legacy-jws":
        with services.engine.begin() as db:
            sign_legacy_jws(db, services)
    with tampering(settings) as conn:
        old = row(conn, 23)["decision"]
        new = "self_hosted" if old != "self_hosted" else "managed"

        def flip(document: dict[str, Any]) -> None:
            document["recommendation"]["decision"] = new

        rewrite_payload(conn, 23, flip, rehash=True, columns={"decision": new})
    result = verify(settings, services, workers)
    if signed == "legacy-jws":
        assert found(result) == (23, "edited")
        assert "signature" in problem_of(result).detail
    else:
        assert found(result) == (24, "forged")
        assert "prev_hash" in problem_of(result).detail


@SQLITE
@MODES
def test_a_relinked_rewrite_of_records_signed_per_commit_fails_their_commits_checkpoint(
        settings: Settings, services: Services, workers: int) -> None:
    """The attacker edits record 23 and re-hashes and re-links every record after it (and the tree), but cannot
    sign: the checkpoint of 23's commit (size 28, batches of 7) no longer matches the records' root."""
    with tampering(settings) as conn:
        rewrite_payload(conn, 23, bump, rehash=True)
        relink_from(conn, 24)
    result = verify(settings, services, workers)
    assert found(result) == (28, "edited")
    assert "signed checkpoint stored at size 28" in problem_of(result).detail


@SQLITE
@MODES
def test_a_forged_or_unknown_commit_checkpoint_is_caught(settings: Settings, services: Services,
                                                          workers: int) -> None:
    with tampering(settings) as conn:
        note = conn.execute("SELECT note FROM tree_heads WHERE size = 21").fetchone()[0]
        text, _, signature = note.partition("\n\n")
        lines = text.split("\n")  # origin, size, base64 root: the root's first character changed
        lines[2] = ("A" if lines[2][0] != "A" else "B") + lines[2][1:]
        conn.execute("UPDATE tree_heads SET note = ? WHERE size = 21", ("\n".join(lines) + "\n\n" + signature,))
    assert found(verify(settings, services, workers)) == (21, "edited")
    stranger = SigningKey(Ed25519PrivateKey.generate())
    with tampering(settings) as conn:
        root = bytes.fromhex(conn.execute("SELECT root_hash FROM tree_heads WHERE size = 21").fetchone()[0])
        forged = sign_checkpoint(settings.log_name, 21, root, stranger)
        conn.execute("UPDATE tree_heads SET note = ? WHERE size = 21", (forged.note,))
    assert found(verify(settings, services, workers)) == (21, "unknown_key")


@SQLITE
@MODES
def test_records_whose_commit_checkpoints_are_deleted_are_unsigned(settings: Settings, services: Services,
                                                                   workers: int) -> None:
    with tampering(settings) as conn:
        conn.execute("DELETE FROM tree_heads WHERE size = 14")  # a later checkpoint still covers 8..14
    assert verify(settings, services, workers).problem is None
    with tampering(settings) as conn:
        conn.execute("DELETE FROM tree_heads WHERE size > 35")  # nothing covers 36..40 any more
    result = verify(settings, services, workers)
    assert found(result) == (36, "unsigned")


@SQLITE
@MODES
def test_deleted_middle_row_is_a_gap_at_the_next_record(settings: Settings, services: Services, workers: int) -> None:
    with tampering(settings) as conn:
        conn.execute("DELETE FROM records WHERE seq = 20")
    assert found(verify(settings, services, workers)) == (21, "deleted")


@SQLITE
@MODES
@pytest.mark.parametrize("how", ["rows", "payloads"])
def test_swapped_rows_are_reordered(settings: Settings, services: Services, workers: int, how: str) -> None:
    with tampering(settings) as conn:
        if how == "rows":  # the two records trade places in the sequence
            conn.execute("UPDATE records SET seq = -1 WHERE seq = 12")
            conn.execute("UPDATE records SET seq = 12 WHERE seq = 29")
            conn.execute("UPDATE records SET seq = 29 WHERE seq = -1")
        else:  # only the signed bytes and signatures trade places; the columns stay
            a, b = row(conn, 12), row(conn, 29)
            conn.execute("UPDATE records SET payload = ?, jws = ? WHERE seq = 12", (b["payload"], b["jws"]))
            conn.execute("UPDATE records SET payload = ?, jws = ? WHERE seq = 29", (a["payload"], a["jws"]))
    result = verify(settings, services, workers)
    assert found(result) == (12, "reordered")
    assert "signed as record 29" in problem_of(result).detail


@SQLITE
@MODES
def test_forged_row_signed_by_an_unknown_key(settings: Settings, services: Services, workers: int) -> None:
    stranger = SigningKey(Ed25519PrivateKey.generate())
    with tampering(settings) as conn:
        seq = forge_record(conn, stranger, log=settings.log_name, created_at=utc_now())
    assert seq == COUNT + 1
    assert found(verify(settings, services, workers)) == (COUNT + 1, "unknown_key")


@SQLITE
def test_key_smuggled_into_the_database_is_caught_only_with_a_pinned_jwks(settings: Settings,
                                                                         services: Services) -> None:
    with services.engine.connect() as conn:
        pinned = jwks(conn)  # what an auditor exported earlier
    stranger = SigningKey(Ed25519PrivateKey.generate())
    with tampering(settings) as conn:
        conn.execute("INSERT INTO signing_keys (kid, public_jwk, not_before, not_after) VALUES (?, ?, ?, NULL)",
                     (stranger.kid, json.dumps(stranger.jwk), "2000-01-01T00:00:00.000000Z"))
        forge_record(conn, stranger, log=settings.log_name, created_at=utc_now())
    assert verify(settings, services).problem is None  # the database vouches for its own forgery
    assert found(verify(settings, services, keys=pinned)) == (COUNT + 1, "unknown_key")


@SQLITE
@MODES
def test_deleted_newest_rows_are_caught_only_with_a_checkpoint(settings: Settings, services: Services,
                                                               workers: int) -> None:
    checkpoint = current_checkpoint(services.db, services.keyring, settings.log_name)
    with services.engine.connect() as conn:
        anchor = verify_checkpoint(checkpoint, load_keys(jwks(conn)), settings.log_name)
    assert anchor.size == COUNT
    with tampering(settings) as conn:  # cut after a commit (batches of 7): cut in one, its records are unsigned
        conn.execute("DELETE FROM records WHERE seq > 35")
        conn.execute("DELETE FROM tree_heads WHERE size > 35")
        conn.execute("UPDATE chain_head SET seq = 35, hash = ? WHERE id = 1", (row(conn, 35)["hash"],))
    shorter = verify(settings, services, workers)
    assert shorter.problem is None  # a valid, shorter chain
    assert shorter.last_seq == 35
    result = verify(settings, services, workers, anchors=(anchor,))
    assert found(result) == (36, "truncated")


@SQLITE
def test_deleted_newest_rows_without_moving_the_head_are_caught(settings: Settings, services: Services) -> None:
    with tampering(settings) as conn:
        conn.execute("DELETE FROM records WHERE seq > 35")
    assert found(verify(settings, services)) == (36, "truncated")


class RetiredKeyRing(KeyRing):
    """Signs with a key that rotation already retired, as a stolen old key would."""

    def __init__(self, keys_dir: Path, retired: SigningKey) -> None:
        super().__init__(keys_dir)
        self.retired = retired

    def active(self, conn: Any) -> SigningKey:
        return self.retired

    def active_since(self, conn: Any) -> tuple[SigningKey, str]:
        return self.retired, ""  # the writer stamps the record now: after the key's window closed


@SQLITE
@MODES
def test_record_signed_outside_its_key_window_is_retired_key(settings: Settings, services: Services,
                                                             workers: int) -> None:
    with services.db.locked() as conn:
        retired = services.keyring.active(conn)
        services.keyring.rotate(conn)
    append_records(services, 3)  # signed by the new key: sound
    draft = Draft.new(id=str(uuid.uuid4()), requester="cl-0000000000000bad",
                      recommendation=services.advisor.assess(make_profile()))
    with services.db.writing() as conn:
        append_batch(conn, RetiredKeyRing(settings.keys_dir, retired), settings.log_name, [draft], services.db)
    result = verify(settings, services, workers)
    assert found(result) == (COUNT + 4, "retired_key")
    assert retired.kid in problem_of(result).detail


# --- seq ranges: each worker reads and walks its own, the ranges are stitched in order --------------

def bump_profile(document: dict[str, Any]) -> None:
    document["recommendation"]["profile"]["workload"]["daily_tokens"] += 1


# With ranges of 4 and no seq missing, the ranges are (..4], (4..8], (8..12], ...: 8 ends one, 9 starts the next.
EDGE_TAMPERS: dict[str, tuple[list[str], tuple[int, str], int]] = {
    # name: (statements, expected first problem, sound records before it: seq 1 to this)
    "last-of-a-range-deleted": (["DELETE FROM records WHERE seq = 8"], (9, "deleted"), 7),
    "first-of-a-range-deleted": (["DELETE FROM records WHERE seq = 9"], (10, "deleted"), 8),
    "a-whole-range-deleted": (["DELETE FROM records WHERE seq BETWEEN 9 AND 12"], (13, "deleted"), 8),
    "rows-swapped-across-an-edge": (["UPDATE records SET seq = -1 WHERE seq = 8",
                                     "UPDATE records SET seq = 8 WHERE seq = 9",
                                     "UPDATE records SET seq = 9 WHERE seq = -1"], (8, "reordered"), 7),
    "first-of-a-range-edited": (["edit 13"], (13, "edited"), 12),
    "prev-hash-column-of-a-first-record": (["UPDATE records SET prev_hash = 'ab' || substr(prev_hash, 3) "
                                            "WHERE seq = 17"], (17, "edited"), 16),
    "a-seq-moved-far-out": (["UPDATE records SET seq = 1000000000000 WHERE seq = 20"], (21, "deleted"), 19),
    "a-seq-moved-before-the-first": (["UPDATE records SET seq = -3 WHERE seq = 20"], (-3, "reordered"), 0),
    "the-newest-deleted": (["DELETE FROM records WHERE seq > 37"], (38, "truncated"), 37),
}


@SQLITE
@pytest.mark.parametrize("tamper", list(EDGE_TAMPERS))
def test_tampering_at_range_edges_is_reported_alike_by_any_number_of_workers(settings: Settings, services: Services,
                                                                            tamper: str) -> None:
    """The same first problem, kind, detail and sound prefix, whether one walk reads the whole log or
    ranges of 3 or 4 are checked here and in a worker process, out of order."""
    statements, expected, sound = EDGE_TAMPERS[tamper]
    with tampering(settings) as conn:
        for statement in statements:
            if statement.startswith("edit "):
                rewrite_payload(conn, int(statement.split()[1]), bump_profile)
            else:
                conn.execute(statement)
    one_walk = verify_database(services.engine, settings.log_name, workers=1, range_size=10_000)
    assert found(one_walk) == expected
    assert (one_walk.records, one_walk.last_seq) == (sound, sound)
    for workers, range_size in ((0, 4), (2, 4), (2, 3), (3, 1)):
        result = verify_database(services.engine, settings.log_name, workers=workers, range_size=range_size)
        assert result == one_walk, f"{workers} workers, ranges of {range_size}"


@SQLITE
def test_without_a_row_source_this_process_reads_the_records(settings: Settings, services: Services) -> None:
    """An engine whose database other processes cannot open (here a SQLite URI) is read through the engine."""
    with tampering(settings) as conn:
        conn.execute("DELETE FROM records WHERE seq = 9")
    read_by_workers = verify_database(services.engine, settings.log_name, workers=2, range_size=4)
    engine = create_engine(f"sqlite:///file:{sqlite_path(settings)}?uri=true")
    assert row_source(engine) is None
    calls: list[object] = []

    def records(engine: Engine) -> Iterator[StoredRecord]:
        calls.append(engine)
        return database_records(engine)

    try:
        assert verify_database(engine, settings.log_name, workers=2, range_size=4, records=records) == read_by_workers
    finally:
        engine.dispose()
    assert calls == [engine]
    assert found(read_by_workers) == (10, "deleted")


@SQLITE
def test_records_appended_while_the_log_is_verified_are_no_gap(settings: Settings, services: Services,
                                                              monkeypatch: pytest.MonkeyPatch) -> None:
    """A range is read, then appends go past where it could have ended: the next range must start right
    after what that range read, or the records between would be reported deleted."""
    read = verify_module.RunChecker.range
    ranges_read: list[tuple[int | None, int | None]] = []

    def read_then_append(checker: Any, bounds: tuple[int | None, int | None]) -> Any:
        run = read(checker, bounds)
        ranges_read.append(bounds)
        if len(ranges_read) == 1:
            append_records(services, 30)  # COUNT + 30 > the 64 a range may hold
        return run

    monkeypatch.setattr(verify_module.RunChecker, "range", read_then_append)
    result = verify_database(services.engine, settings.log_name, workers=0, range_size=64)
    assert result.problem is None, result.problem
    assert (result.records, result.last_seq) == (COUNT + 30, COUNT + 30)
    assert ranges_read == [(None, COUNT), (COUNT, COUNT + 30)]


@pytest.mark.postgres
@pytest.mark.parametrize("settings", ["postgres"], indirect=True)
def test_postgres_log_is_read_by_the_workers_themselves(settings: Settings, services: Services) -> None:
    assert row_source(services.engine) is not None
    clean = verify_database(services.engine, settings.log_name, workers=2, range_size=4)
    assert clean.problem is None
    assert (clean.records, clean.last_seq, clean.last_hash) == (COUNT, COUNT, services.repository.head()[1])
    with services.engine.begin() as conn:
        conn.execute(text("DELETE FROM records WHERE seq IN (9, 10)"))
    one_walk = verify_database(services.engine, settings.log_name, workers=0, range_size=10_000)
    assert found(one_walk) == (11, "deleted")
    assert verify_database(services.engine, settings.log_name, workers=2, range_size=4) == one_walk


# --- any single-byte change is detected ---------------------------------------------------------

TEXT_COLUMNS = ("id", "prev_hash", "hash", "created_at", "requester", "organization", "decision", "strength",
                "rules_digest", "catalog_id", "key_id", "payload", "jws")
SMALL = 12


@pytest.fixture(scope="module")
def template(tmp_path_factory: pytest.TempPathFactory) -> tuple[Settings, dict[int, dict[str, Any]]]:
    """A small signed log, built once; each example tampers with its own copy."""
    directory = tmp_path_factory.mktemp("template")
    settings_ = Settings(database_url=f"sqlite:///{directory}/log.db", keys_dir=directory / "keys", evaluators=0,
                         writer_process=False)
    migrate(settings_)
    services = build_services(settings_)
    ensure_signing_key(services)
    append_legacy_records(services, 5, batch=5)  # one log, both formats: records with their own JWS, then
    append_records(services, SMALL - 5, batch=4)  # records signed by their commit's checkpoint
    services.engine.dispose()
    with closing(sqlite3.connect(sqlite_path(settings_))) as conn:
        conn.row_factory = sqlite3.Row
        rows = {r["seq"]: dict(r) for r in conn.execute("SELECT * FROM records")}
    return settings_, rows


# No example database: the template log (ids, keys, times) is new in every run, so a saved example
# would replay against other bytes.
@settings(max_examples=150, deadline=None, database=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.data())
def test_any_single_byte_change_to_any_column_is_detected(
        template: tuple[Settings, dict[int, dict[str, Any]]], data: st.DataObject) -> None:
    """Each column of each record, one byte replaced by another printable ASCII byte (the columns are
    text), or the integer seq changed in one byte: the verifier must report a problem."""
    base, rows = template
    seq = data.draw(st.integers(1, SMALL), label="seq")
    column = data.draw(st.sampled_from((*TEXT_COLUMNS, "seq")), label="column")
    original = rows[seq][column]
    if column == "seq":
        shift = data.draw(st.integers(0, 6), label="byte")  # SQLite integers are signed 64-bit
        value: Any = original ^ (data.draw(st.integers(1, 255), label="xor") << (8 * shift))
        assume(value not in rows and value > 0)
    elif original is None:  # a record signed per commit given a JWS
        value = "eyJhbGciOiJFZERTQSJ9..AAAA"
    else:
        encoded = original.encode("utf-8")
        at = data.draw(st.integers(0, len(encoded) - 1), label="at")
        # Another printable byte, drawn without looking at the original (the template differs per run).
        step = data.draw(st.integers(1, 94), label="step")
        byte = 0x20 + (encoded[at] - 0x20 + step) % 95 if 0x20 <= encoded[at] <= 0x7E else 0x20 + step
        value = (encoded[:at] + bytes([byte]) + encoded[at + 1:]).decode("utf-8", "strict")
    with tempfile.TemporaryDirectory() as scratch:
        copy = Settings(database_url=f"sqlite:///{scratch}/log.db", keys_dir=base.keys_dir)
        with closing(sqlite3.connect(sqlite_path(base))) as source, \
                closing(sqlite3.connect(sqlite_path(copy))) as target:
            source.backup(target)
            try:
                target.execute(f"UPDATE records SET {column} = ? WHERE seq = ?", (value, seq))  # noqa: S608
            except sqlite3.IntegrityError:
                assume(False)  # a unique column cannot take another record's value: not a possible edit
            target.commit()
        engine = make_engine(copy, pool_size=1)
        try:
            result = verify_database(engine, copy.log_name, workers=0)
        finally:
            engine.dispose()
    assert result.problem is not None, f"changing {column} of record {seq} went unnoticed"
