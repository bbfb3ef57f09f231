"""client recovery and public root

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-22 00:10:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("clients") as batch:
        batch.add_column(sa.Column("recovery_sealed", sa.LargeBinary(), nullable=True))
        batch.add_column(sa.Column("public_root_sealed", sa.LargeBinary(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("clients") as batch:
        batch.drop_column("public_root_sealed")
        batch.drop_column("recovery_sealed")
