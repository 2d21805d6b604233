"""Shared fixtures: the real rulebook, catalogs and rule engine; an app on a fresh database.

``settings`` (and so ``app`` and ``client``) runs every test twice: on a fresh SQLite file and on
a fresh PostgreSQL database (ids ``sqlite`` and ``postgres``), each already at the head revision:
copied from a SQLite file and cloned from a PostgreSQL template that were migrated once per run.
Tests of the migrations themselves ask for an empty database with ``@pytest.mark.empty_database``.
PostgreSQL tests skip with a reason when the server is unreachable, except under CI (``CI`` set),
where they fail instead.

Under pytest-xdist (``.ci/test``) every worker is a process of its own with its own session fixtures: its own
temporary directory (so its own migrated SQLite file), its own run token (so its own PostgreSQL template and
database names, ``advisor_t_<token>_...``) and its own advisory lock, which keeps the other workers from
taking its databases for a killed run's leftovers. Servers the tests start listen on free ports only.
"""

from __future__ import annotations

import functools
import os
import re
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
from advisor.application.evaluate import Advisor
from advisor.auth.clients import ClientStore, Role
from advisor.settings import Settings
from advisor.store.database import migrate, normalise_url
from advisor.workers.evaluators import build_advisor


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


# Every database a run creates is named ``advisor_t_<token>_<suffix>``. The run holds a session-level advisory
# lock on its token (in the maintenance database) for as long as it lives, so another run on the same server
# (concurrent CI, an xdist worker) can tell a live run's databases from a killed run's leftovers, and drop only those.
RUN_PREFIX = "advisor_t_"
LEFTOVER = re.compile(rf"^{RUN_PREFIX}([0-9a-f]{{15}})_[0-9a-z]+$")


def _lock_key(token: str) -> int:
    return int(token, 16)  # 60 bits: fits PostgreSQL's bigint advisory-lock key


class PostgresRun:
    """This run's PostgreSQL databases: a migrated template, created once, and cheap clones of it.

    ``CREATE DATABASE ... TEMPLATE`` copies the template's blocks (about 0.1 s) instead of running every
    Alembic migration again (about 0.7 s, plus creating the empty database first).
    """

    def __init__(self, admin_url: str) -> None:
        self.admin_url = admin_url
        self.token = uuid.uuid4().hex[:15]
        self.count = 0
        self.template: str | None = None
        # Held open for the whole run: the advisory lock lives as long as this session does.
        self.lock = psycopg.connect(admin_url, connect_timeout=5, autocommit=True)
        self.lock.execute("SELECT pg_advisory_lock(%s)", (_lock_key(self.token),))
        self.drop_leftovers()

    def drop_leftovers(self) -> None:
        """Drop the databases of runs that died without cleaning up (their lock is free)."""
        names = self.lock.execute("SELECT datname FROM pg_database WHERE datname LIKE %s",
                                  (f"{RUN_PREFIX}%",)).fetchall()
        dead: dict[str, bool] = {}
        for (name,) in names:
            match = LEFTOVER.match(name)
            if match is None or match[1] == self.token:
                continue
            token = match[1]
            if token not in dead:
                row = self.lock.execute("SELECT pg_try_advisory_lock(%s)", (_lock_key(token),)).fetchone()
                dead[token] = bool(row and row[0])
            if dead[token]:
                self.lock.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name)))
        for token, was_dead in dead.items():
            if was_dead:
                self.lock.execute("SELECT pg_advisory_unlock(%s)", (_lock_key(token),))

    def url(self, name: str) -> str:
        return normalise_url(make_url(self.admin_url).set(database=name).render_as_string(hide_password=False))

    def new_name(self) -> str:
        self.count += 1
        return f"{RUN_PREFIX}{self.token}_{self.count}"

    def empty(self) -> str:
        """A new empty database (its name)."""
        name = self.new_name()
        admin_execute_retrying(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
        return name

    def migrated(self) -> str:
        """A new database at the head revision (its name), cloned from the template."""
        if self.template is None:
            template = f"{RUN_PREFIX}{self.token}_tpl"
            admin_execute_retrying(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(template)))
            migrate(Settings(database_url=self.url(template)))  # disposes its engine: no session stays behind
            # Nobody may connect to it any more: a session on the template would make every clone fail.
            admin_execute(sql.SQL("ALTER DATABASE {} ALLOW_CONNECTIONS false").format(sql.Identifier(template)))
            self.template = template
        name = self.new_name()
        admin_execute_retrying(sql.SQL("CREATE DATABASE {} TEMPLATE {}").format(sql.Identifier(name),
                                                                                sql.Identifier(self.template)))
        return name

    def close(self) -> None:
        if self.template is not None:
            drop_database(self.template)
        self.lock.close()  # releases the advisory lock


