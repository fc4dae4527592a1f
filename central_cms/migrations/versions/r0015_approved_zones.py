"""approved zones: an approved version keeps the playlists its zones played, as approved

Revision ID: 0015
Revises: 0021
Create Date: 2026-12-03
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0015"
down_revision = "0021"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # NULL: kept before 0015; the campaign's zone rows play (central_cms/approved_versions.py).
    with op.batch_alter_table("campaign_approved_versions") as batch:
        batch.add_column(sa.Column("zones", sa.JSON(), nullable=True))


def downgrade() -> None:
    op.drop_column("campaign_approved_versions", "zones")
