"""newsletter sign-ups: consented addresses forwarded by portal nodes (issue 6)

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-01
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "newsletter_signups",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("site_id", sa.String(length=64), nullable=False),
        sa.Column("email", sa.String(length=254), nullable=False),
        sa.Column("language", sa.String(length=8), nullable=False),
        sa.Column("terms_version", sa.String(length=40), nullable=False),
        sa.Column("consented_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("received_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("source_device_id", sa.String(length=64), nullable=True),
        sa.ForeignKeyConstraint(
            ["site_id"], ["sites.id"], name=op.f("fk_newsletter_signups_site_id_sites")
        ),
        sa.ForeignKeyConstraint(
            ["source_device_id"],
            ["devices.id"],
            name=op.f("fk_newsletter_signups_source_device_id_devices"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_newsletter_signups")),
        sa.UniqueConstraint("site_id", "email", name=op.f("uq_newsletter_signups_site_id")),
    )
    with op.batch_alter_table("newsletter_signups", schema=None) as batch_op:
        batch_op.create_index(
            "ix_newsletter_signups_device_received",
            ["source_device_id", "received_at"],
            unique=False,
        )


def downgrade() -> None:
    with op.batch_alter_table("newsletter_signups", schema=None) as batch_op:
        batch_op.drop_index("ix_newsletter_signups_device_received")
    op.drop_table("newsletter_signups")