@pytest.fixture(scope="session")
def postgres_run() -> Iterator[PostgresRun]:
    run = PostgresRun(require_postgres())
    try:
        yield run
    finally:
        run.close()


@pytest.fixture
def postgres_database(postgres_run: PostgresRun) -> Iterator[str]:
    """A fresh, empty PostgreSQL database (SQLAlchemy URL) for one test, dropped afterwards."""
    name = postgres_run.empty()
    try:
        yield postgres_run.url(name)
    finally:
        drop_database(name)


@pytest.fixture
def migrated_postgres_database(postgres_run: PostgresRun) -> Iterator[str]:
    """A fresh PostgreSQL database at the head revision for one test (a clone of the template), dropped afterwards."""
    name = postgres_run.migrated()
    try:
        yield postgres_run.url(name)
    finally:
        drop_database(name)


@pytest.fixture(scope="session")
def migrated_sqlite(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A SQLite file at the head revision, migrated once per run; tests get copies."""
    path = tmp_path_factory.mktemp("migrated") / "advisor.db"
    migrate(Settings(database_url=f"sqlite:///{path}"))  # the last connection closed: the WAL is folded in
    return path


def fresh_database(request: pytest.FixtureRequest) -> bool:
    """True when the test asked for an empty database (``@pytest.mark.empty_database``)."""
    return request.node.get_closest_marker("empty_database") is not None


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def settings(request: pytest.FixtureRequest, tmp_path: Path) -> Settings:
    """A new database per test, already at the head revision (empty with ``@pytest.mark.empty_database``).

    Pin one backend with ``@pytest.mark.parametrize("settings", ["sqlite"], indirect=True)``.
    """
    empty = fresh_database(request)
    if request.param == "postgres":
        url: str = request.getfixturevalue("postgres_database" if empty else "migrated_postgres_database")
    else:
        path = tmp_path / "advisor.db"
        if not empty:
            source: Path = request.getfixturevalue("migrated_sqlite")
            path.write_bytes(source.read_bytes())
            path.chmod(0o600)  # as the service creates it
        url = f"sqlite:///{path}"
    # Evaluated and appended in process: helper processes per test app would cost process starts;
    # tests/integration/test_evaluators.py, test_writer_process.py and the server-process tests run them.
    return Settings(database_url=url, keys_dir=tmp_path / "keys", evaluators=0, writer_process=False)


@contextmanager
def running_app(settings: Settings, *, migrated: bool = False) -> Iterator[Litestar]:
    """An app on a migrated database with its signing key; its engine disposed afterwards.

    ``migrated``: the database is already at the head revision (the ``settings`` fixture's are), so Alembic
    is not asked again (a no-op upgrade still costs about 0.1 s on PostgreSQL).
    """
    if not migrated:
        migrate(settings)
    application = create_app(settings)
    ensure_signing_key(application.state.services)
    try:
        yield application
    finally:
        application.state.services.engine.dispose()  # before the test database is dropped


@pytest.fixture
def app(request: pytest.FixtureRequest, settings: Settings) -> Iterator[Litestar]:
    with running_app(settings, migrated=not fresh_database(request)) as application:
        yield application


def issue_key(app: Litestar, role: Role | str, name: str | None = None) -> str:
    """A new client with ``role`` in the app's database; its API key."""
    _, key = ClientStore(app.state.services.db).create(name or f"test-{role}", Role(role))
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
