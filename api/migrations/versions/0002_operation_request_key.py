"""operations: the idempotent request that caused each; failed nonces may be signed again

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-22 00:10:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# 0001 left the unique constraint unnamed; SQLite's batch mode names it by this convention to drop it
NAMING = {"uq": "uq_%(table_name)s_%(column_0_name)s"}
LIVE = sa.text("status != 'failed'")


def _signer_nonce_constraint() -> str | None:
    for unique in sa.inspect(op.get_bind()).get_unique_constraints("operations"):
        if unique["column_names"] == ["signer", "forward_nonce"]:
            return unique["name"] or "uq_operations_signer"
    return None


def upgrade() -> None:
    constraint = _signer_nonce_constraint()
    with op.batch_alter_table("operations", naming_convention=NAMING) as batch_op:
        if constraint is not None:
            batch_op.drop_constraint(constraint, type_="unique")
        batch_op.add_column(sa.Column("request_key", sa.String(length=64), nullable=True))
        batch_op.create_index("ix_operations_request_key", ["request_key"], unique=False)
        batch_op.create_index(
            "uq_operations_live_nonce",
            ["signer", "forward_nonce"],
            unique=True,
            sqlite_where=LIVE,
            postgresql_where=LIVE,
        )


def downgrade() -> None:
    with op.batch_alter_table("operations", naming_convention=NAMING) as batch_op:
        batch_op.drop_index("uq_operations_live_nonce")
        batch_op.drop_index("ix_operations_request_key")
        batch_op.drop_column("request_key")
        batch_op.create_unique_constraint("uq_operations_signer", ["signer", "forward_nonce"])
