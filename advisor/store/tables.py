"""The schema, as SQLAlchemy Core tables. It changes only through Alembic migrations.

``records`` is the signed, hash-chained log. Uniqueness on ``seq``, ``prev_hash`` and ``hash``
makes a fork or a duplicate link impossible at the database level, whatever the application
does; ``chain_head`` is the single row every append locks, so appends from any number of
processes or replicas are serialised.
"""

from __future__ import annotations

from sqlalchemy import (
    BigInteger,
    Column,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    UniqueConstraint,
)

metadata = MetaData()

records = Table(
    "records",
    metadata,
    Column("seq", BigInteger().with_variant(Integer, "sqlite"), primary_key=True, autoincrement=False),
    Column("id", String(36), nullable=False, unique=True),
    Column("prev_hash", String(64), nullable=False, unique=True),
    Column("hash", String(64), nullable=False, unique=True),
    Column("created_at", String(32), nullable=False),
    Column("requester", String(64), nullable=False),
    Column("organization", String(200), nullable=False),
    Column("decision", String(16), nullable=False),
    Column("strength", String(16), nullable=False),
    Column("rules_digest", String(80), nullable=False),
    Column("catalog_id", String(64), nullable=False),
    Column("key_id", String(64), nullable=False),
    # The canonical bytes exactly as signed, and the detached JWS (header..signature).
    Column("payload", Text, nullable=False),
    Column("jws", Text, nullable=False),
)
Index("ix_records_org_seq", records.c.organization, records.c.seq)
Index("ix_records_requester_seq", records.c.requester, records.c.seq)
Index("ix_records_decision_seq", records.c.decision, records.c.seq)
Index("ix_records_created_at", records.c.created_at)

chain_head = Table(
    "chain_head",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=False),
    Column("seq", BigInteger, nullable=False),
    Column("hash", String(64), nullable=False),
)

signing_keys = Table(
    "signing_keys",
    metadata,
    Column("kid", String(64), primary_key=True),
    Column("public_jwk", Text, nullable=False),
    Column("not_before", String(32), nullable=False),
    Column("not_after", String(32), nullable=True),
    UniqueConstraint("not_before", name="uq_signing_keys_not_before"),
)
