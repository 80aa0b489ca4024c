"""the unit a farmer typed, per-farmer report numbers, the user's open question message

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-29 10:30:00

Existing data: reports are numbered per farmer in the order they were made (created_at, then
id); the unit they were typed in was not kept, so it stays empty and they show in kilograms.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("users", schema=None) as batch_op:
        batch_op.add_column(sa.Column("question_message_id", sa.BigInteger(), nullable=True))
    with op.batch_alter_table("harvest_reports", schema=None) as batch_op:
        batch_op.add_column(sa.Column("farmer_seq", sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column("quantity_unit", sa.String(length=8), nullable=True))
    op.execute(
        "UPDATE harvest_reports SET farmer_seq = (SELECT COUNT(*) FROM harvest_reports AS e "
        "WHERE e.farmer_id = harvest_reports.farmer_id AND (e.created_at < "
        "harvest_reports.created_at OR (e.created_at = harvest_reports.created_at "
        "AND e.id <= harvest_reports.id)))"
    )
    with op.batch_alter_table("harvest_reports", schema=None) as batch_op:
        batch_op.alter_column("farmer_seq", existing_type=sa.Integer(), nullable=False)
        batch_op.create_unique_constraint(
            "uq_harvest_reports_farmer_seq", ["farmer_id", "farmer_seq"]
        )


def downgrade() -> None:
    with op.batch_alter_table("harvest_reports", schema=None) as batch_op:
        batch_op.drop_constraint("uq_harvest_reports_farmer_seq", type_="unique")
        batch_op.drop_column("quantity_unit")
        batch_op.drop_column("farmer_seq")
    with op.batch_alter_table("users", schema=None) as batch_op:
        batch_op.drop_column("question_message_id")
