"""share of voice: a campaign's guaranteed seconds of every clock hour (issue 14)

Revision ID: 0011
Revises: 0008
Create Date: 2026-12-02
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("campaigns", schema=None) as batch_op:
        # NULL: no guarantee, as every campaign had before.
        batch_op.add_column(sa.Column("share_s_per_hour", sa.Integer(), nullable=True))


def downgrade() -> None:
    op.drop_column("campaigns", "share_s_per_hour")
