"""budget rounds: texts, voter rolls (pseudonyms only) and proposal texts

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-23 10:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "budget_rounds",
        sa.Column("round_id", sa.BigInteger(), autoincrement=False, nullable=False),
        sa.Column("ngo_id", sa.String(length=32), nullable=False),
        sa.Column("title", sa.String(length=200), nullable=False),
        sa.Column("description", sa.String(length=4000), nullable=False),
        sa.Column("pseudonym_round", sa.BigInteger(), nullable=False),
        sa.Column("credits", sa.BigInteger(), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(["ngo_id"], ["organisations.id"]),
        sa.PrimaryKeyConstraint("round_id"),
    )
    op.create_index("ix_budget_rounds_ngo_id", "budget_rounds", ["ngo_id"])
    op.create_table(
        "budget_round_voters",
        sa.Column("round_id", sa.BigInteger(), autoincrement=False, nullable=False),
        sa.Column("leaf_index", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("address", sa.String(length=42), nullable=False),
        sa.PrimaryKeyConstraint("round_id", "leaf_index"),
    )
    op.create_table(
        "budget_proposals",
        sa.Column("round_id", sa.BigInteger(), autoincrement=False, nullable=False),
        sa.Column("proposal_id", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("organisation_id", sa.String(length=32), nullable=False),
        sa.Column("title", sa.String(length=200), nullable=False),
        sa.Column("description", sa.String(length=4000), nullable=False),
        sa.ForeignKeyConstraint(["organisation_id"], ["organisations.id"]),
        sa.PrimaryKeyConstraint("round_id", "proposal_id"),
    )


def downgrade() -> None:
    op.drop_table("budget_proposals")
    op.drop_table("budget_round_voters")
    op.drop_index("ix_budget_rounds_ngo_id", table_name="budget_rounds")
    op.drop_table("budget_rounds")
