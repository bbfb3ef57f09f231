"""the read model: decoded events in indexed tables, and the blocks indexed up to

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-04 19:20:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0010"
down_revision: str | None = "0009"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "chain_events",
        sa.Column("block_number", sa.BigInteger(), nullable=False),
        sa.Column("log_index", sa.Integer(), nullable=False),
        sa.Column("transaction_hash", sa.String(length=66), nullable=False),
        sa.Column("contract", sa.String(length=40), nullable=False),
        sa.Column("address", sa.String(length=42), nullable=False),
        sa.Column("name", sa.String(length=64), nullable=False),
        sa.Column("account", sa.String(length=42), nullable=True),
        sa.Column("round_id", sa.BigInteger(), nullable=True),
        sa.Column("program_id", sa.BigInteger(), nullable=True),
        sa.Column("lot_id", sa.BigInteger(), nullable=True),
        sa.Column("args", sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint("block_number", "log_index"),
    )
    op.create_index("ix_chain_events_account", "chain_events", ["account", "name"])
    op.create_index("ix_chain_events_round", "chain_events", ["round_id", "contract"])
    op.create_index("ix_chain_events_program", "chain_events", ["program_id", "contract"])
    op.create_index("ix_chain_events_lot", "chain_events", ["lot_id"])
    op.create_index("ix_chain_events_transaction", "chain_events", ["transaction_hash"])
    op.create_index("ix_chain_events_name", "chain_events", ["name", "contract"])
    op.create_table(
        "indexed_blocks",
        sa.Column("number", sa.BigInteger(), nullable=False),
        sa.Column("hash", sa.String(length=66), nullable=False),
        sa.PrimaryKeyConstraint("number"),
    )


def downgrade() -> None:
    op.drop_table("indexed_blocks")
    op.drop_table("chain_events")
