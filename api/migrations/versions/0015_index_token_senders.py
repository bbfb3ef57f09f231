"""index token senders: the read model now files EuroToken `Transfer` events under their sender

The tables are a cache of the chain; emptying them makes the gateway index every event anew, with
the sender of each transfer in `account`, so a client's spending is read by account instead of by a
scan of every event.

Revision ID: 0015
Revises: 0014
Create Date: 2026-12-06 02:10:00
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0015"
down_revision: str | None = "0014"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.execute("DELETE FROM chain_events")
    op.execute("DELETE FROM indexed_blocks")


def downgrade() -> None:
    op.execute("DELETE FROM chain_events")
    op.execute("DELETE FROM indexed_blocks")
