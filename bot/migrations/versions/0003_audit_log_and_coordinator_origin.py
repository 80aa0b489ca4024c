"""audit log, how coordinators became coordinators, merchant application numbers

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-29 09:45:00

Existing data: every merchant is on their first application. An existing coordinator was
promoted in chat when a "promoted" notice was written for them (promoting in chat always wrote
one); any other coordinator came from COORDINATOR_IDS, so removing their id now takes effect.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import bot.models

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("users", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("merchant_application", sa.Integer(), server_default="0", nullable=False)
        )
        batch_op.add_column(
            sa.Column(
                "coordinator_via",
                sa.Enum("config", "chat", name="coordinator_via", native_enum=False, length=20),
                nullable=True,
            )
        )
    op.execute("UPDATE users SET merchant_application = 1 WHERE role = 'merchant'")
    op.execute(
        "UPDATE users SET coordinator_via = CASE WHEN EXISTS (SELECT 1 FROM notices "
        "WHERE notices.recipient_id = users.id AND notices.kind = 'promoted') "
        "THEN 'chat' ELSE 'config' END WHERE role = 'coordinator'"
    )

    op.create_table(
        "audit_log",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("created_at", bot.models.UtcDateTime(), nullable=False),
        sa.Column(
            "via",
            sa.Enum("chat", "config", "cli", name="audit_via", native_enum=False, length=20),
            nullable=False,
        ),
        sa.Column("actor_id", sa.Integer(), nullable=True),
        sa.Column(
            "action",
            sa.Enum(
                "promote",
                "demote",
                "approve",
                "reject",
                "broadcast",
                "schedule",
                "cancel",
                "village_add",
                "village_rename",
                name="audit_action",
                native_enum=False,
                length=20,
            ),
            nullable=False,
        ),
        sa.Column("subject_id", sa.Integer(), nullable=True),
        sa.Column("village_id", sa.Integer(), nullable=True),
        sa.Column("broadcast_id", sa.Integer(), nullable=True),
        sa.Column("details", sa.JSON(), nullable=False),
        sa.ForeignKeyConstraint(
            ["actor_id"], ["users.id"], name=op.f("fk_audit_log_actor_id_users")
        ),
        sa.ForeignKeyConstraint(
            ["broadcast_id"], ["broadcasts.id"], name=op.f("fk_audit_log_broadcast_id_broadcasts")
        ),
        sa.ForeignKeyConstraint(
            ["subject_id"], ["users.id"], name=op.f("fk_audit_log_subject_id_users")
        ),
        sa.ForeignKeyConstraint(
            ["village_id"], ["villages.id"], name=op.f("fk_audit_log_village_id_villages")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_audit_log")),
    )
    with op.batch_alter_table("audit_log", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_audit_log_created_at"), ["created_at"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("audit_log", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_audit_log_created_at"))
    op.drop_table("audit_log")
    with op.batch_alter_table("users", schema=None) as batch_op:
        batch_op.drop_column("coordinator_via")
        batch_op.drop_column("merchant_application")
