"""Records are signed per commit, not one by one: ``records.jws`` becomes nullable; unused response copies go.

From this revision the writer stores a record without a JWS of its own: every record is covered by the
Ed25519 signature of its group commit's checkpoint (``tree_heads``), a C2SP signed note over the Merkle
root of the tree that commit ends, and its receipt is that checkpoint plus its inclusion path. Records
written before keep their JWS (the verifier checks either kind, in one log). A downgrade cannot give
the new records a signature it never made, so it refuses while one is stored.

``idempotency_keys.response_body`` has been written as NULL since replays are rebuilt from the record,
and nothing reads it: it is dropped.

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-03
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None


def _sqlite() -> bool:
    return op.get_bind().dialect.name == "sqlite"


def _drop_org_prefix_index() -> None:
    """SQLite's batch mode copies the table from its reflection, which skips expression indexes: the
    organisation prefix index (revision 0006) is dropped before the copy and made again after it (0007)."""
    if _sqlite():
        op.drop_index("ix_records_org_lower_seq", table_name="records")


def _restore_org_prefix_index() -> None:
    if _sqlite():
        op.execute("CREATE INDEX ix_records_org_lower_seq ON records (lower(organization), seq)")


def upgrade() -> None:
    _drop_org_prefix_index()
    with op.batch_alter_table("records") as batch:
        batch.alter_column("jws", existing_type=sa.Text(), nullable=True)
    _restore_org_prefix_index()
    with op.batch_alter_table("idempotency_keys") as batch:
        batch.drop_column("response_body")


def downgrade() -> None:
    unsigned = op.get_bind().execute(sa.text("SELECT count(*) FROM records WHERE jws IS NULL")).scalar_one()
    if unsigned:
        raise RuntimeError(f"{unsigned} record(s) are signed only by their commit's checkpoint (no JWS of their "
                           "own): the schema before revision 0008 cannot hold them")
    with op.batch_alter_table("idempotency_keys") as batch:
        batch.add_column(sa.Column("response_body", sa.Text(), nullable=True))
    _drop_org_prefix_index()
    with op.batch_alter_table("records") as batch:
        batch.alter_column("jws", existing_type=sa.Text(), nullable=False)
    _restore_org_prefix_index()
