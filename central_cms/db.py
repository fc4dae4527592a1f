"""Engine, per-request sessions and migrations.

One engine per app (no module-level state). Views get a session with `session()`; it is
closed at the end of the request. `migrate(engine)` upgrades to Alembic head under a
PostgreSQL advisory lock, so several CMS processes starting together do not race.
"""

from __future__ import annotations

import logging
from pathlib import Path

from alembic import command
from alembic.config import Config as AlembicConfig
from flask import Flask, g
from sqlalchemy import Engine, create_engine, event, text
from sqlalchemy.orm import Session, sessionmaker

from central_cms.runtime import Database, parts

log = logging.getLogger(__name__)

MIGRATIONS = Path(__file__).parent / "migrations"
_ADVISORY_LOCK_ID = 0x44530001  # "DS" + 1: only the CMS migration takes it


def make_engine(url: str) -> Engine:
    if url.startswith("sqlite"):
        engine = create_engine(url, connect_args={"check_same_thread": False, "timeout": 30})

        @event.listens_for(engine, "connect")
        def _pragmas(dbapi_connection, _record):  # type: ignore[no-untyped-def]
            cursor = dbapi_connection.cursor()
            cursor.execute("PRAGMA foreign_keys=ON")
            cursor.execute("PRAGMA journal_mode=WAL")
            cursor.close()

        return engine
    return create_engine(url, pool_pre_ping=True)


def alembic_config() -> AlembicConfig:
    config = AlembicConfig()
    config.set_main_option("script_location", str(MIGRATIONS))
    return config


def migrate(engine: Engine) -> None:
    """Upgrade the database to the newest schema."""
    config = alembic_config()
    with engine.begin() as connection:
        if connection.dialect.name == "postgresql":
            connection.execute(text("SELECT pg_advisory_xact_lock(:id)"), {"id": _ADVISORY_LOCK_ID})
        config.attributes["connection"] = connection
        command.upgrade(config, "head")


def init_app(app: Flask, database_url: str) -> Database:
    """The database for `app` (the factory keeps it in the app's parts), with each
    request's session closed at teardown."""
    engine = make_engine(database_url)
    database = Database(engine, sessionmaker(engine, expire_on_commit=False))

    @app.teardown_appcontext
    def _close(_error: BaseException | None) -> None:
        db_session: Session | None = g.pop("ds_session", None)
        if db_session is not None:
            db_session.close()

    return database


def database(app: Flask | None = None) -> Database:
    return parts(app).database


def session() -> Session:
    """The request's session (created on first use, closed at teardown)."""
    if "ds_session" not in g:
        g.ds_session = database().sessions()
    db_session: Session = g.ds_session
    return db_session
