"""The audit routes over HTTP: listing, one record's verification, the signed checkpoint; JOSE interop."""

from __future__ import annotations

import asyncio
import base64
import hashlib
import json
import warnings
from collections.abc import Callable
from datetime import UTC, datetime, timedelta, timezone
from typing import Any, cast

import httpx
import msgspec
import pytest
import rfc8785
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
from joserfc import jws
from joserfc.errors import BadSignatureError, SecurityWarning
from joserfc.jwk import KeySet
from litestar import Litestar
from litestar.testing import TestClient
from sqlalchemy import select

from advisor.audit.checkpoint import Checkpoint, verify_checkpoint
from advisor.audit.keys import b64url
from advisor.audit.merkle import leaf_hash, root_of
from advisor.audit.record import signed_payload
from advisor.audit.verify import load_keys
from advisor.services import Services
from advisor.settings import Settings
from advisor.store.tables import records, tree_heads
from advisor.store.verification import verify_database
from tests.factories import profile_dict
from tests.signed_log import REQUESTERS, append_records, sign_legacy_jws, tampering
from tests.unit.test_merkle import pymerkle_accepts_inclusion

COUNT = 25
Client = TestClient[Litestar]


@pytest.fixture
def services(app: Litestar, client: Client) -> Services:
    """The started app with COUNT records from three requesters."""
    services: Services = app.state.services
    append_records(services, COUNT)
    return services


@pytest.fixture
def auditor(client_as: Callable[..., Client]) -> Client:
    return client_as("auditor")


def walk(client: Client, **params: Any) -> list[dict[str, Any]]:
    """Every page of a listing, following the cursor."""
    items: list[dict[str, Any]] = []
    cursor = None
    for _ in range(100):
        response = client.get("/assessments", params={**params, **({"cursor": cursor} if cursor else {})})
        assert response.status_code == 200, response.text
        page = response.json()
        items.extend(page["items"])
        cursor = page["next_cursor"]
        if cursor is None:
            return items
    raise AssertionError("the cursor never ended")


def test_listing_is_newest_first_and_pages_without_overlap(services: Services, auditor: Client) -> None:
    items = walk(auditor, limit=7)
    assert [i["seq"] for i in items] == list(range(COUNT, 0, -1))
    first = auditor.get("/assessments").json()
    assert len(first["items"]) == COUNT  # default limit 50
    assert first["next_cursor"] is None
    assert set(first["items"][0]) == {"id", "seq", "created_at", "requester", "organization", "decision",
                                      "strength", "rules_digest", "catalog_id", "hash", "integrity", "monthly_usd",
                                      "headline", "status"}  # no industry in these profiles
    assert {i["status"] for i in first["items"]} == {"proposed"}  # nobody reviewed them


def test_listing_filters(services: Services, auditor: Client) -> None:
    everything = walk(auditor)
    for name, value in (("requester", REQUESTERS[2]),
                        ("decision", everything[3]["decision"]), ("strength", everything[5]["strength"]),
                        ("rules_digest", everything[0]["rules_digest"])):
        expected = [i["seq"] for i in everything if i[name] == value]
        assert expected, name
        assert [i["seq"] for i in walk(auditor, **{name: value}, limit=4)] == expected, name
    # organization: a case-insensitive prefix
    expected = [i["seq"] for i in everything if i["organization"] == "Org 1"]
    assert expected
    assert [i["seq"] for i in walk(auditor, organization="oRG 1", limit=4)] == expected
    assert [i["seq"] for i in walk(auditor, organization="org")] == [i["seq"] for i in everything]
    both = walk(auditor, organization="Org 2", requester=REQUESTERS[0])
    assert [i["seq"] for i in both] == [i["seq"] for i in everything
                                        if i["organization"] == "Org 2" and i["requester"] == REQUESTERS[0]]


