"""idempotency records name the request key their operations carry (erasure finds them)

Revision ID: 0009
Revises: 0008
Create Date: 2026-11-22 03:20:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0009"
down_revision: str | None = "0008"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("idempotency") as batch:
        batch.add_column(sa.Column("request_key", sa.String(length=64), nullable=True))
        batch.create_index("ix_idempotency_request_key", ["request_key"])


def downgrade() -> None:
    with op.batch_alter_table("idempotency") as batch:
        batch.drop_index("ix_idempotency_request_key")
        batch.drop_column("request_key")
