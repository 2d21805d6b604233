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
    LargeBinary,
    MetaData,
    PrimaryKeyConstraint,
    SmallInteger,
    String,
    Table,
    Text,
    UniqueConstraint,
    func,
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
    Column("organization", String(200), nullable=True),
    Column("decision", String(16), nullable=True),
    Column("strength", String(16), nullable=True),
    Column("rules_digest", String(80), nullable=True),
    Column("catalog_id", String(64), nullable=True),
    Column("key_id", String(64), nullable=False),
    # The canonical bytes exactly as signed, and (records before revision 0008 only) their detached JWS
    # (header..signature). Later records are signed by their commit's checkpoint in ``tree_heads``.
    Column("payload", Text, nullable=False),
    Column("jws", Text, nullable=True),
    # Revision 0007: ``assessment`` or ``review``; ``subject`` is the assessment a review judges or a
    # reassessment supersedes. A review keeps its verdict in ``decision``; its other columns are null.
    Column("kind", String(16), nullable=False, server_default="assessment"),
    Column("subject", String(36), nullable=True),
)
Index("ix_records_org_seq", records.c.organization, records.c.seq)
Index("ix_records_requester_seq", records.c.requester, records.c.seq)
Index("ix_records_decision_seq", records.c.decision, records.c.seq)
Index("ix_records_created_at", records.c.created_at)
# Listing filters are equality filters ordered by seq: each gets an index that serves both (0003).
Index("ix_records_strength_seq", records.c.strength, records.c.seq)
Index("ix_records_rules_digest_seq", records.c.rules_digest, records.c.seq)
Index("ix_records_org_decision_seq", records.c.organization, records.c.decision, records.c.seq)
# The listing's case-insensitive organisation prefix filter (revision 0006; text_pattern_ops on PostgreSQL).
Index("ix_records_org_lower_seq", func.lower(records.c.organization), records.c.seq)
Index("ix_records_subject_seq", records.c.subject, records.c.seq)

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

# API clients (revision 0002). Only the SHA-256 of a key is stored; a key names its client id, so a
# lookup is by primary key and the hash comparison is constant-time. Rows are never deleted:
# ``revoked_at`` ends a key at once, and the id stays the requester of the records it created.
clients = Table(
    "clients",
    metadata,
    Column("id", String(64), primary_key=True),
    Column("name", String(100), nullable=False),
    Column("role", String(16), nullable=False),
    Column("key_hash", String(64), nullable=False),
    Column("created_at", String(32), nullable=False),
    Column("revoked_at", String(32), nullable=True),
    UniqueConstraint("key_hash", name="uq_clients_key_hash"),
)

# Idempotency-Key records (revision 0002): claimed as ``pending`` in a short transaction of their
# own, completed with the response's status and headers inside the record's own transaction (a replay's
# body is rebuilt from the record: revision 0008 dropped the unused ``response_body``). Unique per client.
idempotency_keys = Table(
    "idempotency_keys",
    metadata,
    Column("client_id", String(64), nullable=False),  # a clients.id, or "anonymous" when auth is off
    Column("idempotency_key", String(255), nullable=False),
    Column("fingerprint", String(64), nullable=False),
    Column("status", String(16), nullable=False),
    Column("owner", String(32), nullable=False),  # the claim's random token: only its owner completes it
    Column("lease_until", String(32), nullable=False),
    Column("record_id", String(36), nullable=True),
    Column("response_status", Integer, nullable=True),
    Column("response_headers", Text, nullable=True),
    Column("created_at", String(32), nullable=False),
    Column("expires_at", String(32), nullable=False),
    PrimaryKeyConstraint("client_id", "idempotency_key", name="pk_idempotency_keys"),
)
Index("ix_idempotency_client_expires", idempotency_keys.c.client_id, idempotency_keys.c.expires_at)
Index("ix_idempotency_expires", idempotency_keys.c.expires_at)

# The RFC 9162 Merkle tree over ``records`` (revision 0004): one hash per perfect subtree, written
# once, in the transaction that completes it (leaf ``idx`` at level 0 is record ``seq = idx + 1``).
# A proof reads O(log n) of these rows; the frontier of any size is at most 64 of them.
merkle_nodes = Table(
    "merkle_nodes",
    metadata,
    Column("level", SmallInteger, nullable=False),
    Column("idx", BigInteger, nullable=False),
    Column("hash", LargeBinary(32), nullable=False),
    PrimaryKeyConstraint("level", "idx", name="pk_merkle_nodes"),
)

# One signed checkpoint (a C2SP signed note) per group commit: the tree head every receipt of that
# commit refers to. ``size`` is the tree size it vouches for.
tree_heads = Table(
    "tree_heads",
    metadata,
    Column("size", BigInteger, primary_key=True, autoincrement=False),
    Column("root_hash", String(64), nullable=False),
    Column("key_id", String(64), nullable=False),
    Column("note", Text, nullable=False),
)

# Kept versions (revision 0005), content-addressed by the digests records name: a rulebook's files as a
# JSON object (stem -> text) and a catalog file's text, stored the first time a server loads them.
rulebook_versions = Table(
    "rulebook_versions",
    metadata,
    Column("digest", String(80), primary_key=True),
    Column("files", Text, nullable=False),
    Column("first_seen", String(32), nullable=False),
)

catalog_versions = Table(
    "catalog_versions",
    metadata,
    Column("digest", String(80), primary_key=True),
    Column("catalog_id", String(64), nullable=False),
    Column("raw", Text, nullable=False),
    Column("first_seen", String(32), nullable=False),
)
