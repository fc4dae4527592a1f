"""page indexes: the staff lists page by indexed orders at a large city's scale (issue 17)

Revision ID: 0017
Revises: 0015
Create Date: 2026-12-03
"""

from __future__ import annotations

from alembic import op

revision = "0017"
down_revision = "0015"
branch_labels = None
depends_on = None

INDEXES = (
    ("ix_devices_site_id_id", "devices", ["site_id", "id"]),
    ("ix_devices_kind_site_id", "devices", ["kind", "site_id"]),
    ("ix_campaigns_updated_at_id", "campaigns", ["updated_at", "id"]),
    ("ix_campaigns_status_updated_at_id", "campaigns", ["status", "updated_at", "id"]),
    ("ix_audit_log_entity_id_id", "audit_log", ["entity_id", "id"]),
)


def upgrade() -> None:
    for name, table, columns in INDEXES:
        op.create_index(name, table, columns)


def downgrade() -> None:
    for name, table, _ in INDEXES:
        op.drop_index(name, table_name=table)
