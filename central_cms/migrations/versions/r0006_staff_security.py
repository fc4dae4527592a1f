"""staff security (issue 13): server-side sessions, per-user and per-address login
failures, the sites' self-approval setting, and the assets each manifest names

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-02
"""

from __future__ import annotations

import json

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "staff_sessions",
        sa.Column("id", sa.String(length=64), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["user_id"],
            ["users.id"],
            name=op.f("fk_staff_sessions_user_id_users"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_staff_sessions")),
    )
    with op.batch_alter_table("staff_sessions", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_staff_sessions_user_id"), ["user_id"], unique=False)

    # Failed logins are only kept 15 minutes: start the new shape empty.
    with op.batch_alter_table("login_attempts", schema=None) as batch_op:
        batch_op.drop_index("ix_login_attempts_key_at")
    op.drop_table("login_attempts")
    op.create_table(
        "login_attempts",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("username", sa.String(length=100), nullable=False),
        sa.Column("address", sa.String(length=64), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_login_attempts")),
    )
    with op.batch_alter_table("login_attempts", schema=None) as batch_op:
        batch_op.create_index("ix_login_attempts_username_at", ["username", "at"], unique=False)
        batch_op.create_index("ix_login_attempts_address_at", ["address", "at"], unique=False)

    # Plain ALTER TABLE ... ADD COLUMN: recreating `sites` on SQLite (batch mode) would
    # trip the foreign keys that point at it.
    op.add_column(
        "sites",
        sa.Column("allow_self_approval", sa.Boolean(), nullable=False, server_default=sa.false()),
    )
    op.add_column(
        "manifest_states",
        sa.Column("asset_sha256s", sa.JSON(), nullable=False, server_default="[]"),
    )
    op.add_column(
        "manifest_states",
        sa.Column("previous_asset_sha256s", sa.JSON(), nullable=False, server_default="[]"),
    )
    # Devices keep fetching what their last published manifest names.
    states = sa.table(
        "manifest_states",
        sa.column("device_id", sa.String()),
        sa.column("payload", sa.LargeBinary()),
        sa.column("asset_sha256s", sa.JSON()),
    )
    connection = op.get_bind()
    rows = connection.execute(
        sa.select(states.c.device_id, states.c.payload).where(states.c.payload.is_not(None))
    ).all()
    for device_id, payload in rows:
        assets = json.loads(payload).get("assets", [])
        connection.execute(
            states.update()
            .where(states.c.device_id == device_id)
            .values(asset_sha256s=sorted({a["sha256"] for a in assets}))
        )


def downgrade() -> None:
    # Plain ALTER TABLE ... DROP COLUMN (SQLite 3.35+), as in upgrade.
    op.drop_column("manifest_states", "previous_asset_sha256s")
    op.drop_column("manifest_states", "asset_sha256s")
    op.drop_column("sites", "allow_self_approval")
    with op.batch_alter_table("login_attempts", schema=None) as batch_op:
        batch_op.drop_index("ix_login_attempts_address_at")
        batch_op.drop_index("ix_login_attempts_username_at")
    op.drop_table("login_attempts")
    op.create_table(
        "login_attempts",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("key", sa.String(length=200), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_login_attempts")),
    )
    with op.batch_alter_table("login_attempts", schema=None) as batch_op:
        batch_op.create_index("ix_login_attempts_key_at", ["key", "at"], unique=False)
    with op.batch_alter_table("staff_sessions", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_staff_sessions_user_id"))
    op.drop_table("staff_sessions")
