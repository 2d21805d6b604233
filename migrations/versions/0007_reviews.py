"""Reviews are records in the same signed log: a record kind, the record a row is about, nullable columns.

``kind`` is ``assessment`` (every record before this revision) or ``review``. ``subject`` is the id of
the assessment a review judges, or of the assessment a reassessment supersedes (``supersedes`` in its
signed recommendation): the status of an assessment is read through it. A review row keeps its verdict
in ``decision`` (checked against the signed payload like every column) and has no organization,
strength, rules digest or catalog of its own, so those become nullable.

Revision ID: 0006
Revises: 0004 (after 0005 of the replay branch once both are merged: set down_revision to "0005")
Create Date: 2026-12-02
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None

_NULLABLE = {"organization": sa.String(200), "decision": sa.String(16), "strength": sa.String(16),
             "rules_digest": sa.String(80), "catalog_id": sa.String(64)}


def _sqlite() -> bool:
    return op.get_bind().dialect.name == "sqlite"


def _drop_org_prefix_index() -> None:
    """SQLite's batch mode copies the table from its reflection, which skips expression indexes: the
    organisation prefix index (revision 0006) is dropped before the copy and made again after it."""
    if _sqlite():
        op.drop_index("ix_records_org_lower_seq", table_name="records")


def _restore_org_prefix_index() -> None:
    if _sqlite():
        op.execute("CREATE INDEX ix_records_org_lower_seq ON records (lower(organization), seq)")


def upgrade() -> None:
    _drop_org_prefix_index()
    with op.batch_alter_table("records") as batch:
        batch.add_column(sa.Column("kind", sa.String(16), nullable=False, server_default="assessment"))
        batch.add_column(sa.Column("subject", sa.String(36), nullable=True))
        for name, kind in _NULLABLE.items():
            batch.alter_column(name, existing_type=kind, nullable=True)
    _restore_org_prefix_index()
    op.create_index("ix_records_subject_seq", "records", ["subject", "seq"])


def downgrade() -> None:
    op.drop_index("ix_records_subject_seq", table_name="records")
    op.execute("DELETE FROM records WHERE kind <> 'assessment'")  # pragma: no cover - the log cannot hold them
    _drop_org_prefix_index()
    with op.batch_alter_table("records") as batch:
        for name, kind in _NULLABLE.items():
            batch.alter_column(name, existing_type=kind, nullable=False)
        batch.drop_column("subject")
        batch.drop_column("kind")
    _restore_org_prefix_index()
