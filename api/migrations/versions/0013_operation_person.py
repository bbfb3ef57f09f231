"""the person of an organisation who caused each relayed operation (None: an integration key or
the gateway itself)

Revision ID: 0013
Revises: 0012
Create Date: 2026-12-05 07:30:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0013"
down_revision: str | None = "0012"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("operations") as batch:
        batch.add_column(sa.Column("person_id", sa.String(length=32), nullable=True))
        batch.create_index("ix_operations_person_id", ["person_id"])


def downgrade() -> None:
    with op.batch_alter_table("operations") as batch:
        batch.drop_index("ix_operations_person_id")
        batch.drop_column("person_id")
