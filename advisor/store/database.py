"""Database engines and migrations: SQLite (embedded default) or PostgreSQL.

SQLite runs in WAL mode with ``synchronous=FULL`` so an acknowledged append survives power loss,
and a busy timeout so several worker processes can share one file. PostgreSQL connections are
checked before use (``pool_pre_ping``) so the pool recovers by itself after a database restart,
and every session has bounds so a dead replica cannot hold the chain lock for long.
"""

from __future__ import annotations

import os
import random
import sqlite3
import time
from collections.abc import Iterator
from contextlib import AbstractContextManager, contextmanager
from pathlib import Path
from typing import Any, TypeVar

import psycopg
from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Connection, Engine, RootTransaction, Select, create_engine, event, select, text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import DBAPIError, InterfaceError, OperationalError
from sqlalchemy.exc import TimeoutError as PoolTimeout

from advisor.settings import PROJECT_ROOT, Settings
from advisor.store.errors import NoDatabase
from advisor.store.tables import chain_head

_Select = TypeVar("_Select", bound=Select[Any])


def is_sqlite(url: str) -> bool:
    return make_url(url).get_backend_name() == "sqlite"


def normalise_url(url: str) -> str:
    """Accept ``postgresql://`` and pick the maintained psycopg 3 driver for it."""
    parsed = make_url(url)
    if parsed.drivername in ("postgresql", "postgres"):
        parsed = parsed.set(drivername="postgresql+psycopg")
    return parsed.render_as_string(hide_password=False)


def require_database(settings: Settings) -> None:
    """Raise :class:`NoDatabase` naming where it looked when a SQLite database file does not exist.

    Only ``serve`` and ``migrate`` create a database; any other command would otherwise leave an
    empty file behind (wherever it was run from) and fail later with a SQL error.
    """
    url = make_url(normalise_url(settings.database_url))
    if url.get_backend_name() != "sqlite" or not url.database or url.database == ":memory:":
        return
    path = Path(url.database)
    if not path.is_file():
        raise NoDatabase(f"no database at {path.resolve()} (ADVISOR_DATABASE_URL={settings.database_url}); "
                         "create it with `advisor migrate`, or run from the directory that holds var/")


def private_sqlite_files(database: Path) -> None:
    """The database directory 0700 when this creates it, the database file 0600 from its creation.

    SQLite creates the ``-wal`` and ``-shm`` files with the database file's permissions, so they are
    0600 too. A file left more open by an older version is tightened (it is ours: we could open it).
    """
    database.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    fd = os.open(database, os.O_RDWR | os.O_CREAT, 0o600)  # never truncates; mode applies only on creation
    try:
        if os.fstat(fd).st_mode & 0o077:
            os.fchmod(fd, 0o600)
    finally:
        os.close(fd)
    for suffix in ("-wal", "-shm", "-journal"):
        companion = database.with_name(database.name + suffix)
        if companion.exists() and companion.stat().st_mode & 0o077:
            companion.chmod(0o600)


def _wal(cursor: Any, attempts: int = 100) -> None:
    """Put the file in WAL mode, waiting out another process doing the same.

    Switching a file to WAL takes an exclusive lock, and SQLite answers "database is locked" at once,
    without its busy handler, when another connection is switching or recovering it: two servers
    started together on a new file (seen in the two-server test) then fail to start. Retry briefly.
    """
    for attempt in range(attempts):
        try:
            cursor.execute("PRAGMA journal_mode=WAL")
            return
        except sqlite3.OperationalError as exc:
            if ("locked" not in str(exc) and "busy" not in str(exc)) or attempt == attempts - 1:
                raise
            time.sleep(0.05 + 0.05 * random.random())


