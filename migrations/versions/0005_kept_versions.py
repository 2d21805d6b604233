"""Every rulebook and catalog version kept, content-addressed by the digest that records name.

A record names the digest of the rules and of the catalog that produced it; these tables keep the
bytes behind each digest from the first time a server loads them, so a past record's rules and
prices can be read back (``GET /rules?digest=``) and replayed (``POST /assessments/{id}/reassess``).
Versions loaded only before this revision were never kept: they are unknown unless a server still
loads the same files.

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-02
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "rulebook_versions",
        sa.Column("digest", sa.String(80), primary_key=True),
        sa.Column("files", sa.Text, nullable=False),
        sa.Column("first_seen", sa.String(32), nullable=False),
    )
    op.create_table(
        "catalog_versions",
        sa.Column("digest", sa.String(80), primary_key=True),
        sa.Column("catalog_id", sa.String(64), nullable=False),
        sa.Column("raw", sa.Text, nullable=False),
        sa.Column("first_seen", sa.String(32), nullable=False),
    )


def downgrade() -> None:
    op.drop_table("catalog_versions")
    op.drop_table("rulebook_versions")