def test_listing_by_time_accepts_any_offset(services: Services, auditor: Client) -> None:
    with services.engine.begin() as conn:  # spread the records over time, newest last
        for seq in range(1, COUNT + 1):
            conn.execute(records.update().where(records.c.seq == seq)
                         .values(created_at=f"2026-03-01T10:{seq:02d}:00.000000Z"))
    since = datetime(2026, 3, 1, 10, 10, tzinfo=UTC)
    until = datetime(2026, 3, 1, 10, 20, tzinfo=UTC)
    expected = list(range(19, 9, -1))  # from 10:10 inclusive to 10:20 exclusive
    utc = walk(auditor, created_from=since.isoformat().replace("+00:00", "Z"), created_to=until.isoformat())
    assert [i["seq"] for i in utc] == expected
    plus_two = timezone(timedelta(hours=2))
    shifted = walk(auditor, created_from=since.astimezone(plus_two).isoformat(),
                   created_to=until.astimezone(plus_two).isoformat())
    assert [i["seq"] for i in shifted] == expected


@pytest.mark.parametrize(("params", "field"), [
    ({"limit": 0}, "limit"), ({"limit": 201}, "limit"), ({"cursor": "abc"}, "cursor"), ({"cursor": "0"}, "cursor"),
    ({"created_from": "yesterday"}, "created_from"), ({"created_to": "2026-01-01T00:00:00"}, "created_to"),
    ({"decision": "cloud"}, "decision"), ({"strength": "strong"}, "strength"),
])
def test_listing_rejects_bad_parameters(services: Services, auditor: Client, params: dict[str, Any],
                                        field: str) -> None:
    response = auditor.get("/assessments", params=params)
    assert response.status_code == 400
    assert response.headers["content-type"].startswith("application/problem+json")
    assert response.json()["field"] == field


def test_an_assessor_lists_only_its_own_records(app: Litestar, client: Client,
                                                client_as: Callable[..., Client], auditor: Client) -> None:
    other = client_as("assessor", "other-portal")
    mine = [client.post("/assess", json=profile_dict(organization={"name": f"Mine {i}"})).json()["id"]
            for i in range(3)]
    theirs = [other.post("/assess", json=profile_dict(organization={"name": f"Theirs {i}"})).json()["id"]
              for i in range(2)]
    assert [i["id"] for i in walk(client)] == mine[::-1]
    assert [i["id"] for i in walk(other)] == theirs[::-1]
    assert {i["id"] for i in walk(auditor)} == set(mine + theirs)
    someone_else = walk(other)[0]["requester"]
    refused = client.get("/assessments", params={"requester": someone_else})
    assert refused.status_code == 403


