"""The ``clients`` rows: every SQL statement about API clients (the rules about keys and roles are in ``auth``).

Values go in and rows come out as plain strings, so this module knows no role but the one it is
told to keep (``revoke``'s ``guarded_role``) and the auth package keeps the logic.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from sqlalchemy import Connection, func, insert, select, update

from advisor.audit.formats import utc_now
from advisor.store.database import Database
from advisor.store.errors import LastAdmin
from advisor.store.tables import clients


def client_row(db: Database, client_id: str) -> Any:
    """The row of ``client_id`` (None if there is none): one primary-key lookup."""
    with db.connect() as conn:
        return conn.execute(select(clients).where(clients.c.id == client_id)).first()


def insert_client(db: Database, values: dict[str, Any]) -> None:
    with db.begin() as conn:
        conn.execute(insert(clients).values(values))


def insert_first_client(db: Database, values: dict[str, Any], before_commit: Callable[[], None]) -> bool:
    """Insert one client only while there is none at all, under the chain lock (first starts of several workers
    or replicas create exactly one); ``before_commit`` runs inside the transaction (an error there stores nothing).
    False when a client already exists."""
    with db.locked() as conn:
        if client_count(conn):
            return False
        conn.execute(insert(clients).values(values))
        before_commit()
    return True


def client_rows(db: Database) -> list[Any]:
    with db.connect() as conn:
        return list(conn.execute(select(clients).order_by(clients.c.created_at, clients.c.id)))


def active_holders(db: Database, role: str) -> int:
    with db.connect() as conn:
        return active_count(conn, role)


def client_count(conn: Connection) -> int:
    return int(conn.execute(select(func.count()).select_from(clients)).scalar_one())


def active_count(conn: Connection, role: str) -> int:
    """Clients holding ``role`` and not revoked (in ``conn``'s transaction: ``revoke`` counts under its lock)."""
    query = select(func.count()).select_from(clients).where(clients.c.role == role, clients.c.revoked_at.is_(None))
    return int(conn.execute(query).scalar_one())


def revoke(db: Database, client_id: str, guarded_role: str) -> bool:
    """Revoke at once (idempotent); False if there is no such client; ``LastAdmin`` for the last active holder
    of ``guarded_role``.

    Count-then-update is a race (two admins revoking each other at once left none), so the
    check runs under a lock: ``BEGIN IMMEDIATE`` on SQLite (the write lock up front, so the
    loser waits instead of failing to upgrade a read lock), and on PostgreSQL a row lock on
    every active holder, taken in id order; the loser re-reads after the winner commits and
    sees one left.
    """
    with db.writing() as conn:
        if not db.dialect_is_sqlite:
            conn.execute(db.for_update(select(clients.c.id).where(
                clients.c.role == guarded_role, clients.c.revoked_at.is_(None)).order_by(clients.c.id))).all()
        row = conn.execute(select(clients).where(clients.c.id == client_id)).first()
        if row is None:
            return False
        if row.revoked_at is None:
            if row.role == guarded_role and active_count(conn, guarded_role) <= 1:
                raise LastAdmin("this is the last active admin: create another admin first")
            conn.execute(update(clients).where(clients.c.id == client_id, clients.c.revoked_at.is_(None))
                         .values(revoked_at=utc_now()))
    return True
