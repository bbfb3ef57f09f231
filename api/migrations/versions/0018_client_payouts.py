"""client payouts: a client's cash paid out to their own IBAN (sealed under the client's data key)

Revision ID: 0018
Revises: 0017
Create Date: 2026-12-06 03:05:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0018"
down_revision: str | None = "0017"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "client_payouts",
        sa.Column("payout_id", sa.BigInteger(), autoincrement=False, nullable=False),
        sa.Column("client_id", sa.String(length=32), nullable=True),
        sa.Column("ngo_id", sa.String(length=32), nullable=False),
        sa.Column("request", sa.String(length=64), nullable=False),
        sa.Column("leg", sa.Integer(), nullable=False),
        sa.Column("reference", sa.String(length=64), nullable=False),
        sa.Column("amount", sa.BigInteger(), nullable=False),
        sa.Column("iban_sealed", sa.LargeBinary(), nullable=True),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(["client_id"], ["clients.id"]),
        sa.ForeignKeyConstraint(["ngo_id"], ["organisations.id"]),
        sa.PrimaryKeyConstraint("payout_id"),
        sa.UniqueConstraint("reference"),
    )
    op.create_index("ix_client_payouts_client_id", "client_payouts", ["client_id"])
    op.create_index("ix_client_payouts_request", "client_payouts", ["request"])


def downgrade() -> None:
    op.drop_index("ix_client_payouts_request", table_name="client_payouts")
    op.drop_index("ix_client_payouts_client_id", table_name="client_payouts")
    op.drop_table("client_payouts")
