"""Idempotency-Key on POST /assess: replay, reuse with another body, in flight, crashes, many processes."""

from __future__ import annotations

import asyncio
import hashlib
import json
import uuid
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any, cast

import httpx
import pytest
from litestar import Litestar
from litestar.testing import TestClient
from sqlalchemy import Connection, func, insert, select, update

from advisor.app import create_app
from advisor.application.ports import Claimed
from advisor.services import Services
from advisor.settings import Settings
from advisor.store.errors import DraftRejected, LeaseLost, StoreUnavailable
from advisor.store.idempotency import COMPLETE, PENDING, IdempotencyStore
from advisor.store.tables import idempotency_keys, records
from advisor.store.writer import Appended, Draft, commit_batch
from tests.factories import make_profile, profile_dict
from tests.signed_log import in_process_writer

Client = TestClient[Litestar]


def stamp(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def record_count(app: Litestar) -> int:
    count: int = app.state.services.repository.count()
    return count


def key_rows(app: Litestar) -> list[Any]:
    with app.state.services.engine.connect() as conn:
        return list(conn.execute(select(idempotency_keys)))


def client_id(client: Client) -> str:
    return client.headers["Authorization"].split("_")[1]


def test_same_key_and_body_replays_the_original_201(app: Litestar, client: Client) -> None:
    body = profile_dict()
    first = client.post("/assess", json=body, headers={"Idempotency-Key": "order-1"})
    assert first.status_code == 201
    assert "idempotent-replayed" not in first.headers
    again = client.post("/assess", json=body, headers={"Idempotency-Key": "order-1"})
    assert again.status_code == 201
    assert again.headers["idempotent-replayed"] == "true"
    assert again.headers["location"] == first.headers["location"]
    assert again.content == first.content  # byte for byte: same id, receipt, everything
    assert first.json()["id"] == first.headers["location"].rsplit("/", 1)[1]
    assert record_count(app) == 1
    [row] = key_rows(app)
    assert (row.status, row.record_id, row.client_id) == (COMPLETE, first.json()["id"], client_id(client))


def test_a_quoted_key_is_the_same_key(client: Client) -> None:
    """The draft defines the header as a structured-field string: "abc" and abc name one key."""
    first = client.post("/assess", json=profile_dict(), headers={"Idempotency-Key": '"order-2"'})
    again = client.post("/assess", json=profile_dict(), headers={"Idempotency-Key": "order-2"})
    assert again.headers["idempotent-replayed"] == "true"
    assert again.json()["id"] == first.json()["id"]


def test_same_key_with_another_body_is_422(app: Litestar, client: Client) -> None:
    assert client.post("/assess", json=profile_dict(), headers={"Idempotency-Key": "k"}).status_code == 201
    other = client.post("/assess", json=profile_dict(team={"ml_infra_engineers": 3}), headers={"Idempotency-Key": "k"})
    assert other.status_code == 422
    assert other.json()["type"].endswith("/idempotency-key-reused")
    assert other.json()["field"] == "Idempotency-Key"
    assert record_count(app) == 1


def test_keys_are_scoped_per_client(app: Litestar, client: Client, client_as: Callable[..., Client]) -> None:
    other = client_as("assessor", "other-portal")
    mine = client.post("/assess", json=profile_dict(), headers={"Idempotency-Key": "shared"})
    theirs = other.post("/assess", json=profile_dict(), headers={"Idempotency-Key": "shared"})
    assert (mine.status_code, theirs.status_code) == (201, 201)
    assert "idempotent-replayed" not in theirs.headers
    assert mine.json()["id"] != theirs.json()["id"]
    assert record_count(app) == 2


BODY = json.dumps(profile_dict()).encode()
FINGERPRINT = hashlib.sha256(BODY).hexdigest()
JSON = {"content-type": "application/json"}


def pending(app: Litestar, client: Client, key: str, lease: timedelta, owner: str) -> None:
    """A claim as another process leaves it while it works (or after it died)."""
    now = datetime.now(UTC)
    with app.state.services.engine.begin() as conn:
        conn.execute(insert(idempotency_keys).values(
            client_id=client_id(client), idempotency_key=key, fingerprint=FINGERPRINT, status=PENDING,
            owner=owner, lease_until=stamp(now + lease), created_at=stamp(now - timedelta(minutes=2)),
            expires_at=stamp(now + timedelta(hours=24))))


def test_a_key_still_in_flight_is_409(app: Litestar, client: Client) -> None:
    """A pending claim with a live lease (another process is working on it): 409 with Retry-After."""
    pending(app, client, "busy", timedelta(seconds=30), "someone-else")
    response = client.post("/assess", content=BODY, headers=JSON | {"Idempotency-Key": "busy"})
    assert response.status_code == 409
    assert response.json()["type"].endswith("/idempotency-key-in-flight")
    assert response.headers["retry-after"] == "1", "the request in flight finishes in ms, not when its lease ends"
    assert record_count(app) == 0


def test_a_claim_whose_owner_died_is_taken_over_after_its_lease(app: Litestar, client: Client) -> None:
    pending(app, client, "orphan", timedelta(seconds=-1), "dead-process")
    response = client.post("/assess", content=BODY, headers=JSON | {"Idempotency-Key": "orphan"})
    assert response.status_code == 201
    assert record_count(app) == 1
    [row] = key_rows(app)
    assert (row.status, row.record_id) == (COMPLETE, response.json()["id"])
    assert row.owner != "dead-process"


def test_a_failed_request_keeps_nothing_and_the_key_can_be_used_again(app: Litestar, client: Client) -> None:
    bad = client.post("/assess", json=profile_dict(assumptions={"catalog": "nope"}), headers={"Idempotency-Key": "r"})
    assert bad.status_code == 422
    assert bad.json()["type"].endswith("/unknown-reference")
    assert key_rows(app) == []
    good = client.post("/assess", json=profile_dict(), headers={"Idempotency-Key": "r"})
    assert good.status_code == 201
    assert "idempotent-replayed" not in good.headers


def test_an_expired_key_is_forgotten(app: Litestar, client: Client) -> None:
    first = client.post("/assess", json=profile_dict(), headers={"Idempotency-Key": "old"})
    with app.state.services.engine.begin() as conn:
        conn.execute(update(idempotency_keys).values(expires_at=stamp(datetime.now(UTC) - timedelta(seconds=1))))
    second = client.post("/assess", json=profile_dict(team={"ml_infra_engineers": 2}),
                         headers={"Idempotency-Key": "old"})
    assert second.status_code == 201
    assert second.json()["id"] != first.json()["id"]
    assert record_count(app) == 2


def test_expiry_is_the_configured_period(app: Litestar, client: Client) -> None:
    client.post("/assess", json=profile_dict(), headers={"Idempotency-Key": "ttl"})
    [row] = key_rows(app)
    kept = datetime.strptime(row.expires_at, "%Y-%m-%dT%H:%M:%S.%fZ") - \
        datetime.strptime(row.created_at, "%Y-%m-%dT%H:%M:%S.%fZ")
    assert kept == timedelta(hours=app.state.services.settings.idempotency_ttl_hours) >= timedelta(hours=24)


def test_purge_forgets_only_expired_keys(app: Litestar, client: Client) -> None:
    for key in ("a", "b"):
        client.post("/assess", json=profile_dict(), headers={"Idempotency-Key": key})
    services: Services = app.state.services
    with services.engine.begin() as conn:
        conn.execute(update(idempotency_keys).where(idempotency_keys.c.idempotency_key == "a")
                     .values(expires_at=stamp(datetime.now(UTC) - timedelta(seconds=1))))
    store = IdempotencyStore(services.db, 24)
    assert store.purge_expired() == 1
    assert [row.idempotency_key for row in key_rows(app)] == ["b"]


@pytest.mark.parametrize("key", ["", "x" * 256, "has space", "caf\u00e9", '"unbalanced', 'a"b'])
def test_a_malformed_key_is_400_naming_the_header(app: Litestar, client: Client, key: str) -> None:
    response = client.post("/assess", json=profile_dict(), headers={b"Idempotency-Key": key.encode()})
    assert response.status_code == 400, response.text
    assert response.json()["field"] == "Idempotency-Key"
    assert record_count(app) == 0


def concurrent_posts(apps: list[Litestar], authorization: str, key: str, count: int) -> list[httpx.Response]:
    """``count`` identical requests at once, spread over ``apps`` (replicas of one database)."""
    async def post_all() -> list[httpx.Response]:
        clients = [httpx.AsyncClient(transport=httpx.ASGITransport(app=cast(Any, app)), base_url="http://testserver",
                                     headers={"Authorization": authorization, "Idempotency-Key": key}, timeout=60)
                   for app in apps]
        try:
            return await asyncio.gather(*(clients[i % len(clients)].post("/assess", json=profile_dict())
                                          for i in range(count)))
        finally:
            for http in clients:
                await http.aclose()

    return asyncio.run(post_all())


def assert_exactly_one(responses: list[httpx.Response], app: Litestar) -> None:
    statuses = [r.status_code for r in responses]
    assert set(statuses) <= {201, 409}, statuses
    created = [r for r in responses if r.status_code == 201]
    assert len([r for r in created if "idempotent-replayed" not in r.headers]) == 1
    assert len({r.json()["id"] for r in created}) == 1
    assert all(r.content == created[0].content for r in created)
    assert all(r.headers["retry-after"] for r in responses if r.status_code == 409)
    assert record_count(app) == 1


def test_many_concurrent_requests_with_one_key_make_exactly_one_record(app: Litestar, client: Client) -> None:
    responses = concurrent_posts([app], client.headers["Authorization"], "storm", 24)
    assert_exactly_one(responses, app)


def test_replicas_sharing_a_database_make_exactly_one_record(settings: Settings, app: Litestar,
                                                             client: Client) -> None:
    """Three app instances (as three replicas would be) on one database, the same key sent to all at once."""
    replicas = [create_app(settings) for _ in range(2)]
    for replica in replicas:
        replica.state.services.writer.start()
    try:
        responses = concurrent_posts([app, *replicas], client.headers["Authorization"], "replicated", 18)
    finally:
        for replica in replicas:
            replica.state.services.writer.stop()
            replica.state.services.engine.dispose()
    assert_exactly_one(responses, app)


def test_the_record_and_its_key_commit_together(app: Litestar, client: Client) -> None:
    """A failure after the key's completion but before COMMIT (a crash) leaves neither: no record, key pending."""
    services: Services = app.state.services
    store = IdempotencyStore(services.db, 24)
    claim = store.claim(client_id(client), "atomic", "f" * 64)
    assert isinstance(claim, Claimed)
    owner = claim.owner

    def complete_then_crash(conn: Connection, appended: Appended) -> None:
        store.complete(conn, client_id(client), "atomic", owner, appended.envelope.id, 201, {})
        raise RuntimeError("the process died before COMMIT")

    draft = Draft.new(id=str(uuid.uuid4()), requester=client_id(client),
                      recommendation=services.advisor.assess(make_profile()), also_write=complete_then_crash)
    with pytest.raises(RuntimeError):
        in_process_writer(services).append_sync([draft])
    assert record_count(app) == 0
    [row] = key_rows(app)
    assert (row.status, row.record_id) == (PENDING, None)


def test_a_lost_claim_rolls_its_record_back(app: Litestar, client: Client) -> None:
    services: Services = app.state.services
    store = IdempotencyStore(services.db, 24)
    claim = store.claim(client_id(client), "stolen", "f" * 64)
    assert isinstance(claim, Claimed)
    owner = claim.owner
    with services.engine.begin() as conn:  # another process took the claim over meanwhile
        conn.execute(update(idempotency_keys).values(owner="the-other-process"))

    def complete(conn: Connection, appended: Appended) -> None:
        store.complete(conn, client_id(client), "stolen", owner, appended.envelope.id, 201, {})

    draft = Draft.new(id=str(uuid.uuid4()), requester=client_id(client),
                      recommendation=services.advisor.assess(make_profile()), also_write=complete)
    with pytest.raises(LeaseLost):
        in_process_writer(services).append_sync([draft])
    assert record_count(app) == 0


@pytest.mark.parametrize("failure", ["integrity", "rejected"])
def test_one_bad_draft_does_not_fail_the_others_in_its_batch(app: Litestar, client: Client, failure: str) -> None:
    """The writer commits a failed batch's drafts one by one: only the bad one fails."""
    services: Services = app.state.services
    recommendation = services.advisor.assess(make_profile())

    def bad(conn: Connection, _appended: Appended) -> None:
        if failure == "rejected":
            raise DraftRejected("refused by its own extra rows")
        # A unique violation (IntegrityError): this batch's first record already holds seq 1.
        conn.execute(insert(records).values(**{c.name: "x" for c in records.columns if c.name != "seq"}, seq=1))

    drafts = [Draft.new(id=str(uuid.uuid4()), requester="batch", recommendation=recommendation,
                        also_write=bad if i == 2 else None) for i in range(5)]

    # One batch, deterministically: the writer thread's own batch step, without its queue.
    outcomes = commit_batch(in_process_writer(services).append_sync, drafts)
    assert [type(o).__name__ for o in outcomes] == \
        ["Appended"] * 2 + ["DraftRejected" if failure == "rejected" else StoreUnavailable.__name__] + ["Appended"] * 2
    with services.engine.connect() as conn:
        stored = set(conn.execute(select(records.c.id)).scalars())
        assert conn.execute(select(func.count()).select_from(records)).scalar_one() == 4
    assert stored == {d.id for i, d in enumerate(drafts) if i != 2}