def make_engine(settings: Settings, *, pool_size: int | None = None) -> Engine:
    url = normalise_url(settings.database_url)
    if is_sqlite(url):
        database = make_url(url).database
        if database and database != ":memory:" and not database.startswith("file:"):
            private_sqlite_files(Path(database))
        engine = create_engine(url, connect_args={"timeout": 30, "check_same_thread": False},
                               pool_size=pool_size or settings.db_pool_size, max_overflow=8,
                               hide_parameters=not settings.log_bodies)
        synchronous = settings.sqlite_synchronous

        @event.listens_for(engine, "connect")
        def _pragmas(dbapi_connection: Any, _record: Any) -> None:
            # Autocommit at the driver level; SQLAlchemy's "begin" event issues BEGIN itself.
            dbapi_connection.isolation_level = None
            cursor = dbapi_connection.cursor()
            _wal(cursor)
            cursor.execute(f"PRAGMA synchronous={synchronous}")
            cursor.execute("PRAGMA busy_timeout=30000")
            cursor.execute("PRAGMA foreign_keys=ON")
            cursor.close()

        @event.listens_for(engine, "begin")
        def _begin(conn: Any) -> None:
            # Writers take the lock up front (no deadlock upgrading a read lock); readers use DEFERRED.
            mode = conn.info.pop("begin_mode", "DEFERRED")
            conn.exec_driver_sql(f"BEGIN {mode}")

        return engine
    # Without body logging, errors never carry statement parameters (other clients' data) into a log line.
    return create_engine(url, pool_size=pool_size or settings.db_pool_size, max_overflow=8,
                         pool_pre_ping=True, connect_args=postgres_connect_args(url),
                         hide_parameters=not settings.log_bodies)


# A session idle inside a transaction (a replica frozen or cut off while holding the chain-head
# lock) is ended by the server after this; a lock wait longer than this answers 503, not a hang.
POSTGRES_SESSION_OPTIONS = "-c idle_in_transaction_session_timeout=30000 -c lock_timeout=15000"


def postgres_connect_args(url: str) -> dict[str, Any]:
    """libpq parameters: fail fast when the server is down, notice a dead peer through TCP keepalives."""
    args: dict[str, Any] = {"connect_timeout": 5, "keepalives": 1, "keepalives_idle": 30,
                            "keepalives_interval": 10, "keepalives_count": 3}
    if "options" not in make_url(url).query:  # an operator's own ``?options=`` wins
        args["options"] = POSTGRES_SESSION_OPTIONS
    return args


def alembic_config(url: str) -> Config:
    config = Config(str(PROJECT_ROOT / "alembic.ini"))
    config.set_main_option("script_location", str(PROJECT_ROOT / "migrations"))
    config.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    return config


# Any constant shared by every process of the deployment: replicas started together migrate one at a time.
MIGRATION_LOCK_ID = 0x4C4C4D41


def _run_alembic(settings: Settings, upgrade: bool, revision: str) -> None:
    url = normalise_url(settings.database_url)
    engine = make_engine(settings, pool_size=1)
    try:
        with engine.connect() as connection:
            if is_sqlite(url):
                connection.info["begin_mode"] = "IMMEDIATE"  # the write lock up front, before reading the revision
            with connection.begin():
                if not is_sqlite(url):
                    connection.execute(text("SELECT pg_advisory_xact_lock(:id)"), {"id": MIGRATION_LOCK_ID})
                config = alembic_config(url)
                config.attributes["connection"] = connection
                (command.upgrade if upgrade else command.downgrade)(config, revision)
    finally:
        engine.dispose()


def migrate(settings: Settings, revision: str = "head") -> None:
    _run_alembic(settings, True, revision)


def downgrade(settings: Settings, revision: str) -> None:
    _run_alembic(settings, False, revision)


def head_revision() -> str | None:
    return ScriptDirectory.from_config(alembic_config("sqlite://")).get_current_head()


def current_revision(engine: Engine) -> str | None:
    with engine.connect() as connection:
        return MigrationContext.configure(connection).get_current_revision()


