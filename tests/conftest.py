"""Shared fixtures: the real rulebook, catalogs and rule engine; an app on a fresh database.

``settings`` (and so ``app`` and ``client``) runs every test twice: on a fresh SQLite file and on
a fresh PostgreSQL database (ids ``sqlite`` and ``postgres``). PostgreSQL tests skip with a
reason when the server is unreachable, except under CI (``CI`` set), where they fail instead.
"""

from __future__ import annotations

import functools
import os
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import psycopg
import pytest
from litestar import Litestar
from litestar.testing import TestClient
from psycopg import sql
from sqlalchemy.engine import make_url

from advisor.app import create_app, ensure_signing_key
from advisor.auth.clients import ClientStore, Role
from advisor.evaluators import build_advisor
from advisor.service import Advisor
from advisor.settings import Settings
from advisor.store.database import migrate, normalise_url


@pytest.fixture(scope="session")
def advisor() -> Advisor:
    return build_advisor(Settings())


# libpq URL of a maintenance database; test databases are created next to it. Not ADVISOR_*: settings reject those.
POSTGRES_ADMIN_URL = os.environ.get("TEST_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/postgres")


@functools.cache
def _postgres_problem() -> str | None:
    """Why PostgreSQL cannot be used (asked once per run), or None when it answers."""
    try:
        with psycopg.connect(POSTGRES_ADMIN_URL, connect_timeout=3, autocommit=True) as conn:
            conn.execute("SELECT 1")
    except psycopg.Error as exc:
        return f"{type(exc).__name__}: {str(exc).strip().splitlines()[0] if str(exc).strip() else ''}"
    return None


def require_postgres() -> str:
    """The admin URL, or skip (fail under CI: there the PostgreSQL tests must run) with the reason."""
    problem = _postgres_problem()
    if problem is None:
        return POSTGRES_ADMIN_URL
    where = make_url(POSTGRES_ADMIN_URL).render_as_string(hide_password=True)
    if os.environ.get("CI"):
        pytest.fail(f"PostgreSQL at {where} is unreachable under CI, where its tests must run: {problem}",
                    pytrace=False)
    pytest.skip(f"PostgreSQL at {where} is unreachable ({problem}); start it or set TEST_POSTGRES_URL")


def admin_execute(statement: sql.Composed) -> None:
    with psycopg.connect(require_postgres(), connect_timeout=5, autocommit=True) as conn:
        conn.execute(statement)


def admin_execute_retrying(statement: sql.Composed) -> None:
    """Retried for a while: the server may be busy starting (``.ci/run`` starts it when it is down)."""
    for attempt in range(20):
        try:
            admin_execute(statement)
            return
        except psycopg.OperationalError:
            if attempt == 19:
                raise
            time.sleep(0.5)


def drop_database(name: str) -> None:
    """FORCE ends sessions a test left behind."""
    admin_execute_retrying(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name)))


@pytest.fixture
def postgres_database() -> Iterator[str]:
    """A fresh, empty PostgreSQL database (SQLAlchemy URL) for one test, dropped afterwards."""
    admin = require_postgres()
    name = f"advisor_test_{uuid.uuid4().hex[:16]}"
    admin_execute_retrying(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    try:
        yield normalise_url(make_url(admin).set(database=name).render_as_string(hide_password=False))
    finally:
        drop_database(name)


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def settings(request: pytest.FixtureRequest, tmp_path: Path) -> Settings:
    """Pin one backend with ``@pytest.mark.parametrize("settings", ["sqlite"], indirect=True)``."""
    if request.param == "postgres":
        url: str = request.getfixturevalue("postgres_database")
    else:
        url = f"sqlite:///{tmp_path}/advisor.db"
    # Evaluated and appended in process: helper processes per test app would cost process starts;
    # tests/integration/test_evaluators.py, test_writer_process.py and the server-process tests run them.
    return Settings(database_url=url, keys_dir=tmp_path / "keys", evaluators=0, writer_process=False)


@contextmanager
def running_app(settings: Settings) -> Iterator[Litestar]:
    """An app on a migrated database with its signing key; its engine disposed afterwards."""
    migrate(settings)
    application = create_app(settings)
    ensure_signing_key(application.state.services)
    try:
        yield application
    finally:
        application.state.services.engine.dispose()  # before the test database is dropped


@pytest.fixture
def app(settings: Settings) -> Iterator[Litestar]:
    with running_app(settings) as application:
        yield application


def issue_key(app: Litestar, role: Role | str, name: str | None = None) -> str:
    """A new client with ``role`` in the app's database; its API key."""
    _, key = ClientStore(app.state.services.engine).create(name or f"test-{role}", Role(role))
    return key


def authorised(test_client: TestClient[Litestar], key: str | None) -> TestClient[Litestar]:
    if key is not None:
        test_client.headers["Authorization"] = f"Bearer {key}"
    return test_client


@pytest.fixture
def client(app: Litestar) -> Iterator[TestClient[Litestar]]:
    """Started app, authenticated as an assessor (a portal). Other roles: ``client_as``."""
    with TestClient(app) as test_client:
        yield authorised(test_client, issue_key(app, Role.ASSESSOR, "test-portal"))


@pytest.fixture
def client_as(app: Litestar, client: TestClient[Litestar]) -> Callable[..., TestClient[Litestar]]:
    """``client_as(role, name=None)``: a client of the already started app, with a new key of that role.

    ``client_as(None)`` sends no credential.
    """

    def make(role: Role | str | None, name: str | None = None) -> TestClient[Litestar]:
        return authorised(TestClient(app), None if role is None else issue_key(app, role, name))

    return make


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption("--update-golden", action="store_true", default=False,
                     help="rewrite the golden files (tests/golden/) from the code instead of comparing with them")
