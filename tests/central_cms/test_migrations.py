"""The Alembic migrations build exactly the models' schema, on SQLite and PostgreSQL."""

from __future__ import annotations

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext

import central_cms.feeds.models  # noqa: F401  (registers the feeds table on Base)
from central_cms import db as cms_db
from central_cms.models import Base


def test_models_and_migrations_agree(db):
    engine = cms_db.make_engine(db)
    cms_db.migrate(engine)
    with engine.connect() as connection:
        context = MigrationContext.configure(connection, opts={"compare_type": True})
        diff = compare_metadata(context, Base.metadata)
    engine.dispose()
    # Other parts of the CMS may add their own tables to Base later with their own
    # migration; only differences in our tables count here.
    ours = set(Base.metadata.tables)
    assert [d for d in diff if _table_of(d) in ours] == []


def test_migrating_twice_is_harmless(db):
    engine = cms_db.make_engine(db)
    cms_db.migrate(engine)
    cms_db.migrate(engine)
    engine.dispose()


def _table_of(change) -> str | None:
    item = change[0] if isinstance(change, list) else change
    for part in item[1:]:
        name = getattr(part, "name", None)
        table = getattr(part, "table", None)
        if table is not None:
            return str(table.name)
        if name is not None and hasattr(part, "columns"):
            return str(name)
        if isinstance(part, str):
            return part
    return None
