"""API clients (hashed keys, roles, revocation) and Idempotency-Key records.

Revision ID: 0002
Revises: 0001
Create Date: 2026-12-01
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "clients",
        sa.Column("id", sa.String(64), primary_key=True),
        sa.Column("name", sa.String(100), nullable=False),
        sa.Column("role", sa.String(16), nullable=False),
        sa.Column("key_hash", sa.String(64), nullable=False),
        sa.Column("created_at", sa.String(32), nullable=False),
        sa.Column("revoked_at", sa.String(32), nullable=True),
        sa.UniqueConstraint("key_hash", name="uq_clients_key_hash"),
    )
    op.create_table(
        "idempotency_keys",
        sa.Column("client_id", sa.String(64), nullable=False),
        sa.Column("idempotency_key", sa.String(255), nullable=False),
        sa.Column("fingerprint", sa.String(64), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("owner", sa.String(32), nullable=False),
        sa.Column("lease_until", sa.String(32), nullable=False),
        sa.Column("record_id", sa.String(36), nullable=True),
        sa.Column("response_status", sa.Integer, nullable=True),
        sa.Column("response_headers", sa.Text, nullable=True),
        sa.Column("response_body", sa.Text, nullable=True),
        sa.Column("created_at", sa.String(32), nullable=False),
        sa.Column("expires_at", sa.String(32), nullable=False),
        sa.PrimaryKeyConstraint("client_id", "idempotency_key", name="pk_idempotency_keys"),
    )
    op.create_index("ix_idempotency_client_expires", "idempotency_keys", ["client_id", "expires_at"])
    op.create_index("ix_idempotency_expires", "idempotency_keys", ["expires_at"])


def downgrade() -> None:
    op.drop_index("ix_idempotency_expires", table_name="idempotency_keys")
    op.drop_index("ix_idempotency_client_expires", table_name="idempotency_keys")
    op.drop_table("idempotency_keys")
    op.drop_table("clients")
