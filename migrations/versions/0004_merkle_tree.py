"""The RFC 9162 Merkle tree over the records, and one signed checkpoint per group commit.

The tree of the records already stored is built here, in seq order, in bounded memory: the
frontier (at most 64 hashes) carries over from one batch of records to the next. Records keep
their chain fields and JWS; the verifier checks both.

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-02
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from advisor.audit.merkle import extend, leaf_hash

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None

BATCH = 2000


def upgrade() -> None:
    nodes = op.create_table(
        "merkle_nodes",
        sa.Column("level", sa.SmallInteger, nullable=False),
        sa.Column("idx", sa.BigInteger, nullable=False),
        sa.Column("hash", sa.LargeBinary(32), nullable=False),
        sa.PrimaryKeyConstraint("level", "idx", name="pk_merkle_nodes"),
    )
    op.create_table(
        "tree_heads",
        sa.Column("size", sa.BigInteger, primary_key=True, autoincrement=False),
        sa.Column("root_hash", sa.String(64), nullable=False),
        sa.Column("key_id", sa.String(64), nullable=False),
        sa.Column("note", sa.Text, nullable=False),
    )
    records = sa.table("records", sa.column("seq", sa.BigInteger), sa.column("payload", sa.Text))
    conn = op.get_bind()
    size, frontier = 0, list[bytes]()
    while True:
        rows = conn.execute(sa.select(records.c.seq, records.c.payload).where(records.c.seq > size)
                            .order_by(records.c.seq).limit(BATCH)).all()
        if not rows:
            return
        for offset, row in enumerate(rows):
            if row.seq != size + offset + 1:
                raise RuntimeError(f"record {size + offset + 1} is missing: verify the log before migrating")
        created, frontier = extend(size, frontier, [leaf_hash(row.payload.encode("utf-8")) for row in rows])
        conn.execute(sa.insert(nodes), [{"level": level, "idx": index, "hash": digest}
                                        for level, index, digest in created])
        size += len(rows)


def downgrade() -> None:
    op.drop_table("tree_heads")
    op.drop_table("merkle_nodes")
