"""entitlements may outlive the link to their client (erasure)

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-22 03:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0006"
down_revision: str | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("entitlements") as batch:
        batch.alter_column("client_id", existing_type=sa.String(length=32), nullable=True)


def downgrade() -> None:
    with op.batch_alter_table("entitlements") as batch:
        batch.alter_column("client_id", existing_type=sa.String(length=32), nullable=False)
