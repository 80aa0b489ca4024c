"""notice priorities: personal notices are claimed before broadcast ones

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-29 12:20:00

Existing data: notices of a broadcast (broadcast_id set) are bulk (10); every other notice
is personal (0, the column's default). The due index gains the priority, in the order claims
read it.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("notices", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("priority", sa.SmallInteger(), server_default="0", nullable=False)
        )
        batch_op.drop_index("ix_notices_due")
        batch_op.create_index(
            "ix_notices_due", ["status", "priority", "next_attempt_at"], unique=False
        )
    op.execute("UPDATE notices SET priority = 10 WHERE broadcast_id IS NOT NULL")


def downgrade() -> None:
    with op.batch_alter_table("notices", schema=None) as batch_op:
        batch_op.drop_index("ix_notices_due")
        batch_op.create_index("ix_notices_due", ["status", "next_attempt_at"], unique=False)
        batch_op.drop_column("priority")
