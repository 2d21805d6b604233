"""One record's bad data fails that record only: the rest of its group-commit batch commits.

Before, only integrity errors were retried one by one: a value PostgreSQL refuses (a NUL in a
text column) failed the whole batch with a retryable 503, so one client's request failed
another's, and its own retry looped forever.
"""

from __future__ import annotations

import base64
import concurrent.futures
import uuid
from collections.abc import Callable
from typing import Any

import pytest
from litestar import Litestar
from litestar.testing import TestClient
from sqlalchemy import Connection, select

from advisor.audit.merkle import leaf_hash, root_of
from advisor.audit.record import Columns
from advisor.auth.clients import Role
from advisor.store.errors import RecordRefused, StoreUnavailable
from advisor.store.tables import merkle_nodes, records, tree_heads
from advisor.store.writer import Appended, ChainWriter, Draft, commit_batch
from tests.conftest import issue_key
from tests.factories import make_profile, profile_dict
from tests.integration.chain import check_chain


def drafts(app: Litestar, count: int, poison: dict[int, Callable[[Draft], Draft]]) -> list[Draft]:
    recommendation = app.state.services.advisor.assess(make_profile())
    made = [Draft.new(id=str(uuid.uuid4()), requester="test", recommendation=recommendation) for _ in range(count)]
    return [poison[i](d) if i in poison else d for i, d in enumerate(made)]


def writer(app: Litestar) -> ChainWriter:
    services = app.state.services
    return ChainWriter(services.db, services.keyring, services.settings.log_name, 256)


def refusing(_conn: Connection, _appended: Appended) -> None:
    raise ValueError("this record's own rows are refused")


def test_a_refused_record_fails_alone_and_the_rest_of_its_batch_commits(app: Litestar) -> None:
    batch = drafts(app, 9, {3: lambda d: Draft(**{**{f: getattr(d, f) for f in d.__struct_fields__},
                                                   "also_write": refusing})})
    outcomes = commit_batch(writer(app).append_sync, batch)
    assert isinstance(outcomes[3], RecordRefused)
    assert not isinstance(outcomes[3], StoreUnavailable), "a request that can never succeed must not be a 503"
    good = [o for i, o in enumerate(outcomes) if i != 3]
    assert all(isinstance(o, Appended) for o in good)
    assert sorted(check_chain(app.state.services.engine)) == sorted(d.id for i, d in enumerate(batch) if i != 3)


def test_a_refused_record_leaves_the_merkle_tree_exactly_the_committed_records(
        app: Litestar, client_as: Callable[..., TestClient[Litestar]]) -> None:
    """Halving a poisoned batch commits each good half with its own leaves and tree head; the refused
    record's leaf (and any head that counted it) goes with its rolled-back transaction."""
    batch = drafts(app, 9, {3: lambda d: Draft(**{**{f: getattr(d, f) for f in d.__struct_fields__},
                                                   "also_write": refusing}),
                            6: lambda d: Draft(**{**{f: getattr(d, f) for f in d.__struct_fields__},
                                                   "also_write": refusing})})
    outcomes = commit_batch(writer(app).append_sync, batch)
    assert [i for i, o in enumerate(outcomes) if not isinstance(o, Appended)] == [3, 6]
    committed = {d.id for i, d in enumerate(batch) if i not in (3, 6)}
    with app.state.services.engine.connect() as conn:
        stored = conn.execute(select(records.c.seq, records.c.id, records.c.payload).order_by(records.c.seq)).all()
        leaves = dict(conn.execute(select(merkle_nodes.c.idx, merkle_nodes.c.hash)
                                   .where(merkle_nodes.c.level == 0)).all())
        heads = conn.execute(select(tree_heads.c.size, tree_heads.c.root_hash)).all()
    assert {row.id for row in stored} == committed
    expected = [leaf_hash(row.payload.encode("utf-8")) for row in stored]
    assert [bytes(leaves[i]) for i in sorted(leaves)] == expected, "one leaf per committed record, in seq order"
    assert sorted(leaves) == list(range(len(stored)))
    assert heads
    assert max(size for size, _ in heads) == len(stored)
    for size, root in heads:  # every signed head is the root of the committed records before it
        assert root == root_of(expected[:size]).hex()
    check_chain(app.state.services.engine)
    auditor = client_as(Role.AUDITOR)
    for appended in outcomes:  # each committed record is served, its read check and receipt passing
        if isinstance(appended, Appended):
            response = auditor.get(f"/assessments/{appended.envelope.id}")
            assert response.status_code == 200, response.text
            receipt = response.json()["receipt"]
            assert receipt["tree_size"] == appended.checkpoint.size >= appended.envelope.seq  # its own commit's
            assert receipt["checkpoint"] == appended.checkpoint.note
            assert [base64.b64decode(h) for h in receipt["inclusion_path"]] == appended.inclusion_path


@pytest.mark.postgres
@pytest.mark.parametrize("settings", ["postgres"], indirect=True)
def test_postgres_poison_nul_in_one_record_fails_only_that_record(app: Litestar) -> None:
    """The writer's own guard, below the API's door: a NUL PostgreSQL refuses, inside a batch of good records."""

    def nul(d: Draft) -> Draft:
        assert d.columns is not None
        columns = Columns(**{**{f: getattr(d.columns, f) for f in d.columns.__struct_fields__},
                             "organization": "x\x00y"})
        return Draft(id=d.id, requester="attacker", recommendation_raw=d.recommendation_raw, columns=columns)

    batch = drafts(app, 12, {0: nul, 7: nul})
    outcomes = commit_batch(writer(app).append_sync, batch)
    assert isinstance(outcomes[0], RecordRefused)
    assert isinstance(outcomes[7], RecordRefused)
    assert all(isinstance(o, Appended) for i, o in enumerate(outcomes) if i not in (0, 7))
    assert len(check_chain(app.state.services.engine)) == 10


@pytest.mark.postgres
@pytest.mark.parametrize("settings", ["postgres"], indirect=True)
def test_postgres_poison_one_clients_bad_requests_never_fail_anothers(app: Litestar,
                                                                    client: TestClient[Litestar]) -> None:
    """Both clients through the one started test client (one event loop), each with its own key."""
    attacker = {"Authorization": f"Bearer {issue_key(app, 'assessor', 'attacker')}"}
    bad = profile_dict(organization={"name": "x\u0000y"})

    def send(i: int) -> tuple[str, Any]:
        if i % 4 == 0:
            return "bad", client.post("/assess", json=bad, headers=attacker)
        return "good", client.post("/assess", json=profile_dict(workload={"daily_tokens": 1000 + i}))

    with concurrent.futures.ThreadPoolExecutor(8) as pool:
        results = list(pool.map(send, range(80)))
    assert {r.status_code for kind, r in results if kind == "good"} == {201}
    assert {r.status_code for kind, r in results if kind == "bad"} == {400}
    assert len(check_chain(app.state.services.engine)) == 60
