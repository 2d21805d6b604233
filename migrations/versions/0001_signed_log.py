"""The signed, hash-chained log of recommendations and the signing keys.

Revision ID: 0001
Revises:
Create Date: 2026-11-28
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "records",
        sa.Column("seq", sa.BigInteger().with_variant(sa.Integer, "sqlite"), primary_key=True,
                  autoincrement=False),
        sa.Column("id", sa.String(36), nullable=False, unique=True),
        sa.Column("prev_hash", sa.String(64), nullable=False, unique=True),
        sa.Column("hash", sa.String(64), nullable=False, unique=True),
        sa.Column("created_at", sa.String(32), nullable=False),
        sa.Column("requester", sa.String(64), nullable=False),
        sa.Column("organization", sa.String(200), nullable=False),
        sa.Column("decision", sa.String(16), nullable=False),
        sa.Column("strength", sa.String(16), nullable=False),
        sa.Column("rules_digest", sa.String(80), nullable=False),
        sa.Column("catalog_id", sa.String(64), nullable=False),
        sa.Column("key_id", sa.String(64), nullable=False),
        sa.Column("payload", sa.Text, nullable=False),
        sa.Column("jws", sa.Text, nullable=False),
    )
    op.create_index("ix_records_org_seq", "records", ["organization", "seq"])
    op.create_index("ix_records_requester_seq", "records", ["requester", "seq"])
    op.create_index("ix_records_decision_seq", "records", ["decision", "seq"])
    op.create_index("ix_records_created_at", "records", ["created_at"])
    op.create_table(
        "chain_head",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=False),
        sa.Column("seq", sa.BigInteger, nullable=False),
        sa.Column("hash", sa.String(64), nullable=False),
    )
    op.execute("INSERT INTO chain_head (id, seq, hash) VALUES (1, 0, '" + "0" * 64 + "')")
    op.create_table(
        "signing_keys",
        sa.Column("kid", sa.String(64), primary_key=True),
        sa.Column("public_jwk", sa.Text, nullable=False),
        sa.Column("not_before", sa.String(32), nullable=False),
        sa.Column("not_after", sa.String(32), nullable=True),
        sa.UniqueConstraint("not_before", name="uq_signing_keys_not_before"),
    )


def downgrade() -> None:
    op.drop_table("signing_keys")
    op.drop_table("chain_head")
    op.drop_index("ix_records_created_at", table_name="records")
    op.drop_index("ix_records_decision_seq", table_name="records")
    op.drop_index("ix_records_requester_seq", table_name="records")
    op.drop_index("ix_records_org_seq", table_name="records")
    op.drop_table("records")
