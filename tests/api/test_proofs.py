"""RFC 9162 proofs over HTTP, checked by our verifier and by pymerkle; tampering seen through the proofs and on read."""

from __future__ import annotations

import base64
import logging
from collections.abc import Callable
from typing import Any

import msgspec
import pytest
from litestar import Litestar
from litestar.testing import TestClient
from pymerkle import InmemoryTree
from pymerkle import verify_consistency as pymerkle_verify_consistency
from sqlalchemy import inspect, select

from advisor.audit.checkpoint import Checkpoint, verify_checkpoint, verify_note
from advisor.audit.merkle import ProofError, leaf_hash, root_of, verify_consistency, verify_inclusion
from advisor.audit.record import signed_payload
from advisor.audit.verify import load_keys
from advisor.services import Services
from advisor.settings import Settings
from advisor.store.tables import records
from tests.factories import profile_dict
from tests.signed_log import append_records, bump, rebuild_tree, rewrite_payload, tampering
from tests.unit.test_merkle import pymerkle_accepts_inclusion

COUNT = 40
Client = TestClient[Litestar]
SQLITE = pytest.mark.parametrize("settings", ["sqlite"], indirect=True)


@pytest.fixture
def services(app: Litestar, client: Client) -> Services:
    services: Services = app.state.services
    append_records(services, COUNT, batch=6)
    return services


@pytest.fixture
def auditor(client_as: Callable[..., Client]) -> Client:
    return client_as("auditor")


def payloads(services: Services) -> list[bytes]:
    with services.engine.connect() as conn:
        return [p.encode() for p in conn.execute(select(records.c.payload).order_by(records.c.seq)).scalars()]


def ids(services: Services) -> list[str]:
    with services.engine.connect() as conn:
        return list(conn.execute(select(records.c.id).order_by(records.c.seq)).scalars())


def trusted(client: Client, checkpoint: dict[str, Any], origin: str) -> tuple[int, bytes]:
    """The tree head of a checkpoint, once its signature verifies with the published keys."""
    keys = load_keys(client.get("/.well-known/jwks.json").json())
    anchor = verify_checkpoint(msgspec.convert(checkpoint, Checkpoint), keys, origin)
    assert anchor.root is not None
    return anchor.size, bytes.fromhex(anchor.root)


def b64s(values: list[str]) -> list[bytes]:
    return [base64.b64decode(v) for v in values]


def test_inclusion_proofs_verify_independently(services: Services, auditor: Client) -> None:
    stored, origin = payloads(services), services.settings.log_name
    for seq, record_id in list(enumerate(ids(services), start=1))[::7]:
        for size in (None, seq, COUNT - 1):
            params = {} if size is None else {"tree_size": size}
            response = auditor.get(f"/assessments/{record_id}/proof", params=params)
            assert response.status_code == 200, response.text
            body = response.json()
            tree_size, root = trusted(auditor, body["checkpoint"], origin)
            assert tree_size == body["tree_size"] == (size or COUNT)
            assert root == root_of([leaf_hash(p) for p in stored[:tree_size]])
            leaf, path = base64.b64decode(body["leaf_hash"]), b64s(body["inclusion_path"])
            assert leaf == leaf_hash(stored[seq - 1])  # the leaf is the record's stored bytes, as RFC 9162 hashes it
            assert body["leaf_index"] == seq - 1
            verify_inclusion(seq - 1, tree_size, leaf, path, root)
            assert pymerkle_accepts_inclusion(seq - 1, tree_size, leaf, path, root)
    assert len(body["inclusion_path"]) <= 6  # O(log n)


def test_a_commit_signs_one_checkpoint_for_all_its_records(services: Services, auditor: Client) -> None:
    """Records appended together share their receipt's checkpoint: the tree head of their commit."""
    record_ids = ids(services)
    first = auditor.get(f"/assessments/{record_ids[6]}/proof", params={"tree_size": 12}).json()["checkpoint"]
    second = auditor.get(f"/assessments/{record_ids[11]}/proof", params={"tree_size": 12}).json()["checkpoint"]
    assert first == second
    with services.engine.connect() as conn:
        heads = conn.exec_driver_sql("SELECT size FROM tree_heads ORDER BY size").scalars().all()
    assert heads == [*range(6, COUNT, 6), COUNT]  # one per group commit of six


def test_impossible_proofs_are_400(services: Services, auditor: Client) -> None:
    record_id = ids(services)[9]
    response = auditor.get(f"/assessments/{record_id}/proof", params={"tree_size": 9})  # record 10 is not in it
    assert response.status_code == 400, response.text
    assert response.json()["field"] == "tree_size"
    # A tree the log has not reached (yet) is not there to prove anything against.
    assert auditor.get(f"/assessments/{record_id}/proof", params={"tree_size": COUNT + 1}).status_code == 404
    assert auditor.get("/assessments/nope/proof").status_code == 404
    assert auditor.get("/audit/consistency", params={"from": 5, "to": 4}).status_code == 400
    assert auditor.get("/audit/consistency", params={"from": 5, "to": COUNT + 1}).status_code == 404
    assert auditor.get("/audit/consistency", params={"from": COUNT + 1}).status_code == 404
    assert auditor.get("/audit/consistency", params={"from": 0}).status_code == 400


