"""lots, the reports in them and their bids

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-29 12:20:00

Existing data: no report is in a lot yet (none could be), so nothing is moved.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import bot.models

revision: str = "0006"
down_revision: str | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def _enum(name: str, *values: str) -> sa.Enum:
    return sa.Enum(*values, name=name, native_enum=False, length=20)


def upgrade() -> None:
    op.create_table(
        "lots",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("village_id", sa.Integer(), nullable=False),
        sa.Column("product", _enum("product", "cherry", "parchment", "green"), nullable=False),
        sa.Column("process", _enum("process", "washed", "natural", "honey"), nullable=True),
        sa.Column("grade", _enum("grade", "AA", "A", "AB", "PB", "C"), nullable=True),
        sa.Column("grams", sa.BigInteger(), nullable=False),
        sa.Column("farmers", sa.Integer(), nullable=False),
        sa.Column("moisture_min_tenths", sa.Integer(), nullable=True),
        sa.Column("moisture_max_tenths", sa.Integer(), nullable=True),
        sa.Column("reserve_fen", sa.Integer(), nullable=False),
        sa.Column("increment_fen", sa.Integer(), nullable=False),
        sa.Column("extension_s", sa.Integer(), nullable=False),
        sa.Column("confirm_before_sale", sa.Boolean(), nullable=False),
        sa.Column("accept_below_fen", sa.Integer(), nullable=True),
        sa.Column(
            "status",
            _enum("lot_status", "open", "awaiting", "sold", "unsold", "rejected", "cancelled"),
            nullable=False,
        ),
        sa.Column("opens_at", bot.models.UtcDateTime(), nullable=False),
        sa.Column("closes_at", bot.models.UtcDateTime(), nullable=False),
        sa.Column("closing_soon_sent", sa.Boolean(), server_default="0", nullable=False),
        sa.Column("leader_id", sa.Integer(), nullable=True),
        sa.Column("leading_fen", sa.Integer(), nullable=True),
        sa.Column("leader_ceiling_fen", sa.Integer(), nullable=True),
        sa.Column("runner_up_fen", sa.Integer(), nullable=True),
        sa.Column("bids", sa.Integer(), server_default="0", nullable=False),
        sa.Column("acceptance_due_at", bot.models.UtcDateTime(), nullable=True),
        sa.Column("closed_at", bot.models.UtcDateTime(), nullable=True),
        sa.Column("created_by", sa.Integer(), nullable=False),
        sa.Column("decided_by", sa.Integer(), nullable=True),
        sa.Column(
            "created_at", bot.models.UtcDateTime(), server_default=sa.func.now(), nullable=False
        ),
        sa.ForeignKeyConstraint(
            ["village_id"], ["villages.id"], name=op.f("fk_lots_village_id_villages")
        ),
        sa.ForeignKeyConstraint(["leader_id"], ["users.id"], name=op.f("fk_lots_leader_id_users")),
        sa.ForeignKeyConstraint(
            ["created_by"], ["users.id"], name=op.f("fk_lots_created_by_users")
        ),
        sa.ForeignKeyConstraint(
            ["decided_by"], ["users.id"], name=op.f("fk_lots_decided_by_users")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_lots")),
    )
    op.create_index("ix_lots_status_closes", "lots", ["status", "closes_at"])
    op.create_table(
        "lot_reports",
        sa.Column("lot_id", sa.Integer(), nullable=False),
        sa.Column("report_id", sa.Integer(), nullable=False),
        sa.Column("farmer_id", sa.Integer(), nullable=False),
        sa.Column("grams", sa.BigInteger(), nullable=False),
        sa.ForeignKeyConstraint(["lot_id"], ["lots.id"], name=op.f("fk_lot_reports_lot_id_lots")),
        sa.ForeignKeyConstraint(
            ["report_id"],
            ["harvest_reports.id"],
            name=op.f("fk_lot_reports_report_id_harvest_reports"),
        ),
        sa.ForeignKeyConstraint(
            ["farmer_id"], ["users.id"], name=op.f("fk_lot_reports_farmer_id_users")
        ),
        sa.PrimaryKeyConstraint("lot_id", "report_id", name=op.f("pk_lot_reports")),
    )
    op.create_index(op.f("ix_lot_reports_report_id"), "lot_reports", ["report_id"])
    op.create_index(op.f("ix_lot_reports_farmer_id"), "lot_reports", ["farmer_id"])
    op.create_table(
        "bids",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("lot_id", sa.Integer(), nullable=False),
        sa.Column("merchant_id", sa.Integer(), nullable=False),
        sa.Column("price_fen", sa.Integer(), nullable=True),
        sa.Column("maximum_fen", sa.Integer(), nullable=True),
        sa.Column("leading_fen", sa.Integer(), nullable=False),
        sa.Column("leader_id", sa.Integer(), nullable=False),
        sa.Column("placed_at", bot.models.UtcDateTime(), nullable=False),
        sa.ForeignKeyConstraint(["lot_id"], ["lots.id"], name=op.f("fk_bids_lot_id_lots")),
        sa.ForeignKeyConstraint(
            ["merchant_id"], ["users.id"], name=op.f("fk_bids_merchant_id_users")
        ),
        sa.ForeignKeyConstraint(["leader_id"], ["users.id"], name=op.f("fk_bids_leader_id_users")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_bids")),
    )
    op.create_index(op.f("ix_bids_lot_id"), "bids", ["lot_id"])
    op.create_index("ix_bids_merchant_lot", "bids", ["merchant_id", "lot_id"])


def downgrade() -> None:
    op.drop_table("bids")
    op.drop_table("lot_reports")
    op.drop_table("lots")
