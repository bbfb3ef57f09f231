"""entitlements of clients in claim programs

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-22 00:35:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "entitlements",
        sa.Column("claim_program_id", sa.BigInteger(), nullable=False),
        sa.Column("leaf_index", sa.BigInteger(), nullable=False),
        sa.Column("client_id", sa.String(length=32), nullable=False),
        sa.Column("root_id", sa.Integer(), nullable=False),
        sa.Column("claim_address", sa.String(length=42), nullable=False),
        sa.Column("amount", sa.BigInteger(), nullable=False),
        sa.ForeignKeyConstraint(["client_id"], ["clients.id"]),
        sa.PrimaryKeyConstraint("claim_program_id", "leaf_index"),
    )
    op.create_index("ix_entitlements_client_id", "entitlements", ["client_id"])


def downgrade() -> None:
    op.drop_index("ix_entitlements_client_id", table_name="entitlements")
    op.drop_table("entitlements")
