"""video probe: each video's length, codec and frame rate from ffprobe (issue 18)

Revision ID: 0020
Revises: 0017
Create Date: 2026-12-03
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0020"
down_revision = "0017"
branch_labels = None
depends_on = None

_COLUMNS = ("duration_s", "video_codec", "frame_rate")


def upgrade() -> None:
    # NULL for images, and for videos uploaded before uploads were probed.
    with op.batch_alter_table("media_assets") as batch:
        batch.add_column(sa.Column("duration_s", sa.Float(), nullable=True))
        batch.add_column(sa.Column("video_codec", sa.String(length=32), nullable=True))
        batch.add_column(sa.Column("frame_rate", sa.Float(), nullable=True))


def downgrade() -> None:
    # Plain DROP COLUMN (as r0007): batch mode would rebuild a table others refer to.
    for column in _COLUMNS:
        op.drop_column("media_assets", column)
