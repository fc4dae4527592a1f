"""software releases, release channels and the groups following them (issue 18)

Revision ID: 0023
Revises: 0014
Create Date: 2026-12-03
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0023"
down_revision = "0014"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "software_releases",
        sa.Column("version", sa.String(length=40), nullable=False),
        sa.Column("wheel_sha256", sa.String(length=64), nullable=False),
        sa.Column("size_bytes", sa.Integer(), nullable=False),
        sa.Column("notes", sa.String(length=200), nullable=False),
        sa.Column("uploaded_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("uploaded_by", sa.String(length=200), nullable=False),
        sa.PrimaryKeyConstraint("version", name=op.f("pk_software_releases")),
    )
    op.create_table(
        "release_channels",
        sa.Column("name", sa.String(length=64), nullable=False),
        sa.Column("release_version", sa.String(length=40), nullable=False),
        sa.Column("pilots", sa.JSON(), nullable=False),
        sa.Column("percent", sa.Integer(), nullable=False),
        sa.Column("stage", sa.String(length=16), nullable=False),
        sa.Column("halted_reason", sa.Text(), nullable=True),
        sa.Column("published_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["release_version"],
            ["software_releases.version"],
            name=op.f("fk_release_channels_release_version_software_releases"),
            ondelete="RESTRICT",
        ),
        sa.PrimaryKeyConstraint("name", name=op.f("pk_release_channels")),
    )
    op.create_table(
        "device_group_channels",
        sa.Column("group_id", sa.String(length=64), nullable=False),
        sa.Column("channel", sa.String(length=64), nullable=False),
        sa.ForeignKeyConstraint(
            ["group_id"],
            ["device_groups.id"],
            name=op.f("fk_device_group_channels_group_id_device_groups"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("group_id", name=op.f("pk_device_group_channels")),
    )
    with op.batch_alter_table("device_group_channels", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_device_group_channels_channel"), ["channel"], unique=False
        )


def downgrade() -> None:
    op.drop_table("device_group_channels")
    op.drop_table("release_channels")
    op.drop_table("software_releases")
