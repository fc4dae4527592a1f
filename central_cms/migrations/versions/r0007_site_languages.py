"""site languages: which of the portal's languages each site's splash offers (issue 13)

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-02
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # NULL: every shipped language (central_cms/models.py Site.languages).
    with op.batch_alter_table("sites") as batch:
        batch.add_column(sa.Column("languages", sa.JSON(), nullable=True))


def downgrade() -> None:
    # Plain ALTER TABLE ... DROP COLUMN (SQLite 3.35+): batch mode would rebuild `sites`,
    # which other tables' foreign keys refuse on a database with data.
    op.drop_column("sites", "languages")
