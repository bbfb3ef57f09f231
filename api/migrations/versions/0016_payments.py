"""payments: a provider's payment requests at the counter, their legs (indexed by account) and refunds

Revision ID: 0016
Revises: 0015
Create Date: 2026-12-06 02:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0016"
down_revision: str | None = "0015"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "payments",
        sa.Column("id", sa.String(length=32), nullable=False),
        sa.Column("code", sa.String(length=16), nullable=False),
        sa.Column("provider_id", sa.String(length=32), nullable=False),
        sa.Column("amount", sa.BigInteger(), nullable=False),
        sa.Column("note", sa.String(length=200), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("legs", sa.JSON(), nullable=True),
        sa.Column("requested_by", sa.String(length=32), nullable=True),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("paid_at", sa.DateTime(), nullable=True),
        sa.Column("refunded_at", sa.DateTime(), nullable=True),
        sa.ForeignKeyConstraint(["provider_id"], ["organisations.id"]),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("code"),
    )
    op.create_index("ix_payments_provider_paid", "payments", ["provider_id", "paid_at"])
    op.create_table(
        "payment_legs",
        sa.Column("payment_id", sa.String(length=32), nullable=False),
        sa.Column("leg_index", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("account", sa.String(length=42), nullable=False),
        sa.ForeignKeyConstraint(["payment_id"], ["payments.id"]),
        sa.PrimaryKeyConstraint("payment_id", "leg_index"),
    )
    op.create_index("ix_payment_legs_account", "payment_legs", ["account"])


def downgrade() -> None:
    op.drop_index("ix_payment_legs_account", table_name="payment_legs")
    op.drop_table("payment_legs")
    op.drop_index("ix_payments_provider_paid", table_name="payments")
    op.drop_table("payments")