class Database:
    """The unit of work's handle: one engine, and its dialect decided once.

    Whatever differs between SQLite and PostgreSQL in a transaction (how a writer locks, whether a
    row lock exists) is asked of this object, so no ``sqlite`` flag travels through the callers and
    nothing outside the store needs SQLAlchemy's names to open, lock, ping or close the database.
    """

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self.dialect_is_sqlite = engine.dialect.name == "sqlite"

    @classmethod
    def open(cls, settings: Settings, *, pool_size: int | None = None) -> Database:
        return cls(make_engine(settings, pool_size=pool_size))

    def connect(self) -> Connection:
        """A connection for reads (SQLite: a deferred transaction, no write lock)."""
        return self.engine.connect()

    def begin(self) -> AbstractContextManager[Connection]:
        """A short transaction that commits on success (no lock beyond what its statements take)."""
        return self.engine.begin()

    def begin_write(self, conn: Connection) -> RootTransaction:
        """Begin a writing transaction on ``conn``: on SQLite ``BEGIN IMMEDIATE`` takes the write lock up front,
        so two writers queue instead of deadlocking when both try to upgrade a read lock."""
        if self.dialect_is_sqlite:
            conn.info["begin_mode"] = "IMMEDIATE"
        return conn.begin()

    @contextmanager
    def writing(self) -> Iterator[Connection]:
        """A writing transaction (``begin_write``) on a connection of its own, committed on success."""
        with self.engine.connect() as conn, self.begin_write(conn):
            yield conn

    def for_update(self, statement: _Select) -> _Select:
        """``statement`` locking the rows it reads (PostgreSQL ``FOR UPDATE``); SQLite's write lock already
        covers the whole database, and it has no row locks."""
        return statement if self.dialect_is_sqlite else statement.with_for_update()

    def lock_head(self, conn: Connection) -> tuple[int, str]:
        """The chain head (seq, hash), locked for the rest of ``conn``'s writing transaction."""
        row = conn.execute(self.for_update(
            select(chain_head.c.seq, chain_head.c.hash).where(chain_head.c.id == 1))).one()
        return int(row.seq), str(row.hash)

    @contextmanager
    def locked(self) -> Iterator[Connection]:
        """A transaction holding the chain lock (the head row): what appends, key rotation and first starts
        serialise on, across threads, processes and replicas."""
        with self.writing() as conn:
            self.lock_head(conn)
            yield conn

    def ping(self) -> None:
        """``SELECT 1``: raises whatever the driver raises when the database cannot be reached (readiness)."""
        with self.engine.connect() as conn:
            conn.execute(text("SELECT 1"))

    def revision(self) -> str | None:
        """The schema revision the database is at (None before the first migration)."""
        return current_revision(self.engine)

    def dispose(self) -> None:
        """Close the pooled connections (at shutdown, and before a fork)."""
        self.engine.dispose()


# What reading a broken database raises: through SQLAlchemy in this process, through the drivers in
# the verifier's worker processes (``store.rows``).
DATABASE_ERRORS: tuple[type[Exception], ...] = (DBAPIError, PoolTimeout, sqlite3.Error, psycopg.Error)
# What SQLAlchemy raises in this process when the database fails a statement or a connection: the API maps
# these to problems (by class, as its exception handlers need) without naming SQLAlchemy itself.
SQL_ERRORS: tuple[type[Exception], ...] = (DBAPIError, PoolTimeout)


def is_outage(exc: BaseException) -> bool:
    """The database or the connection to it failed (503, retry later), as opposed to a statement it refused."""
    if isinstance(exc, OperationalError | InterfaceError | PoolTimeout):
        return True
    return isinstance(exc, DBAPIError) and exc.connection_invalidated


def error_name(exc: BaseException) -> str:
    """The driver's error class (SQLAlchemy's when there is none): safe to log, it quotes no data."""
    return type(exc.orig).__name__ if isinstance(exc, DBAPIError) else type(exc).__name__


def display_url(url: str) -> str:
    """``url`` with its password hidden, for a log line."""
    return make_url(url).render_as_string(hide_password=True)


def describe_database_error(exc: BaseException) -> str:
    """The driver's error class and first line, for a message that names the cause and nothing more."""
    cause = exc.orig if isinstance(exc, DBAPIError) else exc
    return f"{type(cause).__name__}: {str(cause).strip().splitlines()[0] if str(cause).strip() else ''}"
