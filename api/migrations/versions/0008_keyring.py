"""keyring: keys sealed under the master key that outlive its rotation

Downgrading below this revision after a master-key rotation drops the lookup-tag key kept here:
API keys, voucher codes and duplicate detection would then stop matching.

Revision ID: 0008
Revises: 0007
Create Date: 2026-11-23 00:20:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0008"
down_revision: str | None = "0007"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "keyring",
        sa.Column("name", sa.String(length=40), nullable=False),
        sa.Column("sealed", sa.LargeBinary(), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.PrimaryKeyConstraint("name"),
    )


def downgrade() -> None:
    op.drop_table("keyring")
