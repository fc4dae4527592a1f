"""screens' rotation and power schedule (issue 18); renditions per canvas size

Revision ID: 0021
Revises: 0023
Create Date: 2026-12-03
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0021"
down_revision = "0023"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # 0 and "always": landscape and on around the clock, as every screen was before. Plain
    # ADD COLUMN: no rebuild of `devices` (on SQLite that would cascade to its references).
    op.add_column(
        "devices", sa.Column("rotation_deg", sa.Integer(), nullable=False, server_default="0")
    )
    op.add_column(
        "devices",
        sa.Column("power_mode", sa.String(length=16), nullable=False, server_default="always"),
    )
    op.add_column(
        "devices", sa.Column("power_hours", sa.JSON(), nullable=False, server_default="[]")
    )
    # A portrait screen of a landscape profile needs its own rendition of each picture.
    with op.batch_alter_table("renditions", schema=None) as batch_op:
        batch_op.drop_constraint("uq_renditions_media_id", type_="unique")
        batch_op.create_unique_constraint(
            "uq_renditions_media_id",
            ["media_id", "profile_id", "fit", "background", "width_px", "height_px"],
        )


def downgrade() -> None:
    with op.batch_alter_table("renditions", schema=None) as batch_op:
        batch_op.drop_constraint("uq_renditions_media_id", type_="unique")
        batch_op.create_unique_constraint(
            "uq_renditions_media_id", ["media_id", "profile_id", "fit", "background"]
        )
    # Plain DROP COLUMN (SQLite 3.35+): rebuilding `devices` would cascade-delete every
    # row that refers to a device (manifests, group members) on SQLite.
    for column in ("power_hours", "power_mode", "rotation_deg"):
        op.drop_column("devices", column)