def test_an_assessor_gets_proofs_of_its_own_records_only(services: Services, client: Client,
                                                         auditor: Client) -> None:
    mine = client.post("/assess", json={"organization": {"name": "Acme"}, "workload": {
        "daily_tokens": 100000, "volume_certainty": "validation"}, "team": {"ml_infra_engineers": 0}}).json()["id"]
    assert client.get(f"/assessments/{mine}/proof").status_code == 200
    assert client.get(f"/assessments/{ids(services)[0]}/proof").status_code == 404


def test_consistency_proofs_verify_and_agree_with_pymerkle(services: Services, auditor: Client) -> None:
    stored, origin = payloads(services), services.settings.log_name
    reference = InmemoryTree()
    for payload in stored:
        reference.append_entry(payload)
    record_ids = ids(services)
    for old in (1, 4, 6, 13, 32, COUNT):
        old_body = auditor.get(f"/assessments/{record_ids[0]}/proof", params={"tree_size": old}).json()
        old_size, old_root = trusted(auditor, old_body["checkpoint"], origin)
        response = auditor.get("/audit/consistency", params={"from": old})
        assert response.status_code == 200, response.text
        body = response.json()
        assert (body["from"], body["to"]) == (old, COUNT)
        new_size, new_root = trusted(auditor, body["checkpoint"], origin)
        verify_consistency(old_size, new_size, old_root, new_root, b64s(body["consistency_path"]))
        # pymerkle, from the same bytes, proves the same two roots consistent (with its own proof layout).
        pymerkle_verify_consistency(old_root, new_root, reference.prove_consistency(old, COUNT))


# --- tampering, seen through the proofs and on read -------------------------------------------------


@SQLITE
def test_a_rewritten_record_is_never_served(settings: Settings, services: Services, auditor: Client,
                                            caplog: pytest.LogCaptureFixture) -> None:
    record_id = ids(services)[4]
    with tampering(settings) as conn:
        rewrite_payload(conn, 5, bump)  # one byte of the stored payload, nothing else
    for path in (f"/assessments/{record_id}", f"/assessments/{record_id}/proof"):
        with caplog.at_level(logging.ERROR):
            response = auditor.get(path)
        assert response.status_code == 500
        assert response.headers["content-type"].startswith("application/problem+json")
        problem = response.json()
        assert problem["type"].endswith("/record-integrity")
        assert record_id in problem["detail"]
        assert "daily_tokens" not in response.text
        assert any(r.levelno == logging.ERROR and record_id in r.getMessage() for r in caplog.records)
    assert auditor.get(f"/assessments/{ids(services)[5]}").status_code == 200  # its neighbours are served


@SQLITE
def test_a_record_rewritten_with_its_leaf_still_fails_its_place_in_the_tree(settings: Settings,
                                                                            services: Services,
                                                                            auditor: Client) -> None:
    record_id = ids(services)[4]
    with tampering(settings) as conn:
        rewrite_payload(conn, 5, bump, rehash=True)
        payload = conn.execute("SELECT payload FROM records WHERE seq = 5").fetchone()[0].encode()
        conn.execute("UPDATE merkle_nodes SET hash = ? WHERE level = 0 AND idx = 4", (leaf_hash(payload),))
    response = auditor.get(f"/assessments/{record_id}")
    assert response.status_code == 500
    assert "place in the tree" in response.json()["detail"]


@SQLITE
def test_a_rewritten_record_breaks_its_inclusion_proof(settings: Settings, services: Services,
                                                       auditor: Client) -> None:
    """The auditor's checkpoint from before; the attacker rewrites a record and the whole tree, re-signing it."""
    record_id, origin = ids(services)[4], services.settings.log_name
    kept = auditor.get("/audit/checkpoint").json()
    size, root = trusted(auditor, kept, origin)
    with tampering(settings) as conn:
        rewrite_payload(conn, 5, bump, rehash=True)
        rebuild_tree(conn, settings)
    body = auditor.get(f"/assessments/{record_id}/proof", params={"tree_size": size}).json()
    leaf, path = base64.b64decode(body["leaf_hash"]), b64s(body["inclusion_path"])
    trusted(auditor, body["checkpoint"], origin)  # the forged checkpoint is validly signed...
    verify_inclusion(4, size, leaf, path, bytes.fromhex(body["checkpoint"]["root_hash"]))
    with pytest.raises(ProofError):  # ...but the proof does not lead to the root the auditor kept
        verify_inclusion(4, size, leaf, path, root)
    assert not pymerkle_accepts_inclusion(4, size, leaf, path, root)


