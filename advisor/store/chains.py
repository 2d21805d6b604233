"""Reads for replaying the log: every record newest first, in bounded memory, with its stored leaf."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from sqlalchemy import Engine, func, select

from advisor.store.integrity import with_leaf
from advisor.store.tables import records


class RecordStream:
    """Keyset batches over ``records`` (optionally one organisation's), newest first."""

    def __init__(self, engine: Engine, organization: str | None = None) -> None:
        self.engine = engine
        self.organization = organization

    def count(self) -> int:
        query = select(func.count()).select_from(records)
        if self.organization is not None:
            query = query.where(records.c.organization == self.organization)
        with self.engine.connect() as conn:
            return int(conn.execute(query).scalar_one())

    def newest_first(self, batch: int = 500) -> Iterator[Any]:
        """Rows with the listed columns, ``hash``, ``payload`` and the stored ``leaf``; one batch in memory."""
        c = records.c
        query = with_leaf(c.id, c.seq, c.created_at, c.requester, c.organization, c.decision, c.strength,
                          c.rules_digest, c.catalog_id, c.hash, c.payload)
        if self.organization is not None:
            query = query.where(c.organization == self.organization)
        before: int | None = None
        while True:
            page = query if before is None else query.where(c.seq < before)
            with self.engine.connect() as conn:
                rows = conn.execute(page.order_by(c.seq.desc()).limit(batch)).all()
            if not rows:
                return
            yield from rows
            before = rows[-1].seq
