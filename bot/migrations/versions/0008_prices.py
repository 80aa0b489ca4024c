"""prices, the price feed's state, price pushes, users.price_digest

Revision ID: 0008
Revises: 0007
Create Date: 2026-11-29 18:30:00

Existing data: no price has been recorded yet; every registered user keeps the daily digest
(the default a new user is offered) until they turn it off in /prices.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import bot.models

revision: str = "0008"
down_revision: str | None = "0007"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def _enum(name: str, *values: str) -> sa.Enum:
    return sa.Enum(*values, name=name, native_enum=False, length=20)


def upgrade() -> None:
    with op.batch_alter_table("users") as batch:
        batch.add_column(
            sa.Column("price_digest", sa.Boolean(), server_default="1", nullable=False)
        )
    op.create_table(
        "prices",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("product", _enum("product", "cherry", "parchment", "green"), nullable=False),
        sa.Column("grade", _enum("grade", "AA", "A", "AB", "PB", "C"), nullable=True),
        sa.Column("fen_per_kg", sa.Integer(), nullable=False),
        sa.Column("previous_fen", sa.Integer(), nullable=True),
        sa.Column(
            "source", _enum("price_source", "coordinator", "feed", "auction"), nullable=False
        ),
        sa.Column("status", _enum("price_status", "live", "held", "rejected"), nullable=False),
        sa.Column("observed_at", bot.models.UtcDateTime(), nullable=False),
        sa.Column("set_by", sa.Integer(), nullable=True),
        sa.Column("lot_id", sa.Integer(), nullable=True),
        sa.Column("details", sa.JSON(), nullable=False),
        sa.Column("decided_by", sa.Integer(), nullable=True),
        sa.Column("decided_at", bot.models.UtcDateTime(), nullable=True),
        sa.Column(
            "created_at", bot.models.UtcDateTime(), server_default=sa.func.now(), nullable=False
        ),
        sa.ForeignKeyConstraint(["set_by"], ["users.id"], name=op.f("fk_prices_set_by_users")),
        sa.ForeignKeyConstraint(["lot_id"], ["lots.id"], name=op.f("fk_prices_lot_id_lots")),
        sa.ForeignKeyConstraint(
            ["decided_by"], ["users.id"], name=op.f("fk_prices_decided_by_users")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_prices")),
        sa.UniqueConstraint("lot_id", name=op.f("uq_prices_lot_id")),
    )
    op.create_index(
        "ix_prices_product_grade_observed", "prices", ["product", "grade", "observed_at"]
    )
    op.create_table(
        "price_feed_state",
        sa.Column("name", sa.String(40), nullable=False),
        sa.Column("last_ok_at", bot.models.UtcDateTime(), nullable=True),
        sa.Column("failing_since", bot.models.UtcDateTime(), nullable=True),
        sa.Column("failures", sa.Integer(), server_default="0", nullable=False),
        sa.Column("last_error", sa.String(500), nullable=True),
        sa.Column("next_attempt_at", bot.models.UtcDateTime(), nullable=True),
        sa.Column("outage_told", sa.Boolean(), server_default="0", nullable=False),
        sa.PrimaryKeyConstraint("name", name=op.f("pk_price_feed_state")),
    )
    op.create_table(
        "price_pushes",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(20), nullable=False),
        sa.Column("day", sa.Date(), nullable=True),
        sa.Column("price_id", sa.Integer(), nullable=True),
        sa.Column("pushed_at", bot.models.UtcDateTime(), nullable=False),
        sa.Column("recipients", sa.Integer(), server_default="0", nullable=False),
        sa.Column("details", sa.JSON(), nullable=False),
        sa.ForeignKeyConstraint(
            ["price_id"], ["prices.id"], name=op.f("fk_price_pushes_price_id_prices")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_price_pushes")),
        sa.UniqueConstraint("kind", "day", name="uq_price_pushes_kind_day"),
    )


def downgrade() -> None:
    op.drop_table("price_pushes")
    op.drop_table("price_feed_state")
    op.drop_index("ix_prices_product_grade_observed", table_name="prices")
    op.drop_table("prices")
    with op.batch_alter_table("users") as batch:
        batch.drop_column("price_digest")
