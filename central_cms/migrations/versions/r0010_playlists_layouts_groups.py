"""playlists, layouts per campaign, zones, device groups (issue 14)

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-02
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "playlists",
        sa.Column("id", sa.String(length=64), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("owner_site_id", sa.String(length=64), nullable=False),
        sa.Column("updated_by", sa.String(length=100), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["owner_site_id"], ["sites.id"], name=op.f("fk_playlists_owner_site_id_sites")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_playlists")),
    )
    op.create_index(op.f("ix_playlists_owner_site_id"), "playlists", ["owner_site_id"])
    op.create_table(
        "playlist_items",
        sa.Column("id", sa.String(length=64), nullable=False),
        sa.Column("playlist_id", sa.String(length=64), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("media_id", sa.Integer(), nullable=True),
        sa.Column("text", sa.JSON(), nullable=True),
        sa.Column("widget", sa.JSON(), nullable=True),
        sa.Column("alt_text", sa.String(length=200), nullable=False),
        sa.Column("duration_s", sa.Float(), nullable=False),
        sa.Column("fit", sa.String(length=16), nullable=False),
        sa.Column("valid_from", sa.Date(), nullable=True),
        sa.Column("valid_until", sa.Date(), nullable=True),
        sa.ForeignKeyConstraint(
            ["media_id"], ["media_assets.id"], name=op.f("fk_playlist_items_media_id_media_assets")
        ),
        sa.ForeignKeyConstraint(
            ["playlist_id"],
            ["playlists.id"],
            name=op.f("fk_playlist_items_playlist_id_playlists"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_playlist_items")),
    )
    op.create_index(op.f("ix_playlist_items_playlist_id"), "playlist_items", ["playlist_id"])
    op.create_table(
        "campaign_zones",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("campaign_id", sa.String(length=64), nullable=False),
        sa.Column("zone", sa.String(length=64), nullable=False),
        sa.Column("playlist_id", sa.String(length=64), nullable=False),
        sa.ForeignKeyConstraint(
            ["campaign_id"],
            ["campaigns.id"],
            name=op.f("fk_campaign_zones_campaign_id_campaigns"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["playlist_id"], ["playlists.id"], name=op.f("fk_campaign_zones_playlist_id_playlists")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_campaign_zones")),
        sa.UniqueConstraint("campaign_id", "zone", name=op.f("uq_campaign_zones_campaign_id")),
    )
    op.create_index(op.f("ix_campaign_zones_campaign_id"), "campaign_zones", ["campaign_id"])
    op.create_index(op.f("ix_campaign_zones_playlist_id"), "campaign_zones", ["playlist_id"])
    op.create_table(
        "device_groups",
        sa.Column("id", sa.String(length=64), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_device_groups")),
        sa.UniqueConstraint("name", name=op.f("uq_device_groups_name")),
    )
    op.create_table(
        "device_group_members",
        sa.Column("group_id", sa.String(length=64), nullable=False),
        sa.Column("device_id", sa.String(length=64), nullable=False),
        sa.ForeignKeyConstraint(
            ["device_id"],
            ["devices.id"],
            name=op.f("fk_device_group_members_device_id_devices"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["group_id"],
            ["device_groups.id"],
            name=op.f("fk_device_group_members_group_id_device_groups"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("group_id", "device_id", name=op.f("pk_device_group_members")),
    )
    op.create_index(
        op.f("ix_device_group_members_device_id"), "device_group_members", ["device_id"]
    )
    with op.batch_alter_table("campaigns", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("layouts", sa.JSON(), nullable=False, server_default=sa.text("'{}'"))
        )
    with op.batch_alter_table("campaign_items", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("zone", sa.String(length=64), nullable=False, server_default="main")
        )


def downgrade() -> None:
    # Plain DROP COLUMN / DROP TABLE: batch mode would rebuild the tables, which their
    # foreign keys refuse on a database with data.
    op.drop_column("campaign_items", "zone")
    op.drop_column("campaigns", "layouts")
    for table in (
        "device_group_members",
        "device_groups",
        "campaign_zones",
        "playlist_items",
        "playlists",
    ):
        op.drop_table(table)