@SQLITE
def test_a_rewritten_history_breaks_consistency_with_an_older_checkpoint(settings: Settings, services: Services,
                                                                         auditor: Client) -> None:
    origin = services.settings.log_name
    kept = auditor.get(f"/assessments/{ids(services)[0]}/proof", params={"tree_size": 20}).json()["checkpoint"]
    old_size, old_root = trusted(auditor, kept, origin)
    append_records(services, 10)
    with tampering(settings) as conn:
        rewrite_payload(conn, 5, bump, rehash=True)
        rebuild_tree(conn, settings)
    body = auditor.get("/audit/consistency", params={"from": 20}).json()
    new_size, new_root = trusted(auditor, body["checkpoint"], origin)
    with pytest.raises(ProofError, match="rewritten"):
        verify_consistency(old_size, new_size, old_root, new_root, b64s(body["consistency_path"]))


@SQLITE
def test_a_listing_shows_failed_records_as_failed_without_their_values(settings: Settings, services: Services,
                                                                       auditor: Client) -> None:
    record_ids = ids(services)
    with tampering(settings) as conn:
        rewrite_payload(conn, 5, bump)  # the bytes
        conn.execute("UPDATE records SET decision = CASE decision WHEN 'hybrid' THEN 'managed' ELSE 'hybrid' END "
                     "WHERE seq = 6")  # a column
    items = {item["seq"]: item for item in auditor.get("/assessments", params={"limit": 200}).json()["items"]}
    assert len(items) == COUNT
    for seq in (5, 6):
        assert items[seq]["integrity"] == "failed"
        assert items[seq]["id"] == record_ids[seq - 1]
        assert items[seq]["decision"] is None
        assert items[seq]["hash"] is None
        assert f"record {seq}" in items[seq]["integrity_problem"]
    assert {seq for seq, item in items.items() if item["integrity"] == "ok"} == set(range(1, COUNT + 1)) - {5, 6}
    assert "integrity_problem" not in items[7]


def test_the_201_carries_the_assessment_once_with_a_compact_receipt(app: Litestar, client: Client) -> None:
    """A portal verifies its 201 alone: the signed bytes rebuilt from the body are the leaf the receipt's
    inclusion path leads from, to the root of the receipt's checkpoint, signed by the published key."""
    for i in range(3):  # a few records, so the path is not empty
        response = client.post("/assess", json=profile_dict(organization={"name": f"Org {i}"}))
        assert response.status_code == 201
    body = response.json()
    receipt = body["receipt"]
    assert len(msgspec.json.encode(receipt)) <= 2048
    payload = signed_payload(response.content)
    assert len(response.content) < len(payload) + 2048  # the assessment once, not twice
    keys = load_keys(client.get("/.well-known/jwks.json").json())
    _, size, root, _ = verify_note(receipt["checkpoint"], keys, app.state.services.settings.log_name)
    assert size == receipt["tree_size"] >= receipt["seq"] == receipt["leaf_index"] + 1
    path = b64s(receipt["inclusion_path"])
    verify_inclusion(receipt["leaf_index"], size, leaf_hash(payload), path, root)
    assert pymerkle_accepts_inclusion(receipt["leaf_index"], size, leaf_hash(payload), path, root)
    assert client.get(response.headers["location"]).content == response.content  # GET: the same body


def test_prefer_return_minimal_and_replays_rebuilt_from_the_record(app: Litestar, client: Client) -> None:
    headers = {"Prefer": "respond-async, return=minimal", "Idempotency-Key": "minimal-1"}
    first = client.post("/assess", json=profile_dict(), headers=headers)
    assert first.status_code == 201
    assert first.headers["preference-applied"] == "return=minimal"
    body = first.json()
    assert set(body) == {"id", "decision", "strength", "summary", "receipt"}
    assert len(first.content) < 3000
    assert first.headers["location"] == f"/assessments/{body['id']}"
    full = client.get(first.headers["location"]).json()
    assert {k: full[k] for k in body} == body
    again = client.post("/assess", json=profile_dict(), headers={"Idempotency-Key": "minimal-1"})
    assert again.headers["idempotent-replayed"] == "true"
    assert again.json()["id"] == body["id"]
    assert again.json() == full  # the whole assessment this time: rebuilt from the stored record
    with app.state.services.engine.connect() as conn:
        kept = conn.exec_driver_sql("SELECT record_id FROM idempotency_keys").all()
        columns = {c["name"] for c in inspect(conn).get_columns("idempotency_keys")}
    assert [tuple(row) for row in kept] == [(body["id"],)]
    assert not {"response_body"} & columns  # no copy of the response is kept (revision 0008 dropped the column)
