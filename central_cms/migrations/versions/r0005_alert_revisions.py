"""alert revisions: every alert message is stamped with a higher revision per scope (issue 13)

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-02
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "alert_scopes",
        sa.Column("scope", sa.String(length=64), nullable=False),
        sa.Column("revision", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("scope", name=op.f("pk_alert_scopes")),
    )
    with op.batch_alter_table("alerts", schema=None) as batch_op:
        # Alerts sent before revisions existed: 0, older than any message stamped now.
        batch_op.add_column(
            sa.Column("revision", sa.BigInteger(), nullable=False, server_default="0")
        )


def downgrade() -> None:
    op.drop_column("alerts", "revision")  # plain DROP COLUMN (SQLite 3.35+), no table rebuild
    op.drop_table("alert_scopes")
