"""Indexes for every listing filter, so a filter that matches little never scans the log.

Measured on a 1,000,000-record SQLite log: a rules_digest or strength filter matching nothing
read the whole table (p99 22 s), and organization + decision picked the wrong index.

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-28
"""

from __future__ import annotations

from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index("ix_records_strength_seq", "records", ["strength", "seq"])
    op.create_index("ix_records_rules_digest_seq", "records", ["rules_digest", "seq"])
    op.create_index("ix_records_org_decision_seq", "records", ["organization", "decision", "seq"])


def downgrade() -> None:
    op.drop_index("ix_records_org_decision_seq", table_name="records")
    op.drop_index("ix_records_rules_digest_seq", table_name="records")
    op.drop_index("ix_records_strength_seq", table_name="records")
