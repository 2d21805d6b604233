"""The ``records`` table read straight through the DB-API driver, for the verifier's workers.

A worker process checks one seq range after another, reading each itself: with ``sqlite3`` or
``psycopg`` alone it needs neither SQLAlchemy nor the rest of the application, so it stays small,
and no record is pickled from one process to another. ``RowSource`` says where the database is;
it is plain data, sent once to each worker.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from contextlib import closing, contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal, NamedTuple

if TYPE_CHECKING:
    from sqlalchemy import Engine

# The order of ``StoredRecord``'s fields.
COLUMNS = ("seq", "id", "prev_hash", "hash", "payload", "jws", "created_at", "requester", "organization", "decision",
           "strength", "rules_digest", "catalog_id", "key_id", "kind", "subject")
INT64_MAX = 2**63 - 1


class RowSource(NamedTuple):
    """A database the workers can open on their own: a SQLite file, or libpq parameters for psycopg."""

    dialect: Literal["sqlite", "postgresql"]
    sqlite_path: str | None = None
    postgres: dict[str, Any] | None = None

    @contextmanager
    def connect(self) -> Iterator[Any]:
        """A connection in autocommit mode: each query is its own short read, no transaction is held."""
        if self.dialect == "sqlite":
            assert self.sqlite_path is not None
            conn = sqlite3.connect(self.sqlite_path, timeout=30, isolation_level=None, check_same_thread=False)
            with closing(conn):
                conn.execute("PRAGMA query_only=ON")
                yield conn
        else:
            import psycopg

            with psycopg.connect(**(self.postgres or {}), autocommit=True) as pg:
                yield pg

    def _sql(self, query: str) -> str:
        return query if self.dialect == "sqlite" else query.replace("?", "%s")

    def next_seq(self, conn: Any, after: int | None) -> int | None:
        """The smallest seq stored after ``after`` (the smallest of all for None): one index seek."""
        if after is None:
            row = conn.execute("SELECT min(seq) FROM records").fetchone()
        else:
            row = conn.execute(self._sql("SELECT min(seq) FROM records WHERE seq > ?"), (after,)).fetchone()
        return None if row is None or row[0] is None else int(row[0])

    def last_seq(self, conn: Any, upto: int) -> int | None:
        """The largest seq stored up to ``upto``: one index seek."""
        row = conn.execute(self._sql("SELECT max(seq) FROM records WHERE seq <= ?"), (upto,)).fetchone()
        return None if row is None or row[0] is None else int(row[0])

    def read(self, conn: Any, low: int | None, high: int | None, batch: int = 128) -> Iterator[tuple[Any, ...]]:
        """The rows with ``low < seq <= high`` (None: unbounded) in seq order, ``batch`` rows per query."""
        columns = ", ".join(COLUMNS)
        last = low
        while True:
            condition, params = _between("seq", last, high)
            query = f"SELECT {columns} FROM records {condition}ORDER BY seq LIMIT ?"  # noqa: S608 (no input in it)
            rows = conn.execute(self._sql(query), (*params, batch)).fetchall()
            yield from rows
            if len(rows) < batch:
                return
            last = rows[-1][0]

    def heads(self, conn: Any, low: int | None, high: int | None) -> list[tuple[int, str]]:
        """The signed tree heads with ``low < size <= high`` (None: unbounded), in size order: one per commit."""
        condition, params = _between("size", low, high)
        query = f"SELECT size, note FROM tree_heads {condition}ORDER BY size"  # noqa: S608 (no input in it)
        return [(int(size), str(note)) for size, note in conn.execute(self._sql(query), params).fetchall()]


def row_source(engine: Engine) -> RowSource | None:
    """Where ``engine``'s database is, for another process; None when it cannot be opened from one
    (an in-memory SQLite database, a driver other than sqlite3 or psycopg)."""
    from advisor.store.database import postgres_connect_args

    url = engine.url
    backend = url.get_backend_name()
    if backend == "sqlite":
        database = url.database
        if not database or database == ":memory:" or database.startswith("file:") or url.query.get("uri"):
            return None
        return RowSource("sqlite", sqlite_path=str(Path(database).resolve()))
    if backend == "postgresql" and url.get_driver_name() == "psycopg":
        _args, params = engine.dialect.create_connect_args(url)
        params = {k: v for k, v in params.items() if isinstance(v, str | int | float | bool)}  # not the adapters
        return RowSource("postgresql", postgres={**postgres_connect_args(url.render_as_string(hide_password=False)),
                                                 **params})
    return None


def _between(column: str, low: int | None, high: int | None) -> tuple[str, list[int]]:
    """``WHERE low < column <= high`` (None: unbounded; no WHERE at all when both are), and its parameters."""
    where, params = [], []
    if low is not None:
        where.append(f"{column} > ?")
        params.append(low)
    if high is not None:
        where.append(f"{column} <= ?")
        params.append(high)
    return (f"WHERE {' AND '.join(where)} " if where else ""), params