def test_verification_of_a_sound_record(services: Services, auditor: Client) -> None:
    middle = walk(auditor)[COUNT // 2]
    body = auditor.get(f"/assessments/{middle['id']}/verification").json()
    assert body["valid"] is True
    assert all(body["checks"].values())
    assert body["predecessor"] == {"seq": middle["seq"] - 1, "hash": body["prev_hash"], "linked": True}
    assert body["successor"]["linked"] is True
    successor = walk(auditor)[COUNT // 2 - 1]  # newest first: the record after ``middle``
    assert successor["seq"] == middle["seq"] + 1
    assert body["successor"]["hash"] == successor["hash"], "the successor's own hash, not its prev_hash"
    assert body["key"]["known"] is True
    assert body["key"]["alg"] == "Ed25519"  # its commit's checkpoint: a signed note
    assert auditor.get("/assessments/nope/verification").status_code == 404


def test_verification_of_a_legacy_record_checks_its_own_jws(services: Services, auditor: Client) -> None:
    with services.engine.begin() as conn:
        assert sign_legacy_jws(conn, services) == COUNT  # as the writer before revision 0008 signed them
    middle = walk(auditor)[COUNT // 2]
    body = auditor.get(f"/assessments/{middle['id']}/verification").json()
    assert body["valid"] is True
    assert all(body["checks"].values())
    assert body["key"]["alg"] == "EdDSA"  # the record's own JWS
    assert auditor.get(f"/assessments/{middle['id']}").json()["receipt"]["jws"].count(".") == 2


def test_verification_of_a_record_whose_commit_checkpoint_is_gone(services: Services, auditor: Client) -> None:
    newest = walk(auditor)[0]
    with services.engine.begin() as conn:
        conn.execute(tree_heads.delete().where(tree_heads.c.size >= newest["seq"]))
    body = auditor.get(f"/assessments/{newest['id']}/verification").json()
    assert body["valid"] is False
    assert body["checks"]["signature"] is False
    assert body["problems"][0]["kind"] == "unsigned"


@pytest.mark.parametrize("settings", ["sqlite"], indirect=True)
def test_verification_shows_what_was_tampered_with(settings: Settings, services: Services, auditor: Client) -> None:
    with tampering(settings) as conn:
        conn.execute("UPDATE records SET payload = replace(payload, '\"strength\":\"', '\"strength\":\"x') "
                     "WHERE seq = 5")
        conn.execute("DELETE FROM records WHERE seq = 7")
        record_id = conn.execute("SELECT id FROM records WHERE seq = 5").fetchone()[0]
        neighbour = conn.execute("SELECT id FROM records WHERE seq = 8").fetchone()[0]
    body = auditor.get(f"/assessments/{record_id}/verification").json()
    assert body["valid"] is False
    assert body["checks"]["hash"] is False
    assert body["checks"]["signature"] is False
    assert body["checks"]["predecessor"] is True
    assert body["problems"][0]["kind"] == "edited"
    after_gap = auditor.get(f"/assessments/{neighbour}/verification").json()
    assert after_gap["predecessor"] is None
    assert [(p["seq"], p["kind"]) for p in after_gap["problems"]] == [(8, "deleted")]


def test_checkpoint_is_signed_over_the_current_head(services: Services, auditor: Client, client: Client) -> None:
    response = auditor.get("/audit/checkpoint")
    assert response.status_code == 200
    checkpoint = msgspec.convert(response.json(), Checkpoint)
    size, _ = services.repository.head()
    assert checkpoint.size == size == COUNT
    assert checkpoint.origin == services.settings.log_name
    keys = load_keys(client.get("/.well-known/jwks.json").json())
    assert verify_checkpoint(checkpoint, keys, services.settings.log_name).size == COUNT
    # The root is the RFC 9162 Merkle root of the records' stored bytes, recomputed here from them.
    with services.engine.connect() as conn:
        payloads = [row.payload.encode() for row in conn.execute(select(records.c.payload).order_by(records.c.seq))]
    root_line = checkpoint.note.split("\n")[2]
    assert base64.b64decode(root_line) == root_of([leaf_hash(p) for p in payloads])


def jose_verify(token: str, key_set: KeySet, payload: bytes | None = None) -> Any:
    """joserfc warns that RFC 9864 deprecates the name EdDSA; we still emit it, as most tools know only it."""
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message="EdDSA is deprecated", category=SecurityWarning)
        return jws.deserialize_compact(token, key_set, algorithms=["EdDSA", "Ed25519"], payload=payload)


def portal_payload(body: dict[str, Any]) -> bytes:
    """The signed bytes a portal rebuilds from a served assessment with any RFC 8785 library (here ``rfc8785``)."""
    receipt = body["receipt"]
    recommendation = {k: v for k, v in body.items() if k not in ("id", "created_at", "requester", "receipt", "status")}
    return rfc8785.dumps({"created_at": body["created_at"], "id": body["id"], "key_id": receipt["key_id"],
                          "log": receipt["log"], "prev_hash": receipt["prev_hash"], "recommendation": recommendation,
                          "requester": body["requester"], "seq": receipt["seq"]})


def note_signed_by(note: str, jwks_document: dict[str, Any]) -> tuple[int, bytes]:
    """(size, root) of a C2SP signed note checked by hand against the JWKS, with ``cryptography`` alone."""
    text, _, signatures = note.partition("\n\n")
    origin, size, root = text.split("\n")
    for line in signatures.splitlines():
        blob = base64.b64decode(line.split(" ")[2])
        for key in jwks_document["keys"]:
            raw = base64.urlsafe_b64decode(key["x"] + "=" * (-len(key["x"]) % 4))
            if hashlib.sha256(origin.encode() + b"\n\x01" + raw).digest()[:4] == blob[:4]:
                Ed25519PublicKey.from_public_bytes(raw).verify(blob[4:], (text + "\n").encode())
                return int(size), base64.b64decode(root)
    raise AssertionError("no key of the JWKS signed the note")


def test_receipts_verify_with_independent_code(services: Services, auditor: Client, client: Client) -> None:
    """Each receipt with code that is not ours: the signed bytes rebuilt with an RFC 8785 library, the commit's
    checkpoint with ``cryptography`` and the published JWKS, the inclusion path with pymerkle (RFC 9162)."""
    jwks_document = client.get("/.well-known/jwks.json").json()
    for record_id in [i["id"] for i in walk(auditor)]:
        response = auditor.get(f"/assessments/{record_id}")
        body = response.json()
        receipt = body["receipt"]
        payload = portal_payload(body)
        assert payload == signed_payload(response.content)
        assert "jws" not in receipt  # signed per commit
        assert hashlib.sha256(payload).hexdigest() == receipt["hash"]
        size, root = note_signed_by(receipt["checkpoint"], jwks_document)
        assert size == receipt["tree_size"] >= receipt["seq"]
        path = [base64.b64decode(h) for h in receipt["inclusion_path"]]
        leaf = hashlib.sha256(b"\x00" + payload).digest()
        assert pymerkle_accepts_inclusion(receipt["leaf_index"], size, leaf, path, root)
        forged = hashlib.sha256(b"\x00" + payload.replace(b'"strength":"', b'"strength":"x', 1)).digest()
        assert not pymerkle_accepts_inclusion(receipt["leaf_index"], size, forged, path, root)
        assert len(response.content) < len(payload) + 2048  # the assessment once, the receipt under 2 KB
        assert len(json.dumps(receipt)) <= 2048


def test_legacy_records_verify_with_an_independent_jose_library(services: Services, auditor: Client,
                                                                client: Client) -> None:
    """joserfc (not our code) checks a legacy receipt's detached JWS over the bytes rebuilt from the body itself."""
    with services.engine.begin() as conn:
        sign_legacy_jws(conn, services)
    key_set = KeySet.import_key_set(client.get("/.well-known/jwks.json").json())
    for record_id in [i["id"] for i in walk(auditor)]:
        response = auditor.get(f"/assessments/{record_id}")
        body = response.json()
        receipt = body["receipt"]
        payload = portal_payload(body)
        assert payload == signed_payload(response.content)
        token = jose_verify(receipt["jws"], key_set, payload)
        assert token.protected["kid"] == receipt["key_id"]
        assert hashlib.sha256(payload).hexdigest() == receipt["hash"]
        assert len(json.dumps(receipt)) <= 2048
    header, _, signature = receipt["jws"].split(".")
    forged = payload.replace(b'"strength":"', b'"strength":"x', 1)
    with pytest.raises(BadSignatureError):
        jose_verify(f"{header}.{b64url(forged)}.{signature}", key_set)
    with pytest.raises(BadSignatureError):
        jose_verify(receipt["jws"], key_set, forged)


def test_concurrent_posts_leave_one_chain_with_every_acknowledged_record(app: Litestar, client: Client) -> None:
    """200 requests at once through the ASGI app: one chain, no fork, no gap, each 201 in it as told."""
    headers = {"Authorization": client.headers["Authorization"]}
    bodies = [profile_dict(organization={"name": f"Concurrent {i}"}, workload={"daily_tokens": 1000 + i})
              for i in range(200)]

    async def post_all() -> list[httpx.Response]:
        transport = httpx.ASGITransport(app=cast(Any, app))
        async with httpx.AsyncClient(transport=transport, base_url="http://testserver", headers=headers,
                                     timeout=60) as http:
            return await asyncio.gather(*(http.post("/assess", json=body) for body in bodies))

    responses = asyncio.run(post_all())
    assert [r.status_code for r in responses] == [201] * len(bodies)
    services: Services = app.state.services
    result = verify_database(services.engine, services.settings.log_name, workers=0)
    assert result.problem is None
    with services.engine.connect() as conn:
        stored = {r.id: (r.seq, r.hash) for r in conn.execute(select(records.c.id, records.c.seq, records.c.hash))}
    assert sorted(seq for seq, _ in stored.values()) == list(range(1, len(bodies) + 1))
    for response in responses:
        body = response.json()
        assert stored[body["id"]] == (body["receipt"]["seq"], body["receipt"]["hash"])


@pytest.mark.parametrize("settings", ["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)], indirect=True)
def test_a_board_can_find_organisations_by_prefix_and_substring(client: Client,
                                                                 client_as: Callable[..., Client]) -> None:
    names = ["Acme Health", "ACME Corp", "acmeville", "Northwind Acme", "Ac_me 100%", "Acorn", "Über Acme"]
    for name in names:
        assert client.post("/assess", json=profile_dict(organization={"name": name})).status_code == 201
    reviewer = client_as("reviewer")

    def listed(**params: str) -> list[str]:
        response = reviewer.get("/assessments", params=params)
        assert response.status_code == 200, response.text
        return sorted(i["organization"] for i in response.json()["items"])

    assert listed(organization="acme") == ["ACME Corp", "Acme Health", "acmeville"]
    assert listed(organization="ACME H") == ["Acme Health"]
    assert listed(organization="ac_") == ["Ac_me 100%"]  # LIKE wildcards are literal
    assert listed(organization="Ac%") == []
    assert listed(organization="Über") == ["Über Acme"]
    # Case is folded by the database's lower(): PostgreSQL folds every letter, SQLite only A-Z (documented).
    unicode_folded = client.app.state.services.engine.dialect.name == "postgresql"
    assert listed(organization="über") == (["Über Acme"] if unicode_folded else [])
    assert listed(q="ACME") == sorted(["ACME Corp", "Acme Health", "Northwind Acme", "Über Acme", "acmeville"])
    assert listed(q="100%") == ["Ac_me 100%"]
    assert listed(q="e_1") == []
    assert listed(q="me", organization="north") == ["Northwind Acme"]


def test_list_items_carry_the_cost_headline_and_industry(client: Client, client_as: Callable[..., Client]) -> None:
    record = client.post("/assess", json=profile_dict(organization={"name": "Board Co", "industry": "health"}))
    assert record.status_code == 201
    stored = record.json()
    item = client_as("reviewer").get("/assessments", params={"organization": "board"}).json()["items"][0]
    assert item["monthly_usd"] == stored["options"][stored["decision"]]["monthly_usd"]
    assert item["industry"] == "health"
    assert stored["summary"].startswith(item["headline"])
    assert item["headline"].endswith(".")
    assert item["headline"] != stored["summary"]
    assert "Estimated TCO" not in item["headline"]


@pytest.mark.parametrize("settings", ["sqlite"], indirect=True)
def test_both_ways_to_a_prefix_page_on_sqlite_give_the_same_pages(services: Services) -> None:
    """A rare prefix is read from the index, a common one by walking the log: the same pages either way."""
    from advisor.store.repository import ListFilter, Repository

    by_index, by_walk = Repository(services.engine, prefix_common=10**9), Repository(services.engine, prefix_common=1)
    for where in (ListFilter(organization="org"), ListFilter(organization="ORG 3"),
                  ListFilter(organization="org 1", requester=REQUESTERS[1]), ListFilter(organization="nothing")):
        for before in (None, COUNT - 3, 5):
            first, second = by_index.page(where, before, 4), by_walk.page(where, before, 4)
            assert first == second, where
    assert [s.seq for s in by_walk.page(ListFilter(organization="org 3"), None, 50)] == [
        s.seq for s in by_walk.page(ListFilter(), None, 50) if s.organization == "Org 3"] != []
