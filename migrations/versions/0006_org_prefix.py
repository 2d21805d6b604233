"""An index for the case-insensitive organisation prefix filter of the listing.

``GET /assessments?organization=acme`` matches names that start with "acme" in any case: the
filter compares ``lower(organization)``, and this index on that expression (then seq) serves it
without reading the table. PostgreSQL needs ``text_pattern_ops`` to use it for ``LIKE 'acme%'``
under a non-C collation; SQLite compares bytes, so a range on the expression uses it directly.

Revision ID: revision 0006
Revises: 0004
Create Date: 2026-12-02
"""

from __future__ import annotations

from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute("CREATE INDEX ix_records_org_lower_seq ON records (lower(organization) text_pattern_ops, seq)")
    else:
        op.execute("CREATE INDEX ix_records_org_lower_seq ON records (lower(organization), seq)")


def downgrade() -> None:
    op.drop_index("ix_records_org_lower_seq", table_name="records")
