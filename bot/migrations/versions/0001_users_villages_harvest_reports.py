"""users villages harvest reports

Revision ID: 0001
Revises:
Create Date: 2026-11-29 01:46:22.031522
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import bot.models

revision: str = "0001"
down_revision: str | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "dialogue_states",
        sa.Column("key", sa.String(length=200), nullable=False),
        sa.Column("state", sa.String(length=200), nullable=True),
        sa.Column("data", sa.JSON(), nullable=False),
        sa.Column(
            "updated_at", bot.models.UtcDateTime(), server_default=sa.func.now(), nullable=False
        ),
        sa.PrimaryKeyConstraint("key", name=op.f("pk_dialogue_states")),
    )
    op.create_table(
        "processed_updates",
        sa.Column("update_id", sa.BigInteger(), autoincrement=False, nullable=False),
        sa.Column("processed_at", bot.models.UtcDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("update_id", name=op.f("pk_processed_updates")),
    )
    with op.batch_alter_table("processed_updates", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_processed_updates_processed_at"), ["processed_at"], unique=False
        )

    op.create_table(
        "villages",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=100), nullable=False),
        sa.Column("code", sa.String(length=32), nullable=False),
        sa.Column(
            "created_at", bot.models.UtcDateTime(), server_default=sa.func.now(), nullable=False
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_villages")),
        sa.UniqueConstraint("code", name=op.f("uq_villages_code")),
        sa.UniqueConstraint("name", name=op.f("uq_villages_name")),
    )
    op.create_table(
        "users",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("telegram_id", sa.BigInteger(), nullable=False),
        sa.Column(
            "role",
            sa.Enum("farmer", "merchant", "coordinator", name="role", native_enum=False, length=20),
            nullable=True,
        ),
        sa.Column("name", sa.String(length=100), nullable=True),
        sa.Column("phone", sa.String(length=32), nullable=True),
        sa.Column("company", sa.String(length=200), nullable=True),
        sa.Column("contact", sa.String(length=200), nullable=True),
        sa.Column(
            "merchant_status",
            sa.Enum(
                "pending",
                "approved",
                "rejected",
                name="merchant_status",
                native_enum=False,
                length=20,
            ),
            nullable=True,
        ),
        sa.Column("language", sa.String(length=8), nullable=True),
        sa.Column("village_id", sa.Integer(), nullable=True),
        sa.Column("blocked", sa.Boolean(), server_default="0", nullable=False),
        sa.Column("registered_at", bot.models.UtcDateTime(), nullable=True),
        sa.Column(
            "created_at", bot.models.UtcDateTime(), server_default=sa.func.now(), nullable=False
        ),
        sa.Column(
            "updated_at", bot.models.UtcDateTime(), server_default=sa.func.now(), nullable=False
        ),
        sa.ForeignKeyConstraint(
            ["village_id"], ["villages.id"], name=op.f("fk_users_village_id_villages")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_users")),
        sa.UniqueConstraint("telegram_id", name=op.f("uq_users_telegram_id")),
    )
    op.create_table(
        "harvest_reports",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("farmer_id", sa.Integer(), nullable=False),
        sa.Column("village_id", sa.Integer(), nullable=False),
        sa.Column(
            "product",
            sa.Enum("cherry", "parchment", "green", name="product", native_enum=False, length=20),
            nullable=False,
        ),
        sa.Column(
            "process",
            sa.Enum("washed", "natural", "honey", name="process", native_enum=False, length=20),
            nullable=True,
        ),
        sa.Column(
            "variety",
            sa.Enum(
                "catimor",
                "typica",
                "bourbon",
                "other",
                name="variety",
                native_enum=False,
                length=20,
            ),
            nullable=False,
        ),
        sa.Column("quantity_g", sa.BigInteger(), nullable=False),
        sa.Column("moisture_tenths", sa.Integer(), nullable=True),
        sa.Column(
            "grade",
            sa.Enum("AA", "A", "AB", "PB", "C", name="grade", native_enum=False, length=20),
            nullable=True,
        ),
        sa.Column("photo_file_id", sa.String(length=255), nullable=True),
        sa.Column(
            "status",
            sa.Enum(
                "submitted",
                "pooled",
                "sold",
                "collected",
                "paid",
                "withdrawn",
                name="report_status",
                native_enum=False,
                length=20,
            ),
            nullable=False,
        ),
        sa.Column(
            "created_at", bot.models.UtcDateTime(), server_default=sa.func.now(), nullable=False
        ),
        sa.Column(
            "updated_at", bot.models.UtcDateTime(), server_default=sa.func.now(), nullable=False
        ),
        sa.ForeignKeyConstraint(
            ["farmer_id"], ["users.id"], name=op.f("fk_harvest_reports_farmer_id_users")
        ),
        sa.ForeignKeyConstraint(
            ["village_id"], ["villages.id"], name=op.f("fk_harvest_reports_village_id_villages")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_harvest_reports")),
    )
    with op.batch_alter_table("harvest_reports", schema=None) as batch_op:
        batch_op.create_index(
            "ix_harvest_reports_farmer_created", ["farmer_id", "created_at"], unique=False
        )
        batch_op.create_index(batch_op.f("ix_harvest_reports_status"), ["status"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("harvest_reports", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_harvest_reports_status"))
        batch_op.drop_index("ix_harvest_reports_farmer_created")

    op.drop_table("harvest_reports")
    op.drop_table("users")
    op.drop_table("villages")
    with op.batch_alter_table("processed_updates", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_processed_updates_processed_at"))

    op.drop_table("processed_updates")
    op.drop_table("dialogue_states")
