"""collections, weighed grams, payouts and payout disputes

Revision ID: 0007
Revises: 0006
Create Date: 2026-11-29 15:30:00

Existing data: no lot has been collected yet, so every new column starts empty.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import bot.models

revision: str = "0007"
down_revision: str | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def _enum(name: str, *values: str) -> sa.Enum:
    return sa.Enum(*values, name=name, native_enum=False, length=20)


def upgrade() -> None:
    with op.batch_alter_table("lot_reports") as batch:
        batch.add_column(sa.Column("weighed_grams", sa.BigInteger(), nullable=True))
        batch.add_column(sa.Column("delivered", sa.Boolean(), nullable=True))
        batch.add_column(sa.Column("weighed_at", bot.models.UtcDateTime(), nullable=True))
        batch.add_column(sa.Column("weighed_by", sa.Integer(), nullable=True))
        batch.create_foreign_key(
            op.f("fk_lot_reports_weighed_by_users"), "users", ["weighed_by"], ["id"]
        )
    op.create_table(
        "collections",
        sa.Column("lot_id", sa.Integer(), nullable=False),
        sa.Column("place", sa.String(200), nullable=False),
        sa.Column("collect_at", bot.models.UtcDateTime(), nullable=False),
        sa.Column("status", _enum("collection_status", "scheduled", "completed"), nullable=False),
        sa.Column("set_by", sa.Integer(), nullable=False),
        sa.Column("set_at", bot.models.UtcDateTime(), nullable=False),
        sa.Column("price_fen", sa.Integer(), nullable=True),
        sa.Column("weighed_grams", sa.BigInteger(), nullable=True),
        sa.Column("invoice_fen", sa.BigInteger(), nullable=True),
        sa.Column("completed_at", bot.models.UtcDateTime(), nullable=True),
        sa.Column("completed_by", sa.Integer(), nullable=True),
        sa.ForeignKeyConstraint(["lot_id"], ["lots.id"], name=op.f("fk_collections_lot_id_lots")),
        sa.ForeignKeyConstraint(["set_by"], ["users.id"], name=op.f("fk_collections_set_by_users")),
        sa.ForeignKeyConstraint(
            ["completed_by"], ["users.id"], name=op.f("fk_collections_completed_by_users")
        ),
        sa.PrimaryKeyConstraint("lot_id", name=op.f("pk_collections")),
    )
    op.create_table(
        "payouts",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("lot_id", sa.Integer(), nullable=False),
        sa.Column("report_id", sa.Integer(), nullable=False),
        sa.Column("farmer_id", sa.Integer(), nullable=False),
        sa.Column("grams", sa.BigInteger(), nullable=False),
        sa.Column("price_fen", sa.Integer(), nullable=False),
        sa.Column("gross_fen", sa.BigInteger(), nullable=False),
        sa.Column("fees", sa.JSON(), nullable=False),
        sa.Column("net_fen", sa.BigInteger(), nullable=False),
        sa.Column("correction_fen", sa.BigInteger(), server_default="0", nullable=False),
        sa.Column("due_on", sa.Date(), nullable=False),
        sa.Column("status", _enum("payout_status", "scheduled", "paid"), nullable=False),
        sa.Column("reminded", sa.Boolean(), server_default="0", nullable=False),
        sa.Column("paid_at", bot.models.UtcDateTime(), nullable=True),
        sa.Column("paid_by", sa.Integer(), nullable=True),
        sa.Column("reference", sa.String(100), nullable=True),
        sa.Column(
            "created_at", bot.models.UtcDateTime(), server_default=sa.func.now(), nullable=False
        ),
        sa.ForeignKeyConstraint(["lot_id"], ["lots.id"], name=op.f("fk_payouts_lot_id_lots")),
        sa.ForeignKeyConstraint(
            ["report_id"], ["harvest_reports.id"], name=op.f("fk_payouts_report_id_harvest_reports")
        ),
        sa.ForeignKeyConstraint(
            ["farmer_id"], ["users.id"], name=op.f("fk_payouts_farmer_id_users")
        ),
        sa.ForeignKeyConstraint(["paid_by"], ["users.id"], name=op.f("fk_payouts_paid_by_users")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_payouts")),
        sa.UniqueConstraint("lot_id", "report_id", name="uq_payouts_lot_report"),
    )
    op.create_index(op.f("ix_payouts_lot_id"), "payouts", ["lot_id"])
    op.create_index(op.f("ix_payouts_farmer_id"), "payouts", ["farmer_id"])
    op.create_index("ix_payouts_status_due", "payouts", ["status", "due_on"])
    op.create_table(
        "payout_disputes",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("payout_id", sa.Integer(), nullable=False),
        sa.Column("farmer_id", sa.Integer(), nullable=False),
        sa.Column("reason", sa.String(1000), nullable=False),
        sa.Column(
            "status", _enum("dispute_status", "open", "corrected", "explained"), nullable=False
        ),
        sa.Column("opened_at", bot.models.UtcDateTime(), nullable=False),
        sa.Column("resolved_at", bot.models.UtcDateTime(), nullable=True),
        sa.Column("resolved_by", sa.Integer(), nullable=True),
        sa.Column("correction_fen", sa.BigInteger(), nullable=True),
        sa.Column("explanation", sa.String(1000), nullable=True),
        sa.ForeignKeyConstraint(
            ["payout_id"], ["payouts.id"], name=op.f("fk_payout_disputes_payout_id_payouts")
        ),
        sa.ForeignKeyConstraint(
            ["farmer_id"], ["users.id"], name=op.f("fk_payout_disputes_farmer_id_users")
        ),
        sa.ForeignKeyConstraint(
            ["resolved_by"], ["users.id"], name=op.f("fk_payout_disputes_resolved_by_users")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_payout_disputes")),
    )
    op.create_index(op.f("ix_payout_disputes_payout_id"), "payout_disputes", ["payout_id"])
    op.create_index(op.f("ix_payout_disputes_status"), "payout_disputes", ["status"])


def downgrade() -> None:
    op.drop_table("payout_disputes")
    op.drop_table("payouts")
    op.drop_table("collections")
    with op.batch_alter_table("lot_reports") as batch:
        batch.drop_constraint(op.f("fk_lot_reports_weighed_by_users"), type_="foreignkey")
        batch.drop_column("weighed_by")
        batch.drop_column("weighed_at")
        batch.drop_column("delivered")
        batch.drop_column("weighed_grams")
