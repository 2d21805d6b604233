"""The chain writer in its own process: the same log, the same errors, and no lost 201 when it dies."""

from __future__ import annotations

import concurrent.futures
import os
import signal
import time
import uuid
from typing import Any

import msgspec
import pytest
from litestar import Litestar
from litestar.testing import TestClient
from sqlalchemy import func, select, update

from advisor.application.ports import Claimed
from advisor.services import Services
from advisor.settings import Settings
from advisor.store.errors import LeaseLost
from advisor.store.idempotency import IdempotencyStore
from advisor.store.tables import idempotency_keys, records
from advisor.store.writer import Completion, Draft
from advisor.workers.writer import WriterProcess
from tests.factories import make_profile, profile_dict
from tests.integration.chain import check_chain

pytestmark = pytest.mark.slow


@pytest.fixture
def settings(settings: Settings) -> Settings:
    return msgspec.structs.replace(settings, writer_process=True)


def writer_of(app: Litestar) -> WriterProcess:
    writer = app.state.services.writer
    assert isinstance(writer, WriterProcess)
    return writer


def post_many(client: TestClient[Litestar], count: int) -> list[Any]:
    bodies = [profile_dict(workload={"daily_tokens": 10_000 * (i + 1)}) for i in range(count)]
    with concurrent.futures.ThreadPoolExecutor(8) as pool:
        return list(pool.map(lambda body: client.post("/assess", json=body), bodies))


def test_concurrent_appends_through_the_writer_process_form_one_chain(app: Litestar,
                                                                     client: TestClient[Litestar]) -> None:
    responses = post_many(client, 40)
    assert {r.status_code for r in responses} == {201}
    stored = check_chain(app.state.services.engine)
    assert sorted(stored) == sorted(r.json()["id"] for r in responses)
    first = responses[0]
    # The 201 is what was stored, its receipt too: its commit's checkpoint, whatever later commits signed.
    read = client.get(first.headers["location"]).json()
    created = first.json()
    assert read == created
    assert "jws" not in created["receipt"]
    assert created["receipt"]["tree_size"] >= created["receipt"]["seq"]
    assert len(writer_of(app).helpers.pids()) == 1


def test_an_idempotent_retry_replays_what_the_writer_process_completed(client: TestClient[Litestar]) -> None:
    body = profile_dict()
    first = client.post("/assess", json=body, headers={"Idempotency-Key": "wp-1"})
    again = client.post("/assess", json=body, headers={"Idempotency-Key": "wp-1"})
    assert (first.status_code, again.status_code) == (201, 201)
    assert again.headers["idempotent-replayed"] == "true"
    assert again.content == first.content


def test_a_lost_claim_comes_back_as_lease_lost(app: Litestar, client: TestClient[Litestar]) -> None:
    services: Services = app.state.services
    store = IdempotencyStore(services.db, 24)
    claim = store.claim("cl-test", "stolen", "f" * 64)
    assert isinstance(claim, Claimed)
    with services.engine.begin() as conn:  # another process took the claim over meanwhile
        conn.execute(update(idempotency_keys).values(owner="the-other-process"))
    draft = msgspec.structs.replace(
        Draft.new(id=str(uuid.uuid4()), requester="cl-test", recommendation=services.advisor.assess(make_profile())),
        completion=Completion(client_id="cl-test", key="stolen", owner=claim.owner, headers={}))

    async def append() -> None:
        await writer_of(app).append(draft)

    with pytest.raises(LeaseLost):
        client.blocking_portal.call(append)  # on the app's own event loop
    with services.engine.connect() as conn:
        assert conn.execute(select(func.count()).select_from(records)).scalar_one() == 0


def test_a_killed_writer_process_loses_no_acknowledged_record(app: Litestar, client: TestClient[Litestar]) -> None:
    writer = writer_of(app)
    assert client.post("/assess", json=profile_dict()).status_code == 201  # the writer process is up
    [victim] = writer.helpers.pids()

    def kill_soon() -> None:
        time.sleep(0.3)
        os.kill(victim, signal.SIGKILL)

    with concurrent.futures.ThreadPoolExecutor(1) as killer:
        killing = killer.submit(kill_soon)
        responses = post_many(client, 300)
        killing.result()
    codes = [r.status_code for r in responses]
    assert set(codes) <= {201, 503}
    assert 503 in codes, "the kill came after the load: nothing was tested"
    assert 201 in codes
    acknowledged = [r.json()["id"] for r in responses if r.status_code == 201]
    stored = check_chain(app.state.services.engine)
    assert set(acknowledged) <= set(stored)
    for _ in range(50):  # a new writer process takes over
        if writer.helpers.pids() not in ([], [victim]):
            break
        time.sleep(0.1)
    after = client.post("/assess", json=profile_dict())
    assert after.status_code == 201, after.text
    assert writer.restarts == 1
