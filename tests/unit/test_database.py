"""The ``Database`` handle: the dialect decided once, writers locking up front, readiness, error kinds."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest
from sqlalchemy import create_engine, select
from sqlalchemy.exc import IntegrityError, OperationalError
from sqlalchemy.exc import TimeoutError as PoolTimeout

from advisor.settings import Settings
from advisor.store.database import SQL_ERRORS, Database, error_name, is_outage
from advisor.store.tables import chain_head


def test_row_locks_only_where_the_dialect_has_them() -> None:
    """PostgreSQL reads the rows it will change ``FOR UPDATE``; SQLite has no row locks (its write lock covers all)."""
    postgres = Database(create_engine("postgresql+psycopg://u@db.invalid/advisor"))  # never connects
    sqlite = Database(create_engine("sqlite://"))
    query = select(chain_head.c.seq)
    assert (postgres.dialect_is_sqlite, sqlite.dialect_is_sqlite) == (False, True)
    assert "FOR UPDATE" in str(postgres.for_update(query).compile(dialect=postgres.engine.dialect))
    assert "FOR UPDATE" not in str(sqlite.for_update(query).compile(dialect=sqlite.engine.dialect))
    postgres.dispose()
    sqlite.dispose()


def test_a_sqlite_writer_holds_the_write_lock_from_its_first_statement(tmp_path: Path) -> None:
    """``writing`` is ``BEGIN IMMEDIATE``: another writer is refused at once, before this one wrote anything."""
    file = tmp_path / "lock.db"
    db = Database.open(Settings(database_url=f"sqlite:///{file}", keys_dir=tmp_path / "keys"))
    other = sqlite3.connect(file, timeout=0, isolation_level=None)
    try:
        with db.writing(), pytest.raises(sqlite3.OperationalError, match="locked"):
            other.execute("BEGIN IMMEDIATE")
        other.execute("BEGIN IMMEDIATE")  # released with the transaction
        other.execute("ROLLBACK")
        with db.connect() as conn, conn.begin():  # a reader takes no write lock
            other.execute("BEGIN IMMEDIATE")
            other.execute("ROLLBACK")
    finally:
        other.close()
        db.dispose()


def test_ping_raises_what_the_api_maps_when_the_database_cannot_be_opened(tmp_path: Path) -> None:
    db = Database(create_engine(f"sqlite:///{tmp_path}/no/such/dir/x.db"))
    with pytest.raises(SQL_ERRORS) as raised:
        db.ping()
    assert is_outage(raised.value)
    assert error_name(raised.value) == "OperationalError"  # the driver's class, never the statement or its data
    db.dispose()


def test_an_outage_is_told_apart_from_a_refused_statement() -> None:
    lost = OperationalError("SELECT 1", {}, sqlite3.OperationalError("disk I/O error"))
    refused = IntegrityError("INSERT", {}, sqlite3.IntegrityError("UNIQUE constraint failed"))
    assert is_outage(lost)
    assert is_outage(PoolTimeout("no connection free"))
    assert not is_outage(refused)
    assert not is_outage(ValueError("not a database error"))
    assert error_name(refused) == "IntegrityError"


class _SwitchingElsewhere:
    """A cursor whose file another process is switching to WAL: "locked" at once, ``busy`` times."""

    def __init__(self, busy: int, message: str = "database is locked") -> None:
        self.busy, self.message, self.calls = busy, message, 0

    def execute(self, statement: str) -> None:
        self.calls += 1
        if self.calls <= self.busy:
            raise sqlite3.OperationalError(self.message)


def test_switching_to_wal_waits_out_another_process_switching_the_same_file() -> None:
    from advisor.store.database import _wal

    cursor = _SwitchingElsewhere(busy=3)
    _wal(cursor)
    assert cursor.calls == 4


def test_switching_to_wal_gives_up_and_other_errors_are_not_retried() -> None:
    from advisor.store.database import _wal

    with pytest.raises(sqlite3.OperationalError, match="locked"):
        _wal(_SwitchingElsewhere(busy=10), attempts=3)
    broken = _SwitchingElsewhere(busy=1, message="disk I/O error")
    with pytest.raises(sqlite3.OperationalError, match="disk"):
        _wal(broken)
    assert broken.calls == 1
