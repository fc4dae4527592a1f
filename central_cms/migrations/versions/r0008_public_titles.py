"""public titles: what visitors see, apart from the staff name (issue 13 point 17)

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-02
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None

_TABLES = ("campaigns", "campaign_items")


def upgrade() -> None:
    for table in _TABLES:
        with op.batch_alter_table(table, schema=None) as batch_op:
            # Existing rows get an empty title: the portal then shows no heading rather
            # than the staff name.
            batch_op.add_column(
                sa.Column("public_title", sa.String(length=200), nullable=False, server_default="")
            )
            batch_op.add_column(
                sa.Column(
                    "public_title_translations",
                    sa.JSON(),
                    nullable=False,
                    server_default=sa.text("'{}'"),
                )
            )


def downgrade() -> None:
    # Plain ALTER TABLE ... DROP COLUMN (SQLite 3.35+): batch mode would rebuild the
    # tables, which their foreign keys refuse on a database with data.
    for table in _TABLES:
        op.drop_column(table, "public_title_translations")
        op.drop_column(table, "public_title")
