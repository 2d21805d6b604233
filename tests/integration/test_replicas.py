"""Many server processes, one log: no fork, no gap, nothing acknowledged lost, no duplicates.

Each test starts real ``advisor serve`` processes against a fresh database and loads them from
client threads; crashes are real (``kill -9`` of a replica, a restart of a private PostgreSQL cluster the
test starts itself: the machine's server is never touched beyond creating and dropping test databases). Loads are
bounded (a few hundred requests) and every wait has a deadline.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import Engine, select

from advisor.settings import Settings
from advisor.store.database import make_engine, migrate, normalise_url
from advisor.store.tables import records
from tests.integration.chain import check_chain
from tests.integration.cluster import (
    Load,
    Outcome,
    Server,
    bodies,
    disrupted,
    running,
    server_env,
    wait_ready,
)
from tests.integration.private_postgres import PrivateCluster, private_cluster
from tests.integration.private_postgres import unavailable as private_postgres_unavailable
from tests.network import free_port

pytestmark = pytest.mark.slow
REQUESTS = 240


@pytest.fixture
def engine_of() -> Iterator[Callable[[str], Engine]]:
    engines: list[Engine] = []

    def make(url: str) -> Engine:
        engines.append(make_engine(Settings(database_url=url)))
        return engines[-1]

    yield make
    for engine in engines:
        engine.dispose()


def assert_log_holds(engine: Engine, outcomes: list[Outcome]) -> list[str]:
    """Every request acknowledged; every acknowledgement stored as told; one record per request; chain verifies."""
    unacknowledged = [(o.key, o.attempts[-5:]) for o in outcomes if o.record is None]
    assert not unacknowledged, f"{len(unacknowledged)} requests never acknowledged, e.g. {unacknowledged[:3]}"
    ids = check_chain(engine)
    with engine.connect() as conn:
        stored = {row.id: (row.seq, row.hash) for row in conn.execute(select(records.c.id, records.c.seq,
                                                                            records.c.hash))}
    for outcome in outcomes:
        assert outcome.record is not None
        receipt = outcome.record["receipt"]
        assert stored.get(outcome.record["id"]) == (receipt["seq"], receipt["hash"]), \
            f"acknowledged record {outcome.record['id']} (key {outcome.key}) is not stored as acknowledged"
    told = {o.key: o.record["id"] for o in outcomes if o.record is not None}
    assert len(set(told.values())) == len(told), "two requests were told the same record id"
    duplicates = len(ids) - len(told)
    assert duplicates == 0, f"{duplicates} record(s) stored beyond one per request: retries duplicated them"
    return ids


def assert_retries_replay(urls: list[str], load: Load, sample: int = 10) -> None:
    """The same key and body again, on any replica: the same record, not a new one."""
    with httpx.Client(timeout=15) as client:
        for i, outcome in enumerate(load.outcomes[:sample]):
            assert outcome.record is not None
            response = client.post(urls[(i + 1) % len(urls)] + "/assess", json=load.bodies[i],
                                   headers={"Idempotency-Key": outcome.key})
            assert response.status_code in (200, 201), response.text
            assert response.json()["id"] == outcome.record["id"], "a retry with the same key made a new record"


def load_in_background(load: Load) -> tuple[ThreadPoolExecutor, Any]:
    pool = ThreadPoolExecutor(max_workers=1)
    return pool, pool.submit(load.run)


@pytest.mark.postgres
def test_four_replicas_append_one_chain(postgres_database: str, tmp_path: Path,
                                        engine_of: Callable[[str], Engine]) -> None:
    env = server_env(postgres_database, tmp_path / "keys")
    with running(4, env, tmp_path) as servers:  # started together: they also race to migrate and register a key
        urls = [s.url for s in servers]
        load = Load(bodies(REQUESTS, "Replica"), lambda: urls)
        load.run()
        assert_retries_replay(urls, load)
        with httpx.Client(timeout=10) as client:  # every replica serves every record and the same keys
            jwks = {client.get(u + "/.well-known/jwks.json").text for u in urls}
            assert len(jwks) == 1
            some = load.outcomes[-1].record
            assert some is not None
            assert {client.get(f"{u}/assessments/{some['id']}").status_code for u in urls} == {200}
    ids = assert_log_holds(engine_of(postgres_database), load.outcomes)
    assert len(ids) == REQUESTS
    assert len(list((tmp_path / "keys").glob("*.pem"))) == 1, "replicas sharing a keys dir made more than one key"


@pytest.mark.postgres
def test_kill_9_of_a_replica_mid_load_loses_nothing(postgres_database: str, tmp_path: Path,
                                                   engine_of: Callable[[str], Engine]) -> None:
    env = server_env(postgres_database, tmp_path / "keys")
    with running(4, env, tmp_path) as servers:
        urls = [s.url for s in servers]
        load = Load(bodies(REQUESTS, "Crash"), lambda: urls)
        halfway = load.when_acknowledged(REQUESTS // 4)
        pool, done = load_in_background(load)
        with pool:
            assert halfway.wait(timeout=120), "the load never got going"
            servers[1].kill_9()
            done.result(timeout=300)
        assert disrupted(load.outcomes) > 0, "the kill interrupted no request"
        survivors = [s.url for s in servers if s is not servers[1]]
        assert_retries_replay(survivors, load)
    assert_log_holds(engine_of(postgres_database), load.outcomes)


@pytest.fixture
def private_postgres() -> Iterator[PrivateCluster]:
    """A PostgreSQL cluster of this test's own: the machine's server is never stopped or restarted."""
    reason = private_postgres_unavailable()
    if reason is not None:
        pytest.skip(reason)
    with private_cluster() as cluster:
        yield cluster


def test_postgres_restart_mid_load_loses_nothing(private_postgres: PrivateCluster, tmp_path: Path,
                                                 engine_of: Callable[[str], Engine]) -> None:
    """Disruptive, on a private cluster: restarts it (dropping every session) under load."""
    url = normalise_url(private_postgres.create_database("advisor"))
    env = server_env(url, tmp_path / "keys")
    with running(2, env, tmp_path) as servers:
        urls = [s.url for s in servers]
        load = Load(bodies(REQUESTS, "Restart"), lambda: urls)
        started = load.when_acknowledged(REQUESTS // 4)
        pool, done = load_in_background(load)
        with pool:
            assert started.wait(timeout=120), "the load never got going"
            private_postgres.restart()
            done.result(timeout=300)
        assert disrupted(load.outcomes) > 0, "the restart interrupted no request"
        wait_ready(servers)  # both replicas recovered by themselves: nothing was restarted but the database
        assert_retries_replay(urls, load)
    assert_log_holds(engine_of(url), load.outcomes)


def test_kill_9_of_the_single_sqlite_process_loses_nothing(tmp_path: Path,
                                                           engine_of: Callable[[str], Engine]) -> None:
    url = f"sqlite:///{tmp_path}/advisor.db"
    migrate(Settings(database_url=url))
    server = Server(port=free_port(), env=server_env(url, tmp_path / "keys"), log_path=tmp_path / "server.log")
    load = Load(bodies(REQUESTS // 2, "Lite"), lambda: [server.url], threads=8)
    restarted = threading.Event()
    try:
        server.start()
        wait_ready([server])
        halfway = load.when_acknowledged(REQUESTS // 8)
        pool, done = load_in_background(load)
        with pool:
            assert halfway.wait(timeout=120), "the load never got going"
            server.kill_9()
            server.start()  # the same deployment comes back; clients retry meanwhile
            wait_ready([server])
            restarted.set()
            done.result(timeout=300)
        assert disrupted(load.outcomes) > 0, "the kill interrupted no request"
        assert_retries_replay([server.url], load)
    finally:
        server.stop()
    assert restarted.is_set()
    assert_log_holds(engine_of(url), load.outcomes)
