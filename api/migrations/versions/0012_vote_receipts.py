"""vote receipts (a hash of each receipt code's secret, the ballot's round and transaction) and the
program a round lets its clients propose for, and claim programs' own names

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-05 03:20:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0012"
down_revision: str | None = "0011"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "vote_receipts",
        sa.Column("lookup", sa.String(length=64), nullable=False),
        sa.Column("round_id", sa.BigInteger(), nullable=False),
        sa.Column("transaction_hash", sa.String(length=66), nullable=False),
        sa.Column("binding", sa.String(length=64), nullable=False),
        sa.Column("checked", sa.Boolean(), nullable=False),
        sa.PrimaryKeyConstraint("lookup"),
    )
    op.create_index("ix_vote_receipts_round_id", "vote_receipts", ["round_id"])
    with op.batch_alter_table("budget_rounds") as batch:
        batch.add_column(sa.Column("client_program_id", sa.BigInteger(), nullable=True))
    op.create_table(
        "claim_program_names",
        sa.Column("claim_program_id", sa.BigInteger(), autoincrement=False, nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.PrimaryKeyConstraint("claim_program_id"),
    )


def downgrade() -> None:
    op.drop_table("claim_program_names")
    with op.batch_alter_table("budget_rounds") as batch:
        batch.drop_column("client_program_id")
    op.drop_index("ix_vote_receipts_round_id", table_name="vote_receipts")
    op.drop_table("vote_receipts")
