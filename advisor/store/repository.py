"""Reads of the signed log: one record, filtered pages, the head, and the whole chain in order."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Annotated, Any

import msgspec
from sqlalchemy import Engine, Row, select

from advisor.audit.jws import attach
from advisor.audit.record import StoredPayload, assessment_json
from advisor.store.tables import chain_head, records

_payload_decoder = msgspec.json.Decoder(StoredPayload)


class ListFilter(msgspec.Struct, frozen=True, kw_only=True):
    organization: str | None = None
    decision: str | None = None
    strength: str | None = None
    requester: str | None = None
    rules_digest: str | None = None
    created_from: str | None = None  # inclusive, RFC 3339
    created_to: str | None = None  # exclusive


class Summary(msgspec.Struct, frozen=True, kw_only=True):
    """One stored assessment in a listing (the full record is at /assessments/{id})."""

    id: Annotated[str, msgspec.Meta(description="The assessment's id")]
    seq: Annotated[int, msgspec.Meta(description="Its position in the log")]
    created_at: Annotated[str, msgspec.Meta(description="When it was appended (RFC 3339, UTC)")]
    requester: Annotated[str, msgspec.Meta(description="The client id that created it")]
    organization: Annotated[str, msgspec.Meta(description="The profile's organisation name")]
    decision: Annotated[str, msgspec.Meta(description="managed, self_hosted or hybrid")]
    strength: Annotated[str, msgspec.Meta(description="mandatory, clear or marginal")]
    rules_digest: Annotated[str, msgspec.Meta(description="Digest of the rules that decided it")]
    catalog_id: Annotated[str, msgspec.Meta(description="The pricing catalog used")]
    hash: Annotated[str, msgspec.Meta(description="The record's hash in the log")]


def assessment_of(row: Any) -> bytes:
    """A row with ``payload``, ``jws`` and ``hash`` columns, as served: the same bytes as its 201."""
    raw = row.payload.encode("utf-8")
    payload = _payload_decoder.decode(raw)
    return assessment_json(payload, bytes(payload.recommendation), attach(row.jws, raw), row.hash)


class Repository:
    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    def get(self, record_id: str, requester: str | None = None) -> bytes | None:
        """One record as served (JSON); with ``requester`` set, only if that client created it."""
        query = select(records.c.payload, records.c.jws, records.c.hash).where(records.c.id == record_id)
        if requester is not None:
            query = query.where(records.c.requester == requester)
        with self.engine.connect() as conn:
            row = conn.execute(query).first()
        return None if row is None else assessment_of(row)

    def page(self, where: ListFilter, before_seq: int | None, limit: int) -> list[Summary]:
        """Newest first; the cursor is the last seq seen, so concurrent inserts never shift a page."""
        c = records.c
        query = select(c.id, c.seq, c.created_at, c.requester, c.organization, c.decision, c.strength,
                       c.rules_digest, c.catalog_id, c.hash)
        for column, value in ((c.organization, where.organization), (c.decision, where.decision),
                              (c.strength, where.strength), (c.requester, where.requester),
                              (c.rules_digest, where.rules_digest)):
            if value is not None:
                query = query.where(column == value)
        with self.engine.connect() as conn:
            # created_at never decreases along seq (the writer guarantees it and verify checks it), so
            # a time window is a seq range: two index seeks, then the primary key serves the page.
            if where.created_from is not None:
                first = conn.execute(select(c.seq).where(c.created_at >= where.created_from)
                                     .order_by(c.created_at, c.seq).limit(1)).scalar()
                if first is None:
                    return []
                query = query.where(c.seq >= first)
            if where.created_to is not None:
                last = conn.execute(select(c.seq).where(c.created_at < where.created_to)
                                    .order_by(c.created_at.desc(), c.seq.desc()).limit(1)).scalar()
                if last is None:
                    return []
                query = query.where(c.seq <= last)
            if before_seq is not None:
                query = query.where(c.seq < before_seq)
            query = query.order_by(c.seq.desc()).limit(limit)
            return [Summary(**row._asdict()) for row in conn.execute(query)]

    def head(self) -> tuple[int, str]:
        with self.engine.connect() as conn:
            row = conn.execute(select(chain_head.c.seq, chain_head.c.hash).where(chain_head.c.id == 1)).one()
        return int(row.seq), str(row.hash)

    def count(self) -> int:
        from sqlalchemy import func

        with self.engine.connect() as conn:
            return int(conn.execute(select(func.count()).select_from(records)).scalar_one())

    def iter_rows(self, batch: int = 2000) -> Iterator[Row[Any]]:
        """Every record in seq order, in bounded memory (keyset batches)."""
        last = 0
        while True:
            with self.engine.connect() as conn:
                rows = conn.execute(select(records).where(records.c.seq > last)
                                    .order_by(records.c.seq).limit(batch)).all()
            if not rows:
                return
            yield from rows
            last = rows[-1].seq
